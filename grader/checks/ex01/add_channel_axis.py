"""ex01's check of add_channel_axis(), and its messages: one point for the whole contract (the shape and
values, then the refusal of a wrong rank)."""

import numpy as np


def _shape_values(student, mnist):
    # The contract is any (N, H, W): a batch of 5×7 images tells it from a reshape to (-1, 28, 28, 1).
    small = np.arange(70, dtype=np.int16).reshape(2, 5, 7)
    for x, shown in ((mnist.x_train[:5], "x_train[:5]"), (mnist.x_train[:3].astype(np.float32) / 255, "x_train[:3] as float32 in [0, 1]"),
                     (small, "np.arange(70, dtype=np.int16).reshape(2, 5, 7) (two 5×7 images)")):
        expected = x[..., np.newaxis]
        r = student.call("add_channel_axis", x, shown=shown, expect=f"a {x.dtype} array of shape {expected.shape}")
        out = r.array()
        if out.shape != expected.shape:
            n = len(x)
            if out.shape == (n, 1, 28, 28):
                cause = "the channel axis went first (channels-first); Keras expects it last"
            elif out.shape == x.shape:
                cause = "no axis was added"
            elif x.shape[1:] != (28, 28):
                cause = "a shape written for MNIST's 28×28 images rather than read from the input's own (N, H, W)"
            else:
                cause = ""
            raise r.fail(f"got shape {out.shape}", cause=cause, hint="np.expand_dims adds an axis where you say; -1 means at the end")
        if out.dtype != x.dtype:
            raise r.fail(f"got dtype {out.dtype}", cause="a conversion that the task does not ask for", hint="adding an axis never needs astype")
        if not np.array_equal(out, expected):
            raise r.fail("got the right shape but different values", cause="the pixels were reordered or changed")


def _rejects_wrong_rank(student, mnist):
    x = mnist.x_train[:5]
    for bad, shown in ((x[0], "x_train[0] (one image, shape (28, 28))"), (x[..., np.newaxis], "an array that already has the axis, shape (5, 28, 28, 1)")):
        r = student.call("add_channel_axis", bad, shown=shown, expect="ValueError: the input must have rank 3 (N, H, W)")
        r.expect_raises(
            "ValueError",
            hint="check images.ndim == 3 before adding the axis",
            contract="Raises ValueError if `images` is not rank 3 (a single image, or images that already have a channel axis)",
        )


def test_add_channel_axis_shape_values(student, mnist):
    _shape_values(student, mnist)
    _rejects_wrong_rank(student, mnist)
