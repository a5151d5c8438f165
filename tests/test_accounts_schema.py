"""The accounts' migrations, on SQLite and PostgreSQL: what the Hub finds at start-up.

An empty database gets the models' schema; a legacy one (the one table that
``create_all`` made before migrations) is upgraded on its own, its addresses one per
account and its accounts still able to sign in; JupyterHub's own ``alembic_version`` is
never touched; a database at another revision is refused with what to do.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
    select,
    text,
)

from hub_config.accounts import schema
from hub_config.accounts.models import Account, Base
from hub_config.settings import REPO_DIR

HEAD = schema.head_revision()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(db_url):
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def schema_differences(engine) -> list:
    """What alembic would change to make the database's accounts tables the models'."""

    def ours(obj, name, type_, reflected, compare_to):
        # JupyterHub's tables (here its alembic_version) share the database
        return type_ != "table" or name in Base.metadata.tables

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_object": ours, "version_table": schema.VERSION_TABLE},
        )
        return compare_metadata(context, Base.metadata)


def make_jupyterhub_revision(engine, revision="ffff"):
    """JupyterHub's own version table, as the Hub's database has it."""
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        )
        connection.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": revision})


def jupyterhub_revisions(engine) -> list[str]:
    with engine.connect() as connection:
        return connection.scalars(text("SELECT version_num FROM alembic_version")).all()


# the table as `Base.metadata.create_all` made it before migrations (hub_config/accounts.py)
legacy_metadata = MetaData()
legacy_accounts = Table(
    "coursehub_accounts",
    legacy_metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True, index=True),
    Column("password_hash", LargeBinary(128), nullable=False),
    Column("email", String(255), nullable=True),
    Column("created", DateTime, nullable=False),
    Column("approved", Boolean, nullable=False),
)


def test_an_empty_database_gets_the_models_schema(engine, db_url):
    assert schema.prepare(db_url) == (None, HEAD)

    assert schema.current_revision(engine) == HEAD
    assert schema_differences(engine) == []
    foreign_keys = [
        fk
        for table in ("coursehub_email_codes", "coursehub_reset_tokens")
        for fk in inspect(engine).get_foreign_keys(table)
    ]
    assert [fk["options"].get("ondelete") for fk in foreign_keys] == ["CASCADE", "CASCADE"]
    # a second start finds it ready
    assert schema.prepare(db_url) == (HEAD, HEAD)


def test_a_legacy_database_upgrades_itself_and_keeps_its_accounts(engine, db_url):
    legacy_metadata.create_all(engine)
    make_jupyterhub_revision(engine)
    day = datetime.datetime(2026, 9, 1, 8, 30)
    # bob's row comes first but his account is newer than alice's: the address they
    # share (in another case) stays with the older account
    people = [
        ("bob", "ALICE@example.org", 3),
        ("alice", "Alice@Example.org", 0),
        ("carol", "Carol@Example.ORG", 1),
        ("dave", None, 2),
    ]
    with engine.begin() as connection:
        connection.execute(
            legacy_accounts.insert(),
            [
                {"username": name, "email": email, "password_hash": b"$2b$12$legacy",
                 "created": day + datetime.timedelta(days=days_later), "approved": True}
                for name, email, days_later in people
            ],
        )  # fmt: skip

    assert schema.prepare(db_url) == (schema.LEGACY_REVISION, HEAD)

    accounts = Account.__table__
    with engine.connect() as connection:
        rows = connection.execute(select(accounts).order_by(accounts.c.username)).all()
    assert [(row.username, row.email) for row in rows] == [
        ("alice", "alice@example.org"),
        ("bob", None),
        ("carol", "carol@example.org"),
        ("dave", None),
    ]
    # they signed in before addresses were verified: they still can
    assert all(row.email_verified == row.created for row in rows)
    assert not any(row.rejected for row in rows)
    assert all(row.password_changed is None for row in rows)
    assert schema_differences(engine) == []

    tables = set(inspect(engine).get_table_names())
    assert schema.VERSION_TABLE in tables
    assert jupyterhub_revisions(engine) == ["ffff"]


def test_a_newer_database_is_refused_naming_its_revision(engine, db_url):
    schema.prepare(db_url)
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE {schema.VERSION_TABLE} SET version_num = 'a1b2c3'"))

    with pytest.raises(schema.SchemaMismatch) as refused:
        schema.prepare(db_url)
    message = str(refused.value)
    assert "a1b2c3" in message and HEAD in message
    assert "older than the database" in message


def test_an_older_database_is_refused_until_upgrade_db_is_run(engine, db_url):
    make_jupyterhub_revision(engine)
    schema.upgrade(db_url, schema.LEGACY_REVISION)

    with pytest.raises(schema.SchemaMismatch) as refused:
        schema.prepare(db_url)
    message = str(refused.value)
    assert schema.LEGACY_REVISION in message and HEAD in message
    assert "coursehub-accounts upgrade-db" in message
    assert schema.current_revision(engine) == schema.LEGACY_REVISION

    upgraded = subprocess.run(
        [sys.executable, "-m", "hub_config.accounts", "upgrade-db", "--db-url", db_url],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"accounts schema: {schema.LEGACY_REVISION} -> {HEAD}"
    assert schema.prepare(db_url) == (HEAD, HEAD)
    assert jupyterhub_revisions(engine) == ["ffff"]


def test_a_table_of_unknown_shape_is_refused(engine, db_url):
    # create_all from the new models, as no released version did: no revision to stamp
    Base.metadata.create_all(engine)
    with pytest.raises(schema.SchemaMismatch, match="rejected"):
        schema.prepare(db_url)


def test_upgrade_db_defaults_to_the_hubs_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEHUB_")}
    env["COURSEHUB_STATE_DIR"] = str(tmp_path)
    upgraded = subprocess.run(
        [sys.executable, "-m", "hub_config.accounts", "upgrade-db"],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"accounts schema: none -> {HEAD}"
    engine = create_engine(f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}")
    try:
        assert schema.current_revision(engine) == HEAD
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_hub_replicas_starting_together_both_start(postgres_url):
    start = threading.Barrier(2)
    results, errors = [], []

    def start_hub():
        start.wait()
        try:
            results.append(schema.prepare(postgres_url))
        except Exception as e:  # reported below, with the other thread's outcome
            errors.append(e)

    threads = [threading.Thread(target=start_hub) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    # one created the tables; the other waited for the lock and found them at head
    assert sorted(results, key=str) == sorted([(None, HEAD), (HEAD, HEAD)], key=str)
    engine = create_engine(postgres_url)
    try:
        assert schema_differences(engine) == []
    finally:
        engine.dispose()
