"""Log lines as text or JSON (PODIUM_LOG_FORMAT), each with the id of the request it belongs to.

The configuration is a `logging.config.dictConfig` dict handed to uvicorn as its `log_config`: uvicorn
applies it in every worker process it starts, so `--workers N` logs like one process does."""
from __future__ import annotations

import contextvars
import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("podium_request_id", default=None)
"""The id of the request being served in this task (set by server.app.RequestIds)."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id of the task that logs it (None outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} request_id={request_id}" if request_id else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id, pid, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None), "pid": record.process}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_config(level: str = "info", log_format: str = "text") -> dict[str, Any]:
    """Every logger (Podium's, uvicorn's, the libraries') to stderr in one format."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"podium": {"()": formatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "podium", "filters": ["request_id"]}},
        "root": {"handlers": ["stderr"], "level": level},
        # uvicorn's own handlers are replaced: its lines go through the root handler like everyone's
        "loggers": {name: {"handlers": [], "propagate": True, "level": level}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }


def configure_logging(level: str = "info", log_format: str = "text") -> dict[str, Any]:
    """Configure this process; returns the dict, for uvicorn to configure its workers the same way."""
    config = log_config(level, log_format)
    logging.config.dictConfig(config)
    return config
