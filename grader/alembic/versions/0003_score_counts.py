"""score counts: how many learners stand at each total score on each leaderboard

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:00:00

Ranks and deep leaderboard pages add these up instead of counting or skipping every
learner ahead (O(rank) index scans, slow on PostgreSQL at 100k learners).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "score_counts",
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("learners", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("module_id", "score"),
    )
    op.execute(
        "INSERT INTO score_counts (module_id, score, learners) "
        "SELECT module_id, score, count(*) FROM totals GROUP BY module_id, score"
    )


def downgrade():
    op.drop_table("score_counts")
