"""Exercise 03b's checks, one module per graded function: its checks and their teaching messages.

grader/checks/ex03b_experiment.py collects them in course.toml's order (pytest finds them there,
so every check shares that module's worker and fixtures); `common` holds what several share.
"""
