"""evaluations: a course's evaluation form, requests to attended learners (hashed link tokens), answers, and
pre/post assessment scores

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'evaluation_form',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('questions', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['course.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('course_id'))
    op.create_table(
        'evaluation_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enrollment_id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['enrollment_id'], ['enrollment.id'], ),
        sa.ForeignKeyConstraint(['session_id'], ['session.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('enrollment_id'),
        sa.UniqueConstraint('token_hash'))
    op.create_index('ix_evaluation_request_session_id', 'evaluation_request', ['session_id'], unique=False)
    op.create_table(
        'evaluation_answer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('question_key', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.Enum('RATING_1_5', 'NPS_0_10', 'TEXT', 'YES_NO', name='questionkind', native_enum=False,
                                  length=24), nullable=False),
        sa.Column('value', sa.Integer(), nullable=True),
        sa.Column('text', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['request_id'], ['evaluation_request.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('request_id', 'question_key'))
    op.create_table(
        'assessment_score',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enrollment_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('PRE', 'POST', name='assessmentkind', native_enum=False, length=24),
                  nullable=False),
        sa.Column('score_hundredths', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['enrollment_id'], ['enrollment.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('enrollment_id', 'kind'))


def downgrade() -> None:
    op.drop_table('assessment_score')
    op.drop_table('evaluation_answer')
    op.drop_index('ix_evaluation_request_session_id', table_name='evaluation_request')
    op.drop_table('evaluation_request')
    op.drop_table('evaluation_form')
