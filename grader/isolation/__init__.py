"""The boundary around student code: the sandbox, the worker child, bubblewrap, the own-time clock, the control groups, the resource limits, what crosses back, the safe file helpers.

Nothing untrusted runs anywhere else.
"""
