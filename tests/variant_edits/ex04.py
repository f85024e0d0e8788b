"""ex04's variants (course.toml): solutions/ answers of_true; each other variant's reference is the same
file with PAIRS at its top set to that variant's (tests/variant_references.py)."""

PAIRS = 'PAIRS = "of_true"  # how most_confused_pairs'

EDITS = {
    "of_predicted": [(PAIRS, PAIRS.replace("of_true", "of_predicted", 1))],
    "both_ways": [(PAIRS, PAIRS.replace("of_true", "both_ways", 1))],
}
