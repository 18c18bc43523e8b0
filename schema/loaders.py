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


DOMAINS = (catalogue, scheduling, enrollment, rosters, programs, costs, budgets, availability, evaluations)


class Loaders:
    """`context.loaders.<name>`: made on first use, all at once (a request that loads nothing, such as an
    enrol answering with the row it wrote, makes none; a change makes a fresh set only if asked)."""

    def __init__(self, context) -> None:
        self.resource_objects: dict = {}  # one Resource object per id in a request, shared by session views
        self._context = context
        self._made = False

    def __getattr__(self, name: str):  # only for attributes not made yet
        if name.startswith("_") or self._made:
            raise AttributeError(name)
        self._made = True
        for module in DOMAINS:
            for key, load in module.loaders(self._context).items():
                setattr(self, key, DataLoader(load_fn=load))
        return getattr(self, name)
