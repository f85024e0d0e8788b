"""ex03b's variants (course.toml): solutions/ answers one_sd; each other variant's reference is the same
file with RULE at its top set to that variant's (tests/variant_references.py)."""

RULE = 'RULE = "one_sd"  # choose_width'

EDITS = {
    "one_se": [(RULE, RULE.replace("one_sd", "one_se", 1))],
    "worst_seed": [(RULE, RULE.replace("one_sd", "worst_seed", 1))],
}
