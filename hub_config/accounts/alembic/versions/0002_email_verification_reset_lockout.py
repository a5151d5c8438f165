"""email verification, reset, lockout

Accounts get a verified address (one account per address), a rejected state and the
time of their last password change; one-time codes, reset tokens and counted attempts
get tables of their own.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 14:51:49
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

accounts = sa.table(
    "coursehub_accounts",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("created", sa.DateTime),
    sa.column("email_verified", sa.DateTime),
)


def one_account_per_address():
    """Lower-case the addresses, then keep each one on its oldest account only."""
    op.execute(
        accounts.update()
        .where(accounts.c.email.is_not(None))
        .values(email=sa.func.lower(accounts.c.email))
    )
    # Before this revision two accounts could give the same address (in any case). The
    # oldest keeps it; the others lose it rather than the migration failing or an
    # account disappearing: they still sign in (verified below), and can give another.
    older = accounts.alias("older")
    has_older_twin = (
        sa.exists()
        .where(older.c.email == accounts.c.email)
        .where(
            sa.or_(
                older.c.created < accounts.c.created,
                sa.and_(older.c.created == accounts.c.created, older.c.id < accounts.c.id),
            )
        )
    )
    op.execute(
        accounts.update().where(accounts.c.email.is_not(None), has_older_twin).values(email=None)
    )


def upgrade():
    one_account_per_address()
    # batch: SQLite adds a unique constraint only by copying the table
    with op.batch_alter_table("coursehub_accounts") as batch_op:
        # existing accounts were never rejected: the default fills them in
        batch_op.add_column(
            sa.Column("rejected", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("email_verified", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("password_changed", sa.DateTime(), nullable=True))
        # PostgreSQL's own name for `unique=True`, as create_all would have it
        batch_op.create_unique_constraint("coursehub_accounts_email_key", ["email"])
    # These accounts signed in before addresses were verified: counting them verified
    # (since they were made) keeps them from being locked out of their work.
    op.execute(accounts.update().values(email_verified=accounts.c.created))

    op.create_table(
        "coursehub_email_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=128), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.Column("wrong_tries", sa.Integer(), nullable=False),
        sa.Column("spent", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["coursehub_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_coursehub_email_codes_account_id", "coursehub_email_codes", ["account_id"])
    op.create_index(
        "ix_coursehub_email_codes_email_created", "coursehub_email_codes", ["email", "created"]
    )

    op.create_table(
        "coursehub_issued_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )

    op.create_table(
        "coursehub_reset_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.Column("spent", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["coursehub_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_digest"),
    )
    op.create_index(
        "ix_coursehub_reset_tokens_account_id", "coursehub_reset_tokens", ["account_id"]
    )

    op.create_table(
        "coursehub_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_coursehub_attempts_kind_key_at", "coursehub_attempts", ["kind", "key", "at"]
    )
    op.create_index("ix_coursehub_attempts_at", "coursehub_attempts", ["at"])


def downgrade():
    op.drop_table("coursehub_attempts")
    op.drop_table("coursehub_reset_tokens")
    op.drop_table("coursehub_issued_codes")
    op.drop_table("coursehub_email_codes")
    # the addresses stay lower-case, and the ones taken from duplicates stay gone
    with op.batch_alter_table("coursehub_accounts") as batch_op:
        batch_op.drop_constraint("coursehub_accounts_email_key", type_="unique")
        batch_op.drop_column("password_changed")
        batch_op.drop_column("email_verified")
        batch_op.drop_column("rejected")
