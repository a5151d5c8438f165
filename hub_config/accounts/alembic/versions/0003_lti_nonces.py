"""LTI launches' nonces, each used once

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "coursehub_lti_nonces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_coursehub_lti_nonces_expires", "coursehub_lti_nonces", ["expires"])


def downgrade():
    op.drop_table("coursehub_lti_nonces")
