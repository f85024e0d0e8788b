"""The course's checks: one module per exercise, one `test_<check>` per check named in course.toml.

Collected by grader/pytest.ini (`python_files = ex[0-9]*.py`, never a module of the folders below); named for what they are, not `test_*`.
Where an exercise's checks run past a few hundred lines they live in the folder named for its id
(`ex04/`), one module per graded function with its teaching messages; the exercise's module holds
its fixtures and imports them in course.toml's order, so pytest still collects them there.
"""
