"""A class run: one grader process per student on this machine or on a Dask cluster, the one child-grader runner, the class page.
"""
