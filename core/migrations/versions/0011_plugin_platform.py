"""plugin platform: courses name their sessions' default conferencing provider; people get a phone number

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 04:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.add_column(sa.Column('default_conferencing', sa.String(length=64), nullable=True))
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('phone')
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.drop_column('default_conferencing')
