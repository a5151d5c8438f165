"""class scale: fair queue, worker liveness, maintained totals, question types

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 12:00:00

- submissions: `priority` (fair queueing; existing rows keep their FIFO order), `size`
  (the storage quota), `worker` (who holds a claim); the queue's and the per-learner
  indexes replace the single-column ones.
- workers: grading worker processes and their heartbeats.
- totals: per learner, overall (module_id 0) and per module, filled from best_scores.
- questions: `type` (the question-type seam; every existing question is a notebook).
- best_scores: its user_id index duplicated the unique key's prefix.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "submissions", sa.Column("priority", sa.Float(), nullable=False, server_default="0")
    )
    op.add_column(
        "submissions", sa.Column("size", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("submissions", sa.Column("worker", sa.String(length=64), nullable=True))
    op.execute("UPDATE submissions SET priority = id, size = length(notebook)")
    op.drop_index("ix_submissions_status", table_name="submissions")
    op.drop_index("ix_submissions_user_id", table_name="submissions")
    op.create_index("ix_submissions_queue", "submissions", ["status", "priority", "id"])
    op.create_index("ix_submissions_user_status", "submissions", ["user_id", "status"])
    op.create_index("ix_submissions_worker", "submissions", ["worker"])

    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started", sa.DateTime(), nullable=False),
        sa.Column("heartbeat", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_workers_heartbeat", "workers", ["heartbeat"])

    op.create_table(
        "totals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("solved", sa.Integer(), nullable=False),
        sa.Column("reached", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("module_id", "user_id"),
    )
    op.create_index(
        "ix_totals_ranking", "totals", ["module_id", sa.text("score DESC"), "reached", "user_id"]
    )

    op.add_column(
        "questions",
        sa.Column("type", sa.String(length=40), nullable=False, server_default="notebook"),
    )
    op.drop_index("ix_best_scores_user_id", table_name="best_scores")

    # the totals of the existing best scores: the whole course's board, then each module's
    for board, group in (("0", "b.user_id"), ("q.module_id", "b.user_id, q.module_id")):
        op.execute(
            "INSERT INTO totals (user_id, module_id, score, solved, reached) "
            f"SELECT b.user_id, {board}, sum(b.score), "
            "sum(CASE WHEN b.solved THEN 1 ELSE 0 END), max(b.reached) "
            "FROM best_scores b JOIN questions q ON q.id = b.question_id "
            f"WHERE NOT q.retired GROUP BY {group}"
        )


def downgrade():
    op.create_index("ix_best_scores_user_id", "best_scores", ["user_id"])
    op.drop_column("questions", "type")
    op.drop_index("ix_totals_ranking", table_name="totals")
    op.drop_table("totals")
    op.drop_index("ix_workers_heartbeat", table_name="workers")
    op.drop_table("workers")
    op.drop_index("ix_submissions_worker", table_name="submissions")
    op.drop_index("ix_submissions_user_status", table_name="submissions")
    op.drop_index("ix_submissions_queue", table_name="submissions")
    op.create_index("ix_submissions_user_id", "submissions", ["user_id"])
    op.create_index("ix_submissions_status", "submissions", ["status"])
    op.drop_column("submissions", "worker")
    op.drop_column("submissions", "size")
    op.drop_column("submissions", "priority")
