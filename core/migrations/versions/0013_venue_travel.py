"""venue travel: minutes an instructor needs between two venues, one row per pair (symmetric)

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('venue_travel',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_a_id', sa.Integer(), nullable=False),
    sa.Column('venue_b_id', sa.Integer(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.CheckConstraint('venue_a_id < venue_b_id', name='ck_venue_travel_order'),
    sa.CheckConstraint('minutes > 0', name='ck_venue_travel_minutes'),
    sa.ForeignKeyConstraint(['venue_a_id'], ['venue.id'], ),
    sa.ForeignKeyConstraint(['venue_b_id'], ['venue.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('venue_a_id', 'venue_b_id')
    )
    with op.batch_alter_table('venue_travel', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_venue_travel_venue_b_id'), ['venue_b_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('venue_travel', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_venue_travel_venue_b_id'))
    op.drop_table('venue_travel')
