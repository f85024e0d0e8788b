"""The boundary around student code: the sandbox, the worker child, bubblewrap, the own-time clock, the control groups.

Nothing untrusted runs anywhere else.
"""
