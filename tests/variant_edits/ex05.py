"""ex05's variants (course.toml): solutions/ answers shifted; each other variant's reference is the same file
with CONSTRAINT at its top set to that variant's (tests/variant_references.py)."""

CONSTRAINT = 'CONSTRAINT = "shifted"'

EDITS = {
    "small_data": [(CONSTRAINT, 'CONSTRAINT = "small_data"')],
    "budget": [(CONSTRAINT, 'CONSTRAINT = "budget"')],
}
