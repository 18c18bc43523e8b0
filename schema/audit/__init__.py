"""The audit log, readable by ADMINs."""
