"""Costs: money, rates, per-learner costs, session cost lines, prices."""
