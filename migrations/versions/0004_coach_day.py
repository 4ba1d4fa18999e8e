"""the coach's day

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 06:41:40.671209
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coach_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("file_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
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
        sa.UniqueConstraint("chat_id", "message_id"),
    )
    with op.batch_alter_table("coach_replies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_coach_replies_member_time", ["member_id", "created_at"], unique=False
        )

    op.create_table(
        "highlights",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("coach_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id"),
    )
    op.create_table(
        "relays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coach_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("coach_message_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("coach_chat_id", "coach_message_id"),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reply_days",
                sqlmodel.sql.sqltypes.AutoString(length=27),
                nullable=False,
                server_default="sun,mon,tue,wed,thu",
            )
        )
        batch_op.add_column(
            sa.Column(
                "reply_by",
                sqlmodel.sql.sqltypes.AutoString(length=5),
                nullable=False,
                server_default="20:00",
            )
        )
        batch_op.add_column(
            sa.Column(
                "digest_time",
                sqlmodel.sql.sqltypes.AutoString(length=5),
                nullable=False,
                server_default="08:00",
            )
        )
        batch_op.add_column(
            sa.Column("quiet_days", sa.Integer(), nullable=False, server_default="4")
        )

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("checkins_paused", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("nudged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("nudged_at")
        batch_op.drop_column("checkins_paused")

    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_column("quiet_days")
        batch_op.drop_column("digest_time")
        batch_op.drop_column("reply_by")
        batch_op.drop_column("reply_days")

    op.drop_table("relays")
    op.drop_table("highlights")
    with op.batch_alter_table("coach_replies", schema=None) as batch_op:
        batch_op.drop_index("ix_coach_replies_member_time")

    op.drop_table("coach_replies")
