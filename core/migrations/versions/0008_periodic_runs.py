"""periodic jobs: one row per job and tick, so each tick's work is done once across processes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 04:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('periodic_run',
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('owner', sa.String(length=100), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('job', 'due_at')
    )
    with op.batch_alter_table('periodic_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_periodic_run_finished_at'), ['finished_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('periodic_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_periodic_run_finished_at'))
    op.drop_table('periodic_run')
