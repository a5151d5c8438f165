"""languages: the language a question is written and graded in

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:15:00

- questions.language: "python", "r", "javascript" or "c", from the source notebook's
  kernel when the question is saved (every existing question is Python).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("questions") as batch:
        batch.add_column(
            sa.Column("language", sa.String(length=20), nullable=False, server_default="python")
        )


def downgrade():
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("language")
