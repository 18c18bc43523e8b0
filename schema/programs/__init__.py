"""Blended programs: templates, programs, journeys, readiness and certifications."""
