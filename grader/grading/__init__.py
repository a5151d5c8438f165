"""Grading a submission: its notebooks, the run in a sandbox, the score, question types, the queue and its workers."""
