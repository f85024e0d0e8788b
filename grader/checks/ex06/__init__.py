"""Exercise 06's checks, one module per graded function: its checks and their teaching messages.

grader/checks/ex06_real_use.py collects them in course.toml's order (pytest finds them there,
so every check shares that module's worker and fixtures); `common` holds the pictures, the
geometry the contract promises and how a prepared picture is read.
"""
