"""Exercise 02b's checks, one module per graded function: its checks and their teaching messages.

grader/checks/ex02b_backprop.py collects them in course.toml's order (pytest finds them there,
so every check shares that module's worker and fixtures); `common` holds what several share
(the variant's activation, the tolerance, course.toml's `sgd` table).
"""
