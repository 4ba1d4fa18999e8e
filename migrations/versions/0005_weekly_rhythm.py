"""weekly rhythm

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 06:58:05.024756
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("join_url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("zoom_meeting_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("questions_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_id", "week_start"),
    )
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "summaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member_id", "group_id", "week_start"),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("qa_weekday", sa.Integer(), nullable=False, server_default="2")
        )
        batch_op.add_column(
            sa.Column(
                "qa_time",
                sqlmodel.sql.sqltypes.AutoString(length=5),
                nullable=False,
                server_default="18:00",
            )
        )
        batch_op.add_column(
            sa.Column("qa_minutes", sa.Integer(), nullable=False, server_default="60")
        )
        batch_op.add_column(
            sa.Column("summary_weekday", sa.Integer(), nullable=False, server_default="6")
        )
        batch_op.add_column(
            sa.Column(
                "summary_time",
                sqlmodel.sql.sqltypes.AutoString(length=5),
                nullable=False,
                server_default="18:00",
            )
        )
        batch_op.add_column(
            sa.Column(
                "summary_needs_approval", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "attachment_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
            )
        )
        batch_op.add_column(sa.Column("attachment", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("attachment")
        batch_op.drop_column("attachment_name")

    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_column("summary_needs_approval")
        batch_op.drop_column("summary_time")
        batch_op.drop_column("summary_weekday")
        batch_op.drop_column("qa_minutes")
        batch_op.drop_column("qa_time")
        batch_op.drop_column("qa_weekday")

    op.drop_table("summaries")
    op.drop_table("questions")
    op.drop_table("meetings")
