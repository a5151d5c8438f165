"""The accounts' schema under Alembic, beside JupyterHub's own in the same database.

JupyterHub migrates its tables with Alembic too and records its revision in
``alembic_version``; ours is in :data:`VERSION_TABLE`, so neither sees the other's.

At start-up the Hub calls :func:`prepare`. It creates the tables in an empty database and
brings a legacy one (``coursehub_accounts`` made by ``create_all``, before migrations
existed) to head on its own; any other database at another revision than this code's is
refused, like the grader does: an operator backs it up and runs
``coursehub-accounts upgrade-db``, which calls :func:`upgrade`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Connection, Engine

VERSION_TABLE = "coursehub_accounts_alembic_version"
ACCOUNTS_TABLE = "coursehub_accounts"
#: the revision whose schema is that of the tables made before migrations
LEGACY_REVISION = "0001"
LEGACY_COLUMNS = {"id", "username", "password_hash", "email", "created", "approved"}
UPGRADE_COMMAND = "coursehub-accounts upgrade-db"

# any constant other than the grader's: the key of the PostgreSQL advisory lock that
# the accounts' migrations take
MIGRATION_LOCK_KEY = 0x61636374  # "acct"


class SchemaMismatch(RuntimeError):
    """The accounts' tables are not at the schema this code expects."""


def alembic_config(db_url: str) -> AlembicConfig:
    """Alembic's configuration for the accounts, in code: there is no alembic.ini."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(Path(__file__).parent / "alembic"))
    # the config is an INI parser: a literal % (in a password) must be doubled
    config.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str:
    return _scripts().get_current_head()


def _revision_on(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def current_revision(engine: Engine) -> str | None:
    """The accounts' revision in the database; None if it has none (empty or legacy)."""
    with engine.connect() as connection:
        return _revision_on(connection)


def _make_engine(db_url: str) -> Engine:
    # SQLite: wait for the Hub's own writes rather than fail at once
    connect_args = {"timeout": 30} if db_url.startswith("sqlite") else {}
    return create_engine(db_url, connect_args=connect_args)


@contextmanager
def _migration_transaction(db_url: str) -> Iterator[Connection]:
    """A transaction that holds the accounts' migration lock on PostgreSQL.

    Hub replicas starting together on one PostgreSQL database would otherwise all find
    no tables and all create them, and all but one fail: each waits for the lock first,
    then reads the revision, which the one before may have just changed. (A SQLite file
    serves one Hub.)
    """
    engine = _make_engine(db_url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
            yield connection
    finally:
        engine.dispose()


def _run(connection: Connection, alembic_command, revision: str) -> None:
    config = alembic_config(connection.engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    alembic_command(config, revision)


def _stamp_legacy(connection: Connection) -> None:
    """Record that an unversioned ``coursehub_accounts`` is at the legacy revision."""
    extra = {c["name"] for c in inspect(connection).get_columns(ACCOUNTS_TABLE)} - LEGACY_COLUMNS
    if extra:
        # made by create_all from models newer than the legacy table, which no released
        # version did: migrating it would fail half-way on columns that already exist
        raise SchemaMismatch(
            f"{ACCOUNTS_TABLE} has no revision in {VERSION_TABLE} but columns that the "
            f"legacy table did not have ({', '.join(sorted(extra))}): its schema is unknown"
        )
    _run(connection, command.stamp, LEGACY_REVISION)


def _upgrade_on(connection: Connection, revision: str) -> tuple[str | None, str | None]:
    before = _revision_on(connection)
    if before is None and inspect(connection).has_table(ACCOUNTS_TABLE):
        _stamp_legacy(connection)
        before = LEGACY_REVISION
    _run(connection, command.upgrade, revision)
    return before, _revision_on(connection)


def upgrade(db_url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Create the accounts' tables or migrate them to `revision` (``upgrade-db``).

    A legacy table is recorded at revision 0001 first. Returns the revisions before and
    after (before is None for a database without the tables).
    """
    with _migration_transaction(db_url) as connection:
        return _upgrade_on(connection, revision)


def connect(db_url: str) -> Engine:
    """An engine on the accounts' tables, their schema prepared first (:func:`prepare`):
    what every part of the Hub that reads them uses."""
    prepare(db_url)
    return _make_engine(db_url)


def prepare(db_url: str) -> tuple[str | None, str | None]:
    """What the Hub calls at start-up: the accounts' tables at head, or SchemaMismatch.

    An empty database gets the tables, and a legacy one is upgraded: both predate
    migrations, so nobody could have run ``upgrade-db`` on them. A database at an older
    revision is refused (back it up, then run ``coursehub-accounts upgrade-db``), and so
    is one at a revision this code does not know: a newer coursehub migrated it. Returns
    the revisions before and after, as :func:`upgrade` does.
    """
    head = head_revision()
    with _migration_transaction(db_url) as connection:
        current = _revision_on(connection)
        if current is None:
            return _upgrade_on(connection, "head")
        if current == head:
            return current, current
        known = {script.revision for script in _scripts().walk_revisions()}
        if current in known:
            raise SchemaMismatch(
                f"the accounts' schema in the Hub database is at revision {current}, this "
                f"Hub needs {head}: back up the database, then run `{UPGRADE_COMMAND}`"
            )
        raise SchemaMismatch(
            f"the accounts' schema in the Hub database is at revision {current}, which this "
            f"Hub does not know (it needs {head}): this Hub's code is older than the "
            "database; run the coursehub version that upgraded it"
        )
