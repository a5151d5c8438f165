"""lti: LTI 1.3 links, accounts, line items, score passback

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 08:00:00
"""

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
