"""real telegram: the outbox copies messages, and remembers what a message stands for

Revision ID: 0006_real_telegram
Revises: 0005
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_real_telegram"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("copy_from_chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("copy_from_message_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("silent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("context", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("context")
        batch_op.drop_column("silent")
        batch_op.drop_column("copy_from_message_id")
        batch_op.drop_column("copy_from_chat_id")
