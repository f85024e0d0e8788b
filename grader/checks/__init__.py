"""The course's checks: one module per exercise, one `test_<check>` per check named in course.toml.

Collected by grader/pytest.ini (`python_files = ex*.py`); named for what they are, not `test_*`.
"""
