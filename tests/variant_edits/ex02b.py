"""ex02b's variants (course.toml): solutions/ answers relu; each other variant's reference is the
same file with HIDDEN at its top, the hidden activation of the two forward passes (loss()'s and
gradients()') and its slope in the backward pass set to that variant's (tests/variant_references.py)."""

HIDDEN = 'HIDDEN = "relu"  # the hidden'
LOSS_FORWARD = "np.maximum(z1, 0.0) @ W2 + b2"
FORWARD = "h = np.maximum(z1, 0.0)"
SLOPE = "slope = (z1 > 0).astype(np.float64)  # f'(z1): ReLU's slope is 1 where z1 > 0 and 0 elsewhere"


def _edits(key: str, f_of_z1: str, slope: str) -> list[tuple[str, str]]:
    return [
        (HIDDEN, HIDDEN.replace('"relu"', f'"{key}"')),
        (LOSS_FORWARD, f"{f_of_z1} @ W2 + b2"),
        (FORWARD, f"h = {f_of_z1}"),
        (SLOPE, f"slope = {slope}"),
    ]


EDITS = {
    "leaky_relu": _edits("leaky_relu", "np.maximum(z1, 0.1 * z1)", "np.where(z1 > 0, 1.0, 0.1)"),
    "tanh": _edits("tanh", "np.tanh(z1)", "1.0 - np.tanh(z1) ** 2"),
    "elu": _edits("elu", "np.where(z1 > 0, z1, np.expm1(np.minimum(z1, 0.0)))", "np.where(z1 > 0, 1.0, np.exp(np.minimum(z1, 0.0)))"),
}
