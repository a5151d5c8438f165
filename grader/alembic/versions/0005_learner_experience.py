"""the learner's experience: profiles, XP, streaks, achievements, hints, descriptions

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:00:00

- users: links, avatar (re-encoded PNG), the private part (email, time zone, anonymity
  on leaderboards, settings).
- courses: `achievements`, the course's own definitions (data).
- questions: `description` (the task as plain text, for search; filled from each
  question's source notebook), `hints`.
- submissions: `awards`, what grading earned (XP, achievements, streak).
- learner_stats, xp_grants, achievements, hint_views: new. Learners who solved questions
  before this revision get no XP for them: XP counts from here on.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

USER_COLUMNS = (
    ("links", sa.Text(), "{}"),
    ("email", sa.String(length=255), ""),
    ("timezone", sa.String(length=64), "UTC"),
    ("anonymous", sa.Boolean(), sa.false()),
    ("settings", sa.Text(), "{}"),
)


def upgrade():
    with op.batch_alter_table("users") as batch:
        for name, type_, default in USER_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=False, server_default=default))
        batch.add_column(sa.Column("avatar", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("avatar_updated", sa.DateTime(), nullable=True))
    with op.batch_alter_table("courses") as batch:
        batch.add_column(sa.Column("achievements", sa.Text(), nullable=False, server_default="[]"))
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("hints", sa.Text(), nullable=False, server_default="[]"))
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("awards", sa.Text(), nullable=True))
    fill_descriptions()

    op.create_table(
        "learner_stats",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("xp", sa.Integer(), nullable=False),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("best_streak", sa.Integer(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "course_id"),
    )
    op.create_table(
        "xp_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("xp", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "question_id"),
    )
    op.create_table(
        "achievements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("earned", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "course_id", "key"),
    )
    op.create_table(
        "hint_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("hint", sa.Integer(), nullable=False),
        sa.Column("viewed", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "question_id", "hint"),
    )


def fill_descriptions():
    """Each question's task as plain text, from its source notebook's first markdown
    cell (what authoring does from now on), a question at a time."""
    from grader.grading.notebooks import description_of

    connection = op.get_bind()
    questions = sa.table(
        "questions",
        sa.column("id", sa.Integer),
        sa.column("source_notebook", sa.Text),
        sa.column("description", sa.Text),
    )
    ids = connection.execute(sa.select(questions.c.id)).scalars().all()
    for question_id in ids:
        source = connection.execute(
            sa.select(questions.c.source_notebook).where(questions.c.id == question_id)
        ).scalar()
        description = description_of(json.loads(source)) if source else ""
        connection.execute(
            questions.update().where(questions.c.id == question_id).values(description=description)
        )


def downgrade():
    for table in ("hint_views", "achievements", "xp_grants", "learner_stats"):
        op.drop_table(table)
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("awards")
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("hints")
        batch.drop_column("description")
    with op.batch_alter_table("courses") as batch:
        batch.drop_column("achievements")
    with op.batch_alter_table("users") as batch:
        for name in ("avatar_updated", "avatar", *(c[0] for c in USER_COLUMNS)):
            batch.drop_column(name)
