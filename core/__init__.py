"""Podium's domain core: what a plugin imports is re-exported here."""
from .errors import DomainError, ErrorCode
from .hookspecs import hookimpl, hookspec

__all__ = ["DomainError", "ErrorCode", "hookimpl", "hookspec"]
