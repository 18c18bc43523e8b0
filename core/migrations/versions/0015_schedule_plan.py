"""schedule plan: a proposed timetable or re-plan from the solver, kept until applied or expired

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('schedule_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('objective', sa.Double(), nullable=True),
    sa.Column('bound', sa.Double(), nullable=True),
    sa.Column('solve_seconds', sa.Double(), nullable=False),
    sa.Column('sessions', sa.JSON(), nullable=False),
    sa.Column('unplaced', sa.JSON(), nullable=False),
    sa.Column('requests', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('applied_session_ids', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_schedule_plan_expires_at'), 'schedule_plan', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_schedule_plan_expires_at'), table_name='schedule_plan')
    op.drop_table('schedule_plan')
