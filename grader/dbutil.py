"""Database set-up: engines, sessions, migrations, and the schema check at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

ALEMBIC_INI = Path(__file__).parent / "alembic.ini"


class SchemaMismatch(RuntimeError):
    """The database is not at the schema this code expects: run `upgrade-db`."""


def make_engine(db_url: str, writer: bool = False) -> Engine:
    """An engine; SQLite gets foreign keys, a busy timeout and WAL for concurrent readers.

    A ``writer`` engine is for transactions that read, then write on what they read (the
    queue's claims, a submission against the learner's limits, a result with its scores).
    On SQLite its transactions start with BEGIN IMMEDIATE, taking the write lock first:
    a WAL reader that later writes fails at once ("database is locked", no busy wait)
    when another connection wrote in between, which several grading processes sharing one
    file would hit. PostgreSQL needs nothing: those transactions lock the rows they read.
    """
    if db_url.startswith("sqlite"):
        engine = create_engine(db_url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()
            if writer:
                # SQLAlchemy's recipe: pysqlite must not begin transactions itself
                dbapi_connection.isolation_level = None

        if writer:

            @event.listens_for(engine, "begin")
            def _begin_immediate(connection):
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(db_url, pool_pre_ping=True)


def dialect_insert(db, table):
    """``insert(table)`` of the database's own dialect, for ON CONFLICT (upserts)."""
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - coursehub supports SQLite and PostgreSQL
        raise NotImplementedError(f"upserts on {dialect}")
    return insert(table)


def count_by(db, key, *conditions) -> dict:
    """``{key value: rows}`` of the rows meeting ``conditions``, in one grouped query
    (``key`` a column: ``count_by(db, Module.course_id, Module.course_id.in_(ids))``)."""
    return dict(db.execute(select(key, func.count()).where(*conditions).group_by(key)).all())


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(db_url: str) -> AlembicConfig:
    config = AlembicConfig(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(ALEMBIC_INI.parent / "alembic"))
    config.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


# any constant: the key of the PostgreSQL advisory lock that migrations take
MIGRATION_LOCK_KEY = 0x636F7572  # "cour"


def upgrade(db_url: str, revision: str = "head") -> None:
    """Create the schema or migrate it to `revision` (the `upgrade-db` command).

    Grader replicas starting together on an empty PostgreSQL database would otherwise
    all create the tables at once, and all but one fail: each waits for a transaction-
    scoped advisory lock first, and finds the schema already at head once it has it.
    (Replicas are a PostgreSQL deployment; a SQLite file serves one grader.)
    """
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # SQLite alters a table by copying it and dropping the old one: with
                # foreign keys on, that drop would cascade (delete every question of a
                # rebuilt `modules`). Off for the migration (outside a transaction, or
                # SQLite ignores it), then checked.
                connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
                connection.commit()  # SQLAlchemy's autobegun transaction; SQLite had none
            with connection.begin():
                if not sqlite:
                    connection.exec_driver_sql(
                        f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
                    )
                config = alembic_config(db_url)
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise SchemaMismatch(f"the migration left broken references: {broken[:5]}")
    finally:
        engine.dispose()


def check_schema(engine: Engine) -> None:
    """Refuse to serve a database whose schema is older or newer than this code."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaMismatch(
            f"database schema is at revision {current or 'none'}, this grader needs {head}: "
            "run `coursehub-grader upgrade-db` (back up the database first)"
        )
