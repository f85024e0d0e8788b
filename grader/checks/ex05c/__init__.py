"""Exercise 05c's checks, one module per graded function: its checks and their teaching messages.

grader/checks/ex05c_optimizers.py collects them in course.toml's order (pytest finds them there,
so every check shares that module's worker and fixtures); `common` holds what several share
(the variant's optimizers, the numbers drawn from, the tolerances, how a sequence of steps is run).
"""
