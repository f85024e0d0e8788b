"""ex04's variants (course.toml): solutions/ answers f1; each other variant's reference is the same
file with BETA at its top set to that variant's (tests/variant_references.py)."""

BETA = "BETA = 1  # precision_recall_f1's"

EDITS = {
    "f2": [(BETA, BETA.replace("1", "2", 1))],
    "f05": [(BETA, BETA.replace("1", "0.5", 1))],
}
