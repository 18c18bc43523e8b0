"""The built-in blended program templates, as data; `core/services/programs.py` checks and uses them.

A stage opens `offset_days` from the anchor (first live) session's start, at the anchor's local
wall-clock time, and is due `window_days` later (by default when the next stage opens).
A LIVE stage takes its times from its session; `repeat` makes one LIVE stage per session given, and
such a template's program may take its sessions from a series instead (createProgram's `liveSeriesId`):
`ongoing-blend`'s recurring workshops are a series' occurrences, every learner in every one.
"""
from __future__ import annotations

from typing import Any

BUILTIN_TEMPLATES: list[dict[str, Any]] = [
    {"key": "flipped", "name": "Flipped classroom: pre-work, then live", "stages": [
        {"key": "prework", "kind": "SELF_PACED", "title": "Pre-work", "offset_days": -7, "required": True},
        {"key": "live", "kind": "LIVE", "title": "Live session", "offset_days": 0, "required": True},
    ]},
    {"key": "sandwich", "name": "Sandwich: pre-work, live, spaced reinforcement, assessment", "stages": [
        {"key": "prework", "kind": "SELF_PACED", "title": "Pre-work", "offset_days": -7, "required": True},
        {"key": "live", "kind": "LIVE", "title": "Live session", "offset_days": 0, "required": True},
        {"key": "reinforce-1", "kind": "SELF_PACED", "title": "Reinforcement, day 1", "offset_days": 1,
         "required": True},
        {"key": "reinforce-7", "kind": "SELF_PACED", "title": "Reinforcement, day 7", "offset_days": 7,
         "required": True},
        {"key": "reinforce-30", "kind": "SELF_PACED", "title": "Reinforcement, day 30", "offset_days": 30,
         "required": True, "window_days": 7},
        {"key": "assessment", "kind": "ASSESSMENT", "title": "Final assessment", "offset_days": 30,
         "required": True, "window_days": 14},
    ]},
    {"key": "ongoing-blend", "name": "Ongoing blend: recurring live workshops beside a self-paced library",
     "stages": [
        {"key": "orientation", "kind": "SELF_PACED", "title": "Orientation", "offset_days": -7, "required": True},
        {"key": "workshop", "kind": "LIVE", "title": "Workshop", "offset_days": 0, "required": True,
         "repeat": True},
        {"key": "library", "kind": "SELF_PACED", "title": "Self-paced library", "offset_days": 0,
         "required": False, "window_days": 365},
     ]},
]
