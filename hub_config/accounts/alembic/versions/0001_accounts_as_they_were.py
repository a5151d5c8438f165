"""accounts as they were

The one table that ``Base.metadata.create_all`` made before the accounts had
migrations, exactly: a database made then is stamped at this revision and upgraded.

Revision ID: 0001
Revises:
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "coursehub_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.LargeBinary(length=128), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_coursehub_accounts_username", "coursehub_accounts", ["username"], unique=True
    )


def downgrade():
    op.drop_index("ix_coursehub_accounts_username", table_name="coursehub_accounts")
    op.drop_table("coursehub_accounts")
