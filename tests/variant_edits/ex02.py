"""ex02's variants (course.toml): solutions/ answers sgd; the other variant's reference is the same file
with CONSTRAINT at its top set to that variant's (tests/variant_references.py)."""

CONSTRAINT = 'CONSTRAINT = "sgd"'

EDITS = {
    "big_batch": [(CONSTRAINT, 'CONSTRAINT = "big_batch"')],
}
