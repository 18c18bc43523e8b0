"""Courses, people and resources: the catalogue sessions are made of."""
