"""courses: modules belong to a course; releases, deadlines and limits; manual grades

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 18:00:00

- courses, enrolments: every existing module moves into one course, `default`, open to
  anyone signed in (its learners join it again from JupyterLab, or an instructor adds
  them); a course folder with the same modules takes it over when it is loaded.
- modules: `course_id`; slugs are unique per course, no longer across the service.
- questions: `released` (existing questions were released when created).
- modules and questions: due date, late policy, penalty, submission limit, cool-off.
- submissions: `late`, `penalty`, `manual_pending`; manual_grades: instructors' points.
- totals, score_counts: the whole-course board was `module_id` 0, it is now the course's
  id negated (-1 for the default course).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RULE_COLUMNS = (
    ("due", sa.DateTime),
    ("late_policy", lambda: sa.String(length=10)),
    ("penalty_per_day", sa.Float),
    ("submission_limit", sa.Integer),
    ("cooloff", sa.Integer),
)


def upgrade():
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("join", sa.String(length=10), nullable=False),
        sa.Column("join_code", sa.String(length=32), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("course_id", "user_id"),
    )
    op.create_index("ix_enrolments_user", "enrolments", ["user_id"])
    op.create_table(
        "manual_grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("cell", sa.String(length=255), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("grader", sa.String(length=255), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("submission_id", "cell"),
    )

    bind = op.get_bind()
    course_id = None
    if bind.execute(sa.text("SELECT count(*) FROM modules")).scalar():
        op.execute(
            'INSERT INTO courses (slug, title, description, "join", position, created) '
            "VALUES ('default', 'Course', '', 'open', 0, CURRENT_TIMESTAMP)"
        )
        course_id = bind.execute(sa.text("SELECT id FROM courses")).scalar()

    op.add_column("modules", sa.Column("course_id", sa.Integer(), nullable=True))
    for table in ("modules", "questions"):
        for name, kind in RULE_COLUMNS:
            op.add_column(table, sa.Column(name, kind(), nullable=True))
    if course_id is not None:
        op.execute(sa.text("UPDATE modules SET course_id = :id").bindparams(id=course_id))
    _drop_slug_unique()
    with op.batch_alter_table("modules") as batch:
        batch.alter_column("course_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            "fk_modules_course_id", "courses", ["course_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_unique_constraint("uq_modules_course_id", ["course_id", "slug"])

    op.add_column("questions", sa.Column("released", sa.DateTime(), nullable=True))
    op.execute("UPDATE questions SET released = created")

    for name, kind, default in (
        ("late", sa.Boolean, sa.false()),
        ("penalty", sa.Float, "0"),
        ("manual_pending", sa.Boolean, sa.false()),
    ):
        op.add_column(
            "submissions", sa.Column(name, kind(), nullable=False, server_default=default)
        )

    # totals exist only with modules (best scores of their questions): the course exists
    board = -(course_id or 1)
    for table in ("totals", "score_counts"):
        op.execute(
            sa.text(f"UPDATE {table} SET module_id = :board WHERE module_id = 0").bindparams(
                board=board
            )
        )


def _drop_slug_unique():
    """The unnamed unique constraint on modules.slug: PostgreSQL named it itself;
    SQLite's has no name, so the table is rebuilt without it."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for constraint in sa.inspect(bind).get_unique_constraints("modules"):
            if constraint["column_names"] == ["slug"]:
                op.drop_constraint(constraint["name"], "modules", type_="unique")
        return
    with op.batch_alter_table(
        "modules",
        recreate="always",
        naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"},
    ) as batch:
        batch.drop_constraint("uq_modules_slug", type_="unique")


def downgrade():
    op.execute("UPDATE score_counts SET module_id = 0 WHERE module_id < 0")
    op.execute("UPDATE totals SET module_id = 0 WHERE module_id < 0")
    with op.batch_alter_table("submissions") as batch:
        for name in ("manual_pending", "penalty", "late"):
            batch.drop_column(name)
    with op.batch_alter_table("questions") as batch:
        for name, _ in RULE_COLUMNS:
            batch.drop_column(name)
        batch.drop_column("released")
    with op.batch_alter_table("modules") as batch:
        batch.drop_constraint("uq_modules_course_id", type_="unique")
        batch.drop_constraint("fk_modules_course_id", type_="foreignkey")
        for name, _ in RULE_COLUMNS:
            batch.drop_column(name)
        batch.drop_column("course_id")
        batch.create_unique_constraint("uq_modules_slug", ["slug"])
    op.drop_table("manual_grades")
    op.drop_index("ix_enrolments_user", table_name="enrolments")
    op.drop_table("enrolments")
    op.drop_table("courses")
