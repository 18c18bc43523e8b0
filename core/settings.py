"""Settings from the environment (and a `.env` file), read once at start-up."""
from __future__ import annotations

import math
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .money import DEFAULT_CURRENCY, check_currency
from .plugin_settings import field_type, parse_setting

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./podium.db"


def read_dotenv(path: Path = Path(".env")) -> dict[str, str]:
    """Parse KEY=VALUE lines; the real environment wins over the file."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def environment() -> dict[str, str]:
    return {**read_dotenv(), **os.environ}


class SettingsError(ValueError):
    """A setting is malformed; the message names every such variable."""


MIN_ADMIN_TOKEN_LENGTH = 32
SQLITE_SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")
LOG_FORMATS = ("text", "json")


MAY_BE_ZERO = {"reminder_hours", "readiness_notice_hours", "prework_reminder_days", "program_sync_hours",
               "outbox_backoff_seconds", "schedule_history_years", "rate_limit_points", "anonymous_rate_limit_points",
               "auth_failure_limit", "request_timeout_seconds", "late_cancel_hours",
               "session_completion_grace_minutes", "evaluation_reminder_after_hours"}
"""Numbers where 0 means something (off, at once); every other number must be above 0."""


def _parse(name: str, raw: str, hint: Any) -> Any:
    """A core setting: typed as a plugin's are (`parse_setting`), numbers within range, lists comma-separated."""
    if typing.get_origin(field_type(hint)) is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip()) or None
    value = parse_setting(raw, hint)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0 or (value == 0 and name not in MAY_BE_ZERO):
            raise ValueError("expected a number above 0" if name not in MAY_BE_ZERO else "expected 0 or more")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    admin_token: str | None = None
    plugins: tuple[str, ...] | None = None
    templates_dir: str | None = None
    reminder_hours: int = 24
    max_body_bytes: int = 1_000_000
    organizer_email: str = "noreply@podium.invalid"
    outbox_in_serve: bool = True
    outbox_max_attempts: int = 10
    outbox_backoff_seconds: float = 2.0
    outbox_backoff_max_seconds: float = 3600.0
    outbox_timeout_seconds: float = 30.0
    outbox_lease_seconds: float = 120.0
    outbox_concurrency: int = 16
    outbox_consumer_concurrency: int = 4
    outbox_poll_seconds: float = 1.0
    outbox_retention_days: int = 30  # delivered outbox rows older than this are pruned by the `prune` job
    # Periodic jobs (core/services/periodic.py): how often each runs, once across all processes.
    complete_sessions_every_seconds: float = 60.0
    session_completion_grace_minutes: int = 30  # a session is COMPLETED this long after it ends
    prune_every_seconds: float = 3600.0
    readiness_notice_hours: int = 24
    prework_reminder_days: int = 3
    program_sync_hours: float = 6.0  # the periodic job `lms_sync`; fractions allowed, 0 turns it off
    introspection: bool = True
    sqlite_synchronous: str = "FULL"
    body_timeout_seconds: float = 30.0
    limit_concurrency: int = 1000
    keep_alive_seconds: float = 5.0
    max_incomplete_event_bytes: int = 16_384
    max_session_days: int = 14
    schedule_history_years: int = 1
    schedule_horizon_years: int = 5
    cors_origins: tuple[str, ...] | None = None  # browser origins allowed to call the API; ("*",) for any
    graphiql: bool = True  # GET /graphql serves GraphiQL (its assets from Podium itself)
    public_url: str | None = None  # Podium's address as clients reach it, for calendar feed URLs
    secret_key: str | None = None  # keys the calendar feed addresses (HMAC); set it in production
    evaluation_url: str | None = None  # the evaluation page of your portal; {token} is replaced with the learner's
    evaluation_reminder_after_hours: int = 72  # an unanswered evaluation is reminded once this long after; 0: never
    remind_evaluations_every_seconds: float = 300.0  # the periodic job `remind_evaluations`
    # Bounds on work (docs/operations.md, "Costs, rate limits and timeouts"); 0 turns a rate limit or the timeout off.
    max_query_cost: int = 50_000
    max_anonymous_query_cost: int = 10_000
    rate_limit_points: int = 1_000_000
    anonymous_rate_limit_points: int = 100_000
    rate_limit_seconds: int = 60
    auth_failure_limit: int = 100
    request_timeout_seconds: float = 30.0
    redis_url: str | None = None  # rate limits and live updates shared by every process (docs/operations.md)
    redis_prefix: str = "podium"  # Redis keys and the live-update channel start with it: one per installation
    log_format: str = "text"  # text, or json: one JSON object per line
    metrics_token: str | None = None  # GET /metrics with this bearer token; unset: only from this machine
    currency: str = DEFAULT_CURRENCY  # ISO 4217: every amount of this installation is in it (core/money.py)
    late_cancel_hours: int = 48  # a cancellation less than this before the start is late (reports)
    default_conferencing: str | None = None  # the provider of a session that names none; "manual": no plugin
    solver_max_seconds: float = 60.0  # the longest timeLimitSeconds a proposeSchedule or replan may ask for
    solver_concurrency: int = 1  # solves running at once in one process; the others wait for a slot
    plan_ttl_hours: float = 24.0  # a schedule plan can be applied for this long after it is proposed
    # The environment these settings came from: plugins read `PODIUM_<PLUGIN>_<KEY>` from it.
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Each field from `PODIUM_<FIELD>`; an empty or unset variable keeps the default."""
        env = environment() if env is None else env
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in fields(cls):
            name = f"PODIUM_{f.name.upper()}"
            raw = (env.get(name) or "").strip() if f.name != "env" else ""
            if not raw:
                continue
            try:
                values[f.name] = _parse(f.name, raw, hints[f.name])
            except ValueError as exc:
                problems.append(f"{name}: {exc}, got {raw!r}")
        if problems:
            raise SettingsError("; ".join(problems))
        return cls(**values, env=dict(env))

    def __post_init__(self) -> None:
        """Checked however the settings are made (environment or code), so an app never runs with them."""
        problems = _production_problems({"admin_token": self.admin_token,
                                         "sqlite_synchronous": self.sqlite_synchronous,
                                         "log_format": self.log_format, "currency": self.currency,
                                         "metrics_token": self.metrics_token})
        if problems:
            raise SettingsError("; ".join(problems))


def _production_problems(values: Mapping[str, Any]) -> list[str]:
    """Settings that parse but are unsafe to run with: a guessable admin token, an unknown durability level."""
    problems = []
    token = values.get("admin_token")
    if token is not None and len(token) < MIN_ADMIN_TOKEN_LENGTH:
        problems.append(f"PODIUM_ADMIN_TOKEN: at least {MIN_ADMIN_TOKEN_LENGTH} characters, got {len(token)}; "
                        "make one with: python -c \"import secrets; print(secrets.token_urlsafe(32))\"")
    synchronous = values.get("sqlite_synchronous")
    if synchronous is not None and synchronous.upper() not in SQLITE_SYNCHRONOUS:
        problems.append(f"PODIUM_SQLITE_SYNCHRONOUS: one of {', '.join(SQLITE_SYNCHRONOUS)}, got {synchronous!r}")
    log_format = values.get("log_format")
    if log_format is not None and log_format not in LOG_FORMATS:
        problems.append(f"PODIUM_LOG_FORMAT: one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    metrics_token = values.get("metrics_token")
    if metrics_token is not None and len(metrics_token) < MIN_ADMIN_TOKEN_LENGTH:
        problems.append(f"PODIUM_METRICS_TOKEN: at least {MIN_ADMIN_TOKEN_LENGTH} characters, got {len(metrics_token)}")
    currency = values.get("currency")
    if currency is not None and check_currency(currency):
        problems.append(f"PODIUM_CURRENCY: {check_currency(currency)}")
    return problems
