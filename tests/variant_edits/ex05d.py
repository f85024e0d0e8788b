"""ex05d's variants (course.toml): solutions/ answers unit; each other variant's reference is the same file
with PIXELS at its top set to that variant's (tests/variant_references.py)."""

PIXELS = 'PIXELS = "unit"'

EDITS = {
    "standardized": [(PIXELS, 'PIXELS = "standardized"')],
    "signed": [(PIXELS, 'PIXELS = "signed"')],
}
