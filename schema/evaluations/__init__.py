"""Evaluations: forms per course, submissions (by link token or own enrolment), knowledge scores, results."""
