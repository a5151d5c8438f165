"""audit: the audit log

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 08:00:00

- audit_entries: who did what, when, to what (grader.audit), each entry's sha256 chained
  to the one before; no foreign keys (an entry outlives what it names). The database
  itself refuses UPDATE and DELETE on it (triggers, below): the log is append-only for
  every client of the database, the grader included.
- audit_head: one row, the last entry's id and hash. Taking it (an UPDATE) is what
  orders writers: the next id and the hash it chains to are read under its lock.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
REFUSAL = "audit entries are append-only: they cannot be changed or deleted"


def upgrade():
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_entries") as batch:
        batch.create_index("ix_audit_entries_course", ["course_id", "id"])
        batch.create_index("ix_audit_entries_actor", ["actor", "id"])
        batch.create_index("ix_audit_entries_action", ["action", "id"])
        batch.create_index("ix_audit_entries_time", ["time"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(
        sa.text(
            "INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, :genesis)"
        ).bindparams(genesis=GENESIS)
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION audit_entries_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{REFUSAL}';
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entries_no_{event.lower()} BEFORE {event} "
                f"ON audit_entries BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entries_no_truncate ON audit_entries")
        op.execute("DROP TRIGGER audit_entries_no_change ON audit_entries")
        op.execute("DROP FUNCTION audit_entries_append_only()")
    else:
        op.execute("DROP TRIGGER audit_entries_no_delete")
        op.execute("DROP TRIGGER audit_entries_no_update")
    op.drop_table("audit_head")
    op.drop_table("audit_entries")
