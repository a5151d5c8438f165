"""plagiarism: similarity reports of a question's answers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 08:00:00

- plagiarism_reports: a report asked for by an instructor (threshold, the submissions
  compared), its status and progress, and the claim of the process computing it.
- plagiarism_pairs: the pairs of answers whose similarity reached the threshold, with
  each way's similarity and the matched regions.
- plagiarism_codes: the answer code compared, for the submissions in a pair.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "plagiarism_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("submission_ids", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("unlisted", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("claim", sa.String(length=64), nullable=True),
        sa.Column("heartbeat", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("started", sa.DateTime(), nullable=True),
        sa.Column("finished", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plagiarism_reports") as batch:
        batch.create_index("ix_plagiarism_reports_question", ["question_id", "id"])
        batch.create_index("ix_plagiarism_reports_status", ["status", "heartbeat"])
    op.create_table(
        "plagiarism_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("submission_a", sa.Integer(), nullable=False),
        sa.Column("submission_b", sa.Integer(), nullable=False),
        sa.Column("user_a", sa.Integer(), nullable=False),
        sa.Column("user_b", sa.Integer(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("similarity_a", sa.Float(), nullable=False),
        sa.Column("similarity_b", sa.Float(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("regions_a", sa.Text(), nullable=False),
        sa.Column("regions_b", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["plagiarism_reports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_a"], ["submissions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_b"], ["submissions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_a"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_b"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id", "submission_a", "submission_b"),
    )
    with op.batch_alter_table("plagiarism_pairs") as batch:
        batch.create_index("ix_plagiarism_pairs_ranking", ["report_id", "similarity"])
    op.create_table(
        "plagiarism_codes",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["plagiarism_reports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id", "submission_id"),
    )


def downgrade():
    op.drop_table("plagiarism_codes")
    op.drop_table("plagiarism_pairs")
    op.drop_table("plagiarism_reports")
