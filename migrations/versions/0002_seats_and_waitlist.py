"""seats and waitlist

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 05:58:36.356168
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("crisis_note_accepted_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "seats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hold_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "checkout_session_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
        ),
        sa.Column("checkout_url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column(
            "stripe_customer_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
        ),
        sa.Column(
            "stripe_subscription_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
        ),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("past_due_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invite_link", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("checkout_session_id"),
    )
    with op.batch_alter_table("seats", schema=None) as batch_op:
        batch_op.create_index("ix_seats_group_status", ["group_id", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_seats_stripe_subscription_id"), ["stripe_subscription_id"], unique=False
        )
        batch_op.create_index(
            "uq_seats_live_member",
            ["member_id", "group_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('held', 'active', 'past_due', 'comped')"),
            postgresql_where=sa.text("status IN ('held', 'active', 'past_due', 'comped')"),
        )

    op.create_table(
        "waitlist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("seat_id", sa.Integer(), nullable=True),
        sa.Column("offered_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
        ),
        sa.ForeignKeyConstraint(
            ["seat_id"],
            ["seats.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("waitlist", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_waitlist_group_id"), ["group_id"], unique=False)
        batch_op.create_index(
            "uq_waitlist_open_member",
            ["member_id", "group_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('waiting', 'offered')"),
            postgresql_where=sa.text("status IN ('waiting', 'offered')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("waitlist", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_waitlist_open_member",
            sqlite_where=sa.text("status IN ('waiting', 'offered')"),
            postgresql_where=sa.text("status IN ('waiting', 'offered')"),
        )
        batch_op.drop_index(batch_op.f("ix_waitlist_group_id"))

    op.drop_table("waitlist")
    with op.batch_alter_table("seats", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_seats_live_member",
            sqlite_where=sa.text("status IN ('held', 'active', 'past_due', 'comped')"),
            postgresql_where=sa.text("status IN ('held', 'active', 'past_due', 'comped')"),
        )
        batch_op.drop_index(batch_op.f("ix_seats_stripe_subscription_id"))
        batch_op.drop_index("ix_seats_group_status")

    op.drop_table("seats")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("crisis_note_accepted_at")
