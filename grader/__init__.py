"""The course's grader: pytest checks that run student code in a child process.

See grader/README.md for how it works and the JSON report it writes.
"""
