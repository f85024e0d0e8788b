"""ex05b's checks of max_pool2d_backward(), and their messages."""

from __future__ import annotations

import numpy as np

from grader.references import ex05b_conv_by_hand as ref  # the seeded cases and what Keras's layers compute on them
from grader.checks.ex05b.common import _other_variant, _params
from grader.checks.ex05b.conv2d_backward import _forward_of_another_variant
from grader.checks.ex05b.max_pool2d import _pooling


def _check_pool_backward(student, variant, kind: str):
    p = _params(variant)["pool"]
    for x, situation in ref.pool_gradient_inputs()[kind]:
        dout = ref.pool_dout(x, p)
        r = student.call("max_pool2d_backward", x, dout, shown=f"x (shape {x.shape}), dout (seeded random, shape {dout.shape})",
                         expect=f"a float32 array of shape {x.shape}: the gradient tf.GradientTape takes back through keras.layers.{_pooling(p)}")
        if r.outcome.status != "returned":  # dout's shape is the variant's: another's file may refuse it
            _forward_of_another_variant(student, variant, r, "max_pool2d", x, f"it raised {r.outcome.exc_type} on a dout of your variant's shape ({situation}), and your max_pool2d's output on the same x is")
        got, want = r.array(), ref.pool_gradient(x, dout, p)
        if got.shape == want.shape and np.allclose(got, want, rtol=0, atol=1e-6) and got.dtype == np.float32:
            continue
        if got.dtype != np.float32 and got.shape == want.shape and np.allclose(got, want, rtol=1e-3, atol=1e-3):
            raise r.fail(f"got dtype {got.dtype} ({situation}), the right values to its precision", "a float32 array",
                         cause="a result kept in another precision", hint="return a float32 array, as max_pool2d's output")
        if got.shape == want.shape and not np.allclose(got, want, rtol=0, atol=1e-6):
            if other := _other_variant(student, variant, lambda v: v["pool"] != p and np.allclose(got, ref.pool_gradient(x, ref.pool_dout(x, v["pool"]), v["pool"]), atol=1e-6)):
                raise other(r, f"got different values ({situation})")
        cause, hint = "", "only the value that won a block had an effect on the output: it gets the block's dout, every other value 0"
        if got.shape != want.shape:
            _forward_of_another_variant(student, variant, r, "max_pool2d", x, f"got shape {got.shape} ({situation})")
            cause = "the gradient of the output's shape, not the input's" if got.shape == dout.shape else ""
            raise r.fail(f"got shape {got.shape} ({situation})", cause=cause, hint="dx has x's shape: one gradient per input value")
        mistakes = {"every": ("each of a block's equal largest values got the whole of its dout, so the block sends back more than it received",
                              "the docstring says which one of equal values takes it: the first, row by row"),
                    "last": ("the last of a block's equal largest values took the gradient", "the first of them in row-major order takes it"),
                    "spread": (f"every value of a block got dout / {p * p}: that is an average pool's gradient", "the block's largest value alone gets it")}
        for mistake, (because, how) in mistakes.items():
            if np.allclose(got, ref.pool_gradient(x, dout, p, mistake), atol=1e-6):
                cause, hint = because, how
                break
        i = tuple(int(v) for v in np.argwhere(~np.isclose(got, want, rtol=0, atol=1e-6))[0])
        raise r.fail(f"got dx{list(i)} = {float(got[i]) + 0.0:.5g} ({situation})",
                     f"{want[i]:.5g}, the gradient tf.GradientTape takes back through keras.layers.{_pooling(p)} with this dout",
                     cause=cause, hint=hint)


def test_max_pool2d_backward_values(student, variant):
    _check_pool_backward(student, variant, "values")


def test_max_pool2d_backward_ties(student, variant):
    _check_pool_backward(student, variant, "ties")
