"""Exercise 05b's checks, one module per graded function: its checks and their teaching messages.

grader/checks/ex05b_conv_by_hand.py collects them in course.toml's order (pytest finds them there,
so every check shares that module's worker and fixtures); `common` holds what several share
(the tolerance, the variant's dilation and pool, how a case is called).
"""
