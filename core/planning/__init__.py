"""Auto-scheduling (issue 16): the timetable as a CP-SAT model over plain data, with no database access.

problem.py says what is given and answered; slots.py builds candidate starts on wall clocks; model.py
the CP-SAT model; explain.py the necessary conditions checked before it; solve.py the solve; decode.py
the answer and an independent check of it. core/services/planning.py loads the data and applies plans.
"""
