"""integrity: integrity signals

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 08:00:00

- integrity_settings: whether a course collects integrity signals (off by default).
- integrity_signals: what a learner's JupyterLab reported with a submission (paste
  sizes, leaving the tab during a timed quiz or duel, time spent), one row a submission.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "integrity_settings",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("course_id"),
    )
    op.create_table(
        "integrity_signals",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("paste_count", sa.Integer(), nullable=False),
        sa.Column("paste_chars", sa.Integer(), nullable=False),
        sa.Column("paste_sizes", sa.Text(), nullable=False),
        sa.Column("away_count", sa.Integer(), nullable=False),
        sa.Column("away_seconds", sa.Float(), nullable=False),
        sa.Column("timed", sa.String(length=10), nullable=True),
        sa.Column("open_seconds", sa.Float(), nullable=False),
        sa.Column("visible_seconds", sa.Float(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("submission_id"),
    )


def downgrade():
    op.drop_table("integrity_signals")
    op.drop_table("integrity_settings")
