"""lti: LTI 1.3 links, accounts, line items, score passback

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 08:00:00

- lti_contexts: LMS courses as launched (issuer, deployment, context id, label, title),
  their AGS and NRPS URLs and scopes, the coursehub course each is linked to (and the
  link's line-item grain), the latest roster sync.
- lti_accounts: an LMS user (issuer, sub) -> the grader's user.
- lti_members: who is in a context (launches, rosters), their roles and status there,
  the course membership LTI made for them.
- lti_lineitems: the line items coursehub made in a context, by key.
- lti_score_posts: the passback outbox (one row per context, learner and line item).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "lti_contexts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("deployment_id", sa.String(length=255), nullable=False),
        sa.Column("context_id", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("lineitems_url", sa.Text(), nullable=True),
        sa.Column("ags_scopes", sa.Text(), nullable=False),
        sa.Column("memberships_url", sa.Text(), nullable=True),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("grain", sa.String(length=10), nullable=False),
        sa.Column("linked_by", sa.String(length=255), nullable=False),
        sa.Column("linked", sa.DateTime(), nullable=True),
        sa.Column("roster_status", sa.String(length=10), nullable=False),
        sa.Column("roster_started", sa.DateTime(), nullable=True),
        sa.Column("roster_finished", sa.DateTime(), nullable=True),
        sa.Column("roster_counts", sa.Text(), nullable=False),
        sa.Column("roster_error", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("last_launch", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "deployment_id", "context_id"),
    )
    with op.batch_alter_table("lti_contexts") as batch:
        batch.create_index("ix_lti_contexts_course_id", ["course_id"])
    op.create_table(
        "lti_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("sub", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("last_launch", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "sub"),
    )
    with op.batch_alter_table("lti_accounts") as batch:
        batch.create_index("ix_lti_accounts_user", ["user_id"])
    op.create_table(
        "lti_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("sub", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("lms_status", sa.String(length=10), nullable=False),
        sa.Column("enrolled_as", sa.String(length=12), nullable=True),
        sa.Column("launched", sa.Boolean(), nullable=False),
        sa.Column("seen", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["context_id"], ["lti_contexts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("context_id", "sub"),
    )
    with op.batch_alter_table("lti_members") as batch:
        batch.create_index("ix_lti_members_user", ["user_id"])
    op.create_table(
        "lti_lineitems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("score_maximum", sa.Float(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["context_id"], ["lti_contexts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("context_id", "key"),
    )
    op.create_table(
        "lti_score_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lineitem_key", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("score_given", sa.Float(), nullable=True),
        sa.Column("score_maximum", sa.Float(), nullable=False),
        sa.Column("activity_progress", sa.String(length=20), nullable=False),
        sa.Column("timestamp", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.DateTime(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent", sa.DateTime(), nullable=True),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["context_id"], ["lti_contexts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("context_id", "user_id", "lineitem_key"),
    )
    with op.batch_alter_table("lti_score_posts") as batch:
        batch.create_index("ix_lti_score_posts_due", ["status", "next_attempt"])


def downgrade():
    op.drop_table("lti_score_posts")
    op.drop_table("lti_lineitems")
    op.drop_table("lti_members")
    op.drop_table("lti_accounts")
    op.drop_table("lti_contexts")
