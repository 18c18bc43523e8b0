"""The DataLoaders of one request, from every domain: the statements a query runs do not grow
with the number of objects it returns."""
from __future__ import annotations

from strawberry.dataloader import DataLoader

from .availability import dataloaders as availability
from .budgets import dataloaders as budgets
from .catalogue import dataloaders as catalogue
from .costs import dataloaders as costs
from .enrollment import dataloaders as enrollment
from .evaluations import dataloaders as evaluations
from .enrollment import queries as rosters
from .programs import dataloaders as programs
from .scheduling import dataloaders as scheduling


class Loaders:
    def __init__(self, context) -> None:
        self.resource_objects: dict = {}  # one Resource object per id in a request, shared by session views
        for module in (catalogue, scheduling, enrollment, rosters, programs, costs, budgets, availability,
                       evaluations):
            for name, load in module.loaders(context).items():
                setattr(self, name, DataLoader(load_fn=load))
