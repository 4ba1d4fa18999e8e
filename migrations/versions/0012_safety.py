"""the safety net's two levels: an alert's level, kind, group and who reached out; the
coach's quiet hours; the member's safety plan

Revision ID: 0012_safety
Revises: 0011_dashboard
Create Date: 2026-12-02 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op

revision: str = "0012_safety"
down_revision: str | None = "0011_dashboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("safety_alerts") as batch:
        batch.add_column(
            sa.Column(
                "level",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="urgent",
            )
        )
        batch.add_column(
            sa.Column(
                "category",
                sqlmodel.sql.sqltypes.AutoString(length=32),
                nullable=False,
                server_default="intent",
            )
        )
        batch.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("handled_by", sa.BigInteger(), nullable=True))
        batch.create_foreign_key("fk_safety_alerts_group_id", "groups", ["group_id"], ["id"])
    with op.batch_alter_table("safety_alerts") as batch:
        batch.alter_column("level", server_default=None)
        batch.alter_column("category", server_default=None)
    with op.batch_alter_table("coach_profiles") as batch:
        batch.add_column(
            sa.Column(
                "quiet_from",
                sqlmodel.sql.sqltypes.AutoString(length=5),
                nullable=False,
                server_default="22:00",
            )
        )
        batch.add_column(
            sa.Column(
                "quiet_until",
                sqlmodel.sql.sqltypes.AutoString(length=5),
                nullable=False,
                server_default="07:00",
            )
        )
        batch.add_column(
            sa.Column("repeats_at_night", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("coach_profiles") as batch:
        batch.alter_column("quiet_from", server_default=None)
        batch.alter_column("quiet_until", server_default=None)
        batch.alter_column("repeats_at_night", server_default=None)
    op.create_table(
        "safety_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("warning_signs", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("what_helps", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("people", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("asking", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member_id"),
    )


def downgrade() -> None:
    op.drop_table("safety_plans")
    with op.batch_alter_table("coach_profiles") as batch:
        batch.drop_column("repeats_at_night")
        batch.drop_column("quiet_until")
        batch.drop_column("quiet_from")
    with op.batch_alter_table("safety_alerts") as batch:
        batch.drop_constraint("fk_safety_alerts_group_id", type_="foreignkey")
        batch.drop_column("handled_by")
        batch.drop_column("group_id")
        batch.drop_column("category")
        batch.drop_column("level")
