"""ex02b's check of sgd_settings(): the training it declares, within the work budget."""

from __future__ import annotations

import math

from grader.feedback import describe
from grader.references import ex02b_backprop as ref  # the grader's forward pass, gradients, inputs and unseen task
from grader.checks.ex02b.common import _sgd


SETTING_TYPES = {"n_hidden": int, "epochs": int, "batch_size": int, "learning_rate": float}


def _flops(value: float) -> str:
    for unit, size in (("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.3g} FLOP"


def _settings(student, mnist) -> tuple[dict, object]:
    """The validated settings (and the call that gave them), within the work cap."""
    r = student.call("sgd_settings", expect="a dict with n_hidden, epochs, batch_size and learning_rate")
    value = r.value
    sgd = _sgd(student.exercise)
    n_train = len(mnist.x_train)
    if not isinstance(value, dict):
        raise r.fail(f"got {describe(value)}", hint='return {"n_hidden": ..., "epochs": ..., "batch_size": ..., "learning_rate": ...}')
    missing = [k for k in SETTING_TYPES if k not in value]
    extra = [k for k in value if k not in SETTING_TYPES]
    if missing or extra:
        raise r.fail(
            f"got the keys {sorted(value)}",
            f"exactly {list(SETTING_TYPES)}",
            cause=f"missing {missing}" if missing else f"unknown {extra}",
            hint="the keys are train()'s arguments, apart from x, y and seed",
        )
    for key, kind in SETTING_TYPES.items():
        v = value[key]
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) if kind is float else isinstance(v, int) and not isinstance(v, bool)
        if not ok:
            raise r.fail(f"{key} is {describe(v)}", f"{'a number' if kind is float else 'a Python int'}", hint="plain Python numbers: int(...), float(...)")
    limits = {"n_hidden": (1, sgd["max_hidden"]), "epochs": (1, sgd["max_epochs"]), "batch_size": (1, n_train)}
    for key, (low, high) in limits.items():
        if not low <= value[key] <= high:
            raise r.fail(f"{key} is {value[key]}", f"{key} from {low} to {high:,}", hint="see sgd_settings()'s docstring for the ranges")
    if not (math.isfinite(value["learning_rate"]) and value["learning_rate"] > 0):
        raise r.fail(f"learning_rate is {value['learning_rate']!r}", "a finite number above 0", hint="steps go against the gradient: a positive learning rate")
    reference = sgd["reference"]
    declared = ref.work(sgd, n_train, value["n_hidden"], value["epochs"], value["batch_size"])
    ref_work = ref.work(sgd, n_train, reference["n_hidden"], reference["epochs"], reference["batch_size"])
    cap = sgd["cost_cap"] * ref_work
    if declared > cap:
        raise r.fail(
            f"{value['epochs']} epochs × ({n_train:,} images × 3 × {_flops(ref.forward_flops(value['n_hidden']))} forward + "
            f"{math.ceil(n_train / value['batch_size']):,} steps × {_flops(sgd['step_flops'])}) = {_flops(declared)} of training work",
            f"at most {_flops(cap)} ({sgd['cost_cap']:g}× the reference's {_flops(ref_work)})",
            cause="more epochs, a wider hidden layer or a smaller batch than this exercise needs",
            hint="count the work with the docstring's formula before you hand in: lower epochs or n_hidden, or raise batch_size",
        )
    return {k: (float(value[k]) if k == "learning_rate" else int(value[k])) for k in SETTING_TYPES}, (declared, cap, ref_work)


def test_sgd_settings_within_budget(student, mnist):
    _settings(student, mnist)
