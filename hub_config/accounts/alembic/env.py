"""Alembic environment of the accounts' tables, in the Hub's own database.

:mod:`hub_config.accounts.schema` runs it on a connection it holds (in
``config.attributes["connection"]``); without one, it connects to the configured URL,
which is how a new revision is made::

    from alembic import command
    from hub_config.accounts.schema import alembic_config

    command.revision(alembic_config("sqlite:///dev.sqlite"), "what changes", autogenerate=True)
"""

from alembic import context
from sqlalchemy import engine_from_config, pool

from hub_config.accounts.models import Base
from hub_config.accounts.schema import VERSION_TABLE

config = context.config
target_metadata = Base.metadata


def only_our_tables(name, type_, parent_names):
    # JupyterHub's tables share the database: autogenerate must not offer to drop them
    return type_ != "table" or name in target_metadata.tables


def configure(**kwargs):
    context.configure(
        target_metadata=target_metadata,
        # JupyterHub keeps its own revision in `alembic_version`, in the same database
        version_table=VERSION_TABLE,
        include_name=only_our_tables,
        # SQLite alters a table by copying it: autogenerate writes batch operations
        render_as_batch=True,
        **kwargs,
    )


def run_migrations_offline():
    configure(url=config.get_main_option("sqlalchemy.url"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
