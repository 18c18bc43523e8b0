"""Budgets: amounts to spend on a course, a program, a venue or everything over a period."""
