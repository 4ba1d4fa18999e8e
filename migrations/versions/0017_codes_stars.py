"""access codes and gifts, and seats paid in Telegram Stars

Revision ID: 0017_codes_stars
Revises: 0011_dashboard
Create Date: 2026-12-02 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op

revision: str = "0017_codes_stars"
down_revision: str | None = "0012_safety"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("months", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "checkout_session_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
        ),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redeemed_by", sa.Integer(), nullable=True),
        sa.Column("redeemed_seat_id", sa.Integer(), nullable=True),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ending_told_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["redeemed_by"], ["members.id"]),
        sa.ForeignKeyConstraint(["redeemed_seat_id"], ["seats.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
        sa.UniqueConstraint("checkout_session_id"),
    )
    op.create_table(
        "stars_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seat_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("charge_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.ForeignKeyConstraint(["seat_id"], ["seats.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seat_id"),
    )
    op.create_index(
        "ix_stars_subscriptions_member_id", "stars_subscriptions", ["member_id"], unique=False
    )
    op.create_table(
        "stars_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charge_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["subscription_id"], ["stars_subscriptions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("charge_id"),
    )
    op.create_index(
        "ix_stars_payments_subscription_id", "stars_payments", ["subscription_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_stars_payments_subscription_id", table_name="stars_payments")
    op.drop_table("stars_payments")
    op.drop_index("ix_stars_subscriptions_member_id", table_name="stars_subscriptions")
    op.drop_table("stars_subscriptions")
    op.drop_table("access_codes")
