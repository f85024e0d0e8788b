"""ex06's checks of predict_digit(), and their messages, with the probe models it is called with (`probes`, a
fixture of grader/checks/ex06_real_use.py's module).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pytest

from grader.checks.ex06.common import python_number
from grader.feedback import describe
from grader.references import ex06_real_use as ref  # the pictures, the digit reader and the probe models
from grader.isolation.sandbox import ModelArg
from grader.shared_cache import shared_files


# The models: Rescaling(1/255) then one Dense softmax layer whose weights are
# class templates (the mean training image of each digit), so the model reads
# digits fairly well and every probability can be computed here in NumPy.
# Two variants take the two input shapes of the course's models.


@dataclass
class Probe:
    model: ModelArg
    kind: str  # how it reads in messages
    kernel: np.ndarray
    bias: np.ndarray

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """What the model outputs for raw pixels 0..255 (it divides by 255 itself)."""
        x = pixels.reshape(-1, 784).astype(np.float64) / 255
        return ref.softmax(x @ self.kernel.astype(np.float64) + self.bias)[0]


@pytest.fixture(scope="module")
def probes(student, mnist, settings, tmp_path_factory):
    # A missing file or an untouched stub needs no probe models, and so no Keras
    # in the grader: one call with a plain array tells (any other outcome is
    # ignored; the checks call with real models below).
    blank = np.zeros((28, 28), np.float32)
    first = student.call("predict_digit", blank, blank, shown="predict_digit(<not a model>, image)")
    if first.not_started or first.outcome.stage == "import" or first.outcome.status == "missing_function":
        first.value  # noqa: B018 - raises the explanation
    kernel, bias = ref.probe_weights(mnist)
    # Saved once per run's cache folder (a class's gradings share them, and import Keras
    # for them once); each file's probes are copies whose bias is shifted for it (h5py).
    # The expected answers come from `kernel` and the shifted bias here, never from the files.
    identity = {"ex06 probe models": [name for name, _, _ in ref.PROBE_MODELS], "kernel": hashlib.sha256(kernel.tobytes()).hexdigest(),
                "bias": hashlib.sha256(bias.tobytes()).hexdigest()}
    folder = shared_files(settings.training_cache, identity, lambda into: ref.save_probe_models(kernel, bias, into),
                          scratch=tmp_path_factory.mktemp("ex06-models"))
    own, shifted = tmp_path_factory.mktemp("ex06-own-models"), ref.shifted_bias(bias, student.probe_seed)
    return {name: Probe(ModelArg(ref.with_bias(folder / f"probe-{name}.keras", shifted, own / f"probe-{name}.keras")), kind, kernel, shifted)
            for name, _, kind in ref.PROBE_MODELS}


def _probe_images(mnist, probe: Probe) -> list[tuple[np.ndarray, str]]:
    """Five MNIST test digits as prepare_image returns them (float32 in [0, 1]),
    the first whose four most probable digits are at least 0.01 apart, so the
    expected top 3 is unambiguous in float32."""
    chosen = []
    for i in range(min(500, len(mnist.x_test))):
        image = mnist.x_test[i].astype(np.float32) / 255
        p = np.sort(probe.probabilities(image * 255))[::-1]
        if np.all(p[:3] - p[1:4] >= 0.01):
            chosen.append((image, f"x_test[{i}] / 255"))
        if len(chosen) == 5:
            break
    return chosen


def _answer(r):
    """(digit, confidence, top3) from a call, with the classic shape mistake explained."""
    o = r.outcome
    if o.status == "raised" and o.stage == "call" and ("incompatible" in o.exc_message or "Invalid input shape" in o.exc_message):
        text = re.sub(r"\\x1b\[[0-9;]*m", "", o.exc_message)
        detail = next((line.strip() for line in text.splitlines() if "Expected shape" in line or "incompatible" in line), "")
        detail = re.sub(r"^Invalid input shape for input .*? with name '[^']*' and path '[^']*'\. ", "", detail)
        raise r.fail(
            f"the model refused the input: {detail[:300]}" if detail else f"it raised {o.exc_type}: the model refused the input's shape",
            cause="the image reached the model without a batch axis, or flattened: a model takes a batch shaped like model.input_shape",
            hint="reshape to a batch of one image: (1, 28, 28) or (1, 28, 28, 1), whichever model.input_shape says",
        )
    value = r.value
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise r.fail(f"got {describe(value)}", hint="return the three values as one tuple, in the docstring's order: the digit, its confidence, the top 3")
    return value


def _predicted(student, probe: Probe, image: np.ndarray, shown: str):
    return student.call(
        "predict_digit",
        probe.model,
        image,
        shown=f"{probe.kind}, {shown}",
        expect="(digit, confidence, top3): a Python int, a Python float and a list of three (int, float) tuples",
    )


def test_predict_digit_types(student, mnist, probes):
    image, shown = _probe_images(mnist, probes["cnn"])[0]
    r = _predicted(student, probes["cnn"], image, shown)
    digit, confidence, top3 = _answer(r)
    python_number(r, "digit", digit, int)
    python_number(r, "confidence", confidence, float)
    if not isinstance(top3, list) or len(top3) != 3:
        cause = "a NumPy array (np.argsort's result) was returned as it is" if isinstance(top3, np.ndarray) else ""
        raise r.fail(f"top3 is {describe(top3)}", "a list of three (digit, probability) tuples", cause=cause, hint="build it with a list comprehension")
    for i, item in enumerate(top3):
        if not isinstance(item, tuple) or len(item) != 2:
            raise r.fail(f"top3[{i}] is {describe(item)}", "a (digit, probability) tuple")
        python_number(r, f"top3[{i}][0]", item[0], int)
        python_number(r, f"top3[{i}][1]", item[1], float)


def _values_case(student, probe: Probe, image: np.ndarray, shown: str):
    r = _predicted(student, probe, image, shown)
    digit, confidence, _ = _answer(r)
    expected = probe.probabilities(image * 255)
    best = int(np.argmax(expected))
    if isinstance(digit, (int, np.integer)) and int(digit) == best and isinstance(confidence, (float, np.floating)) and abs(float(confidence) - expected[best]) <= 1e-4:
        return
    unscaled = probe.probabilities(image)
    cause = ""
    if isinstance(confidence, (float, np.floating)) and abs(float(confidence) - unscaled.max()) <= 1e-4:
        cause = "the image went in as values 0..1, but course models take raw pixels 0..255 (their Rescaling layer divides by 255)"
    elif isinstance(confidence, (float, np.floating)) and 0 <= float(confidence) < 1 and np.isclose(expected, float(confidence), atol=1e-4).any():
        k = int(np.argmin(np.abs(expected - float(confidence))))
        cause = f"that is the probability of digit {k}, not of the most probable one"
    raise r.fail(
        f"got digit {digit!r} with confidence {confidence!r}",
        f"digit {best} with confidence {expected[best]:.4f}",
        cause=cause,
        hint="multiply the image by 255, reshape it to a batch of one, and take the largest of the 10 probabilities",
    )


def test_predict_digit_values(student, mnist, probes):
    for probe in (probes["cnn"], probes["dense"]):
        for image, shown in _probe_images(mnist, probe):
            _values_case(student, probe, image, shown)


def test_predict_digit_top3(student, mnist, probes):
    for probe in (probes["cnn"], probes["dense"]):
        for image, shown in _probe_images(mnist, probe):
            r = _predicted(student, probe, image, shown)
            digit, confidence, top3 = _answer(r)
            expected = probe.probabilities(image * 255)
            order = np.argsort(expected)[::-1][:3]
            want = [(int(k), float(expected[k])) for k in order]
            wanted = ", ".join(f"({k}, {p:.4f})" for k, p in want)
            try:
                got = [(int(k), float(p)) for k, p in top3]
            except (TypeError, ValueError):
                raise r.fail(f"top3 is {describe(top3)}", f"[{wanted}]", hint="a list of three (digit, probability) tuples") from None
            shown_got = "[" + ", ".join(f"({k}, {p:.4f})" for k, p in got) + "]"
            if len(got) == 3 and all(k == wk and abs(p - wp) <= 1e-4 for (k, p), (wk, wp) in zip(got, want)):
                try:
                    same = int(digit) == got[0][0] and abs(float(confidence) - got[0][1]) <= 1e-6
                except (TypeError, ValueError):
                    same = False
                if not same:
                    raise r.fail(
                        f"top3[0] is {got[0]} but the function returned digit {digit!r}, confidence {confidence!r}",
                        "top3[0] == (digit, confidence)",
                        cause="digit and confidence computed separately from top3, one of them differently",
                    )
                continue
            ks = [k for k, _ in got]
            unscaled = probe.probabilities(image)
            least = [int(k) for k in np.argsort(expected)[:3]]
            if len(got) == 3 and ks == [int(k) for k in np.argsort(unscaled)[::-1][:3]] and abs(got[0][1] - unscaled.max()) <= 1e-4:
                cause = "the image went in as values 0..1, but course models take raw pixels 0..255 (their Rescaling layer divides by 255)"
                hint = "multiply the image by 255 before predicting"
            elif len(got) == 3 and (ks == least or ks == least[::-1]):
                cause = "the three LEAST probable digits: np.argsort sorts from small to large"
                hint = "reverse the order, np.argsort(p)[::-1], or sort by -p"
            elif len(got) == 3 and sorted(ks) == sorted(k for k, _ in want):
                cause = "the right three digits in the wrong order"
                hint = "most probable first: sort by probability, descending"
            elif len(set(ks)) < len(ks):
                cause = "the same digit appears more than once"
                hint = "take three different indices from one sort, not argmax three times"
            else:
                cause = ""
                hint = "sort the ten digits by their probability, largest first, and keep three"
            raise r.fail(f"got top3 = {shown_got}", f"[{wanted}]", cause=cause, hint=hint)
