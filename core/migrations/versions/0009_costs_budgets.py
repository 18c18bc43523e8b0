"""costs and budgets: resource rates in minor units with a unit, prices, course and session cost lines, budgets

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 04:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

CATEGORY = sa.Enum('INSTRUCTOR', 'VENUE', 'EQUIPMENT', 'MATERIALS', 'CATERING', 'TRAVEL', 'OTHER',
                   name='costcategory', native_enum=False, length=24)


def upgrade() -> None:
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cost_rate_minor', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('cost_rate_unit', sa.Enum('HOURLY', 'DAILY', 'PER_SESSION', name='rateunit',
                                                                native_enum=False, length=24), nullable=True))
    # The old rate had no unit and two decimals: it was an hourly rate in a currency of cents.
    resource = sa.table('resource', sa.column('id', sa.Integer), sa.column('cost_rate', sa.Numeric(12, 2)),
                        sa.column('cost_rate_minor', sa.BigInteger), sa.column('cost_rate_unit', sa.String))
    bind = op.get_bind()
    for row in bind.execute(sa.select(resource.c.id, resource.c.cost_rate)
                            .where(resource.c.cost_rate.is_not(None))).all():
        bind.execute(resource.update().where(resource.c.id == row.id).values(
            cost_rate_minor=int(round(row.cost_rate * 100)), cost_rate_unit='HOURLY'))
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.drop_column('cost_rate')
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_minor', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_minor', sa.BigInteger(), nullable=True))
    op.create_table(
        'course_cost',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('category', CATEGORY, nullable=False),
        sa.Column('description', sa.String(length=200), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['course.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_course_cost_course_id', 'course_cost', ['course_id'], unique=False)
    op.create_table(
        'session_cost',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('category', CATEGORY, nullable=False),
        sa.Column('description', sa.String(length=200), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('per_learner', sa.Boolean(), nullable=False),
        sa.Column('incurred', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['session.id'], ),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_session_cost_session_id', 'session_cost', ['session_id'], unique=False)
    op.create_table(
        'budget',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('period_from', sa.Date(), nullable=False),
        sa.Column('period_to', sa.Date(), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('scope', sa.Enum('COURSE', 'PROGRAM', 'VENUE', 'EVERYTHING', name='budgetscope', native_enum=False,
                                   length=24), nullable=False),
        sa.Column('course_id', sa.Integer(), nullable=True),
        sa.Column('program_id', sa.Integer(), nullable=True),
        sa.Column('venue_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('period_from <= period_to', name='ck_budget_period'),
        sa.ForeignKeyConstraint(['course_id'], ['course.id'], ),
        sa.ForeignKeyConstraint(['program_id'], ['program.id'], ),
        sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], ),
        sa.PrimaryKeyConstraint('id'))


def downgrade() -> None:
    op.drop_table('budget')
    op.drop_index('ix_session_cost_session_id', table_name='session_cost')
    op.drop_table('session_cost')
    op.drop_index('ix_course_cost_course_id', table_name='course_cost')
    op.drop_table('course_cost')
    with op.batch_alter_table('session', schema=None) as batch_op:
        batch_op.drop_column('price_minor')
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.drop_column('price_minor')
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cost_rate', sa.Numeric(precision=12, scale=2, asdecimal=False), nullable=True))
    resource = sa.table('resource', sa.column('id', sa.Integer), sa.column('cost_rate', sa.Numeric(12, 2)),
                        sa.column('cost_rate_minor', sa.BigInteger), sa.column('cost_rate_unit', sa.String))
    bind = op.get_bind()
    for row in bind.execute(sa.select(resource.c.id, resource.c.cost_rate_minor)
                            .where(resource.c.cost_rate_minor.is_not(None))).all():
        bind.execute(resource.update().where(resource.c.id == row.id).values(cost_rate=row.cost_rate_minor / 100))
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.drop_column('cost_rate_unit')
        batch_op.drop_column('cost_rate_minor')
