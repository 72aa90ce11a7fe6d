"""Add web passwords, token names and revocation, and browser sessions.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the account columns and the ``web_sessions`` table."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(200), nullable=True))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("name", sa.String(200), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("suffix", sa.String(8), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])


def downgrade() -> None:
    """Drop the ``web_sessions`` table and the account columns."""
    op.drop_table("web_sessions")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("suffix")
        batch.drop_column("name")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
