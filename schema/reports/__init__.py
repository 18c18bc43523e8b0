"""Reports: KPIs over a period, grouped (core/services/reports.py); the audit log for ADMINs."""
