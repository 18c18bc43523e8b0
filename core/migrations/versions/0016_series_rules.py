"""series rules: what a series schedules now, as RFC 5545 recurrences (DTSTART, DTEND, RRULE, EXDATEs), one
per run of occurrences; every existing series gets one rule, its own, from its first occurrence

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('series_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('first_occurrence', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rule', sa.Text(), nullable=False),
    sa.Column('except_dates', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['session_series.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('series_id', 'first_occurrence')
    )
    op.execute("INSERT INTO series_rule (series_id, first_occurrence, starts_at, ends_at, rule, except_dates) "
               "SELECT ss.id, 1, s.starts_at, s.ends_at, ss.rule, ss.except_dates FROM session_series ss "
               "JOIN series_occurrence so ON so.series_id = ss.id AND so.number = 1 "
               "JOIN session s ON s.id = so.session_id")


def downgrade() -> None:
    op.drop_table('series_rule')
