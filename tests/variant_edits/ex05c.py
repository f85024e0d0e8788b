"""ex05c's variants (course.toml): solutions/ answers classic_adam; each other variant's reference is the
same file with the two names at its top set to that variant's (tests/variant_references.py)."""

MOMENTUM = 'MOMENTUM = "classic"'
ADAPTIVE = 'ADAPTIVE = "adam"'

EDITS = {
    "nesterov_amsgrad": [(MOMENTUM, 'MOMENTUM = "nesterov"'), (ADAPTIVE, 'ADAPTIVE = "amsgrad"')],
    "nesterov_adamax": [(MOMENTUM, 'MOMENTUM = "nesterov"'), (ADAPTIVE, 'ADAPTIVE = "adamax"')],
    "classic_amsgrad": [(ADAPTIVE, 'ADAPTIVE = "amsgrad"')],
}
