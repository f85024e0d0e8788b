"""ex05b's variants (course.toml): solutions/ answers d1p2; each other variant's reference is the
same file with the two numbers at its top set to that variant's (tests/variant_references.py)."""

DILATION = "DILATION = 1  # the step"
POOL = "POOL = 2  # max_pool2d's"

EDITS = {
    "d1p3": [(POOL, POOL.replace("2", "3", 1))],
    "d2p2": [(DILATION, DILATION.replace("1", "2", 1))],
    "d2p3": [(DILATION, DILATION.replace("1", "2", 1)), (POOL, POOL.replace("2", "3", 1))],
}
