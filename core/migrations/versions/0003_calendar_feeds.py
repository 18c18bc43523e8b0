"""calendar feeds: one subscribable .ics address per person and per room, stored as a hash

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'calendar_feed',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('person_id', sa.Integer(), sa.ForeignKey('person.id'), nullable=True, unique=True),
        sa.Column('resource_id', sa.Integer(), sa.ForeignKey('resource.id'), nullable=True, unique=True),
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False, unique=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('(person_id IS NULL) != (resource_id IS NULL)', name='ck_calendar_feed_one_owner'),
    )


def downgrade() -> None:
    op.drop_table('calendar_feed')
