"""The grader's reference computations and case generators, apart from the checks (grader/references/README.md)."""
