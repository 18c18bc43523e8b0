"""Enrolments, the waitlist, approvals and attendance."""
