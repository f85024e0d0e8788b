"""Exercise 01's checks, one module per graded function: its checks and their teaching messages.

grader/checks/ex01_preprocessing.py collects them in course.toml's order (pytest finds them there,
so every check shares that module's worker and fixtures).
"""
