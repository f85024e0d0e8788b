"""ex03's variants (course.toml): solutions/ answers budget; the other variant's reference is the same file
with CONSTRAINT at its top set to that variant's (tests/variant_references.py)."""

CONSTRAINT = 'CONSTRAINT = "budget"'

EDITS = {
    "tight_budget": [(CONSTRAINT, 'CONSTRAINT = "tight_budget"')],
}
