"""The learner's practice (paths, reviews, quizzes, duels, the daily question, the push
channel), relayed to the grader: being built."""

default_handlers: list = []
