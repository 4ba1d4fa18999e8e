"""a human coach, visibly: reply promises, the coach's profile and questions, pending posts

Revision ID: 0010_human_coach
Revises: 0005
Create Date: 2026-12-02 04:59:27.443568
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op

revision: str = "0010_human_coach"
down_revision: str | None = "0007_real_stripe"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coach_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("bio", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True),
        sa.Column("photo_file_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_id"),
    )
    op.create_table(
        "coach_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coach_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("coach_chat_id", "message_id"),
    )
    op.create_table(
        "pending_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("from_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("source_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "reply_promises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_told_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
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
    with op.batch_alter_table("reply_promises", schema=None) as batch_op:
        batch_op.create_index("ix_reply_promises_group_due", ["group_id", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reply_promises_member_id"), ["member_id"], unique=False
        )

    with op.batch_alter_table("coach_replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entry_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_coach_replies_entry_id", "entries", ["entry_id"], ["id"])

    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_round_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("agreement_accepted_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("welcome_in_group", sa.Boolean(), nullable=False, server_default=sa.true())
        )

    with op.batch_alter_table("summaries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("coach_note", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("summaries", schema=None) as batch_op:
        batch_op.drop_column("coach_note")

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("welcome_in_group")
        batch_op.drop_column("agreement_accepted_at")

    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_column("last_round_at")

    with op.batch_alter_table("coach_replies", schema=None) as batch_op:
        batch_op.drop_constraint("fk_coach_replies_entry_id", type_="foreignkey")
        batch_op.drop_column("entry_id")

    with op.batch_alter_table("reply_promises", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reply_promises_member_id"))
        batch_op.drop_index("ix_reply_promises_group_due")

    op.drop_table("reply_promises")
    op.drop_table("pending_posts")
    op.drop_table("coach_questions")
    op.drop_table("coach_profiles")
