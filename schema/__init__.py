"""The GraphQL API: every domain's queries, mutations and subscriptions assembled into one schema."""
from __future__ import annotations

from pathlib import Path

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from .access.mutations import AccessMutations
from .availability.mutations import AvailabilityMutations
from .availability.queries import AvailabilityQueries
from .audit.queries import AuditQueries
from .budgets.mutations import BudgetMutations
from .budgets.queries import BudgetQueries
from .budgets.types import Budget
from .calendar.mutations import CalendarMutations
from .catalogue.mutations import CatalogueMutations
from .catalogue.queries import CatalogueQueries
from .costs.mutations import CostMutations
from .enrollment.mutations import EnrollmentMutations
from .enrollment.types import Enrollment
from .evaluations.mutations import EvaluationMutations
from .evaluations.queries import EvaluationQueries
from .evaluations.types import EvaluationForm
from .execution import execution_context_class
from .limits import extensions
from .node import NodeQueries
from .outbox.mutations import OutboxMutations
from .outbox.queries import OutboxQueries
from .planning.mutations import PlanningMutations
from .programs.mutations import ProgramMutations
from .programs.queries import ProgramQueries
from .programs.types import Certification, Program
from .relay import MAX_PAGE
from .reports.queries import ReportQueries
from .scheduling.mutations import SchedulingMutations
from .scheduling.queries import SessionQueries
from .scheduling.subscriptions import SessionSubscriptions
from .catalogue.types import Course, Person, Resource, Venue
from .scheduling.types import Session

SDL_PATH = Path(__file__).with_name("schema.graphql")

Query = merge_types("Query", (NodeQueries, CatalogueQueries, SessionQueries, OutboxQueries, ProgramQueries,
                              BudgetQueries, ReportQueries, AuditQueries, AvailabilityQueries, EvaluationQueries))
Mutation = merge_types("Mutation", (CatalogueMutations, AccessMutations, SchedulingMutations, EnrollmentMutations,
                                    OutboxMutations, ProgramMutations, CalendarMutations, CostMutations,
                                    BudgetMutations, AvailabilityMutations, EvaluationMutations,
                                    PlanningMutations))
Subscription = merge_types("Subscription", (SessionSubscriptions,))

class PodiumSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Client mistakes are not server errors; unexpected ones are logged where they are masked (limits.py)."""


schema = PodiumSchema(
    query=Query, mutation=Mutation, subscription=Subscription,
    types=[Course, Person, Resource, Venue, Session, Enrollment, Program, Certification, Budget, EvaluationForm],
    extensions=extensions(),
    config=StrawberryConfig(relay_max_results=MAX_PAGE),
    execution_context_class=execution_context_class(),
)


def sdl() -> str:
    return schema.as_str() + "\n"
