"""NumPy by hand (issue 34, item 1): an exercise whose learning goal is the computation
itself (course.toml's `by_hand`: ex01, ex02b, ex04, ex05b, ex05c) is graded in a worker where the
libraries that would do its work do not exist. Its sandbox hides their folders
(isolation/bubblewrap.py), and its import system hands back stand-ins that fail when
used and tell the grader what was used (isolation/_child.py). Each function that used
one earns nothing, with one teaching message at the exercise; the others keep their points.

Proven both ways: each case below earns those points with the protection switched
off (MNIST_COURSE_BY_HAND=off), and code that removes the stand-ins to reach the real
library earns them with only the sandbox switched off (MNIST_COURSE_SANDBOX=off).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
import textwrap
import types
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from corpus import COURSE, edited, filled, grade_class
from grader import scoring
from grader.references import ex04_evaluation as ex04_references
from grader.isolation import _child
from grader.reports.formats import html_feedback, markdown_feedback
from mnist_course.course import ROOT

# ex05b's convolution, the two lines a library can replace (x is already padded there).
NUMPY_CONV = """\
    # every kh x kw window, strided: shape (N, out_h, out_w, C_in, kh, kw)
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    out = np.einsum("nhwcij,ijco->nhwo", windows, kernels.astype(np.float64)) + bias
"""
TF_CONV = "{tf}.nn.conv2d(x.astype(np.float32), kernels.astype(np.float32), strides=stride, padding='VALID').numpy() + bias"
SCIPY_CONV = """\
    out = np.zeros((x.shape[0], x.shape[1] - kh + 1, x.shape[2] - kw + 1, c_out))
    for n in range(x.shape[0]):
        for o in range(c_out):
            for c in range(c_in):
                out[n, :, :, o] += {signal}.correlate2d(x[n, :, :, c], kernels[:, :, c, o], mode="valid")
    out = out[:, ::stride, ::stride] + bias
"""
NUMPY_COUNT = """\
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm
"""


def _ex05b(conv: str, imports: str = "") -> str:
    source = edited("ex05b", {NUMPY_CONV: conv})
    return source.replace("import numpy as np\n", f"import numpy as np\n{imports}", 1)


# case: (exercise, source, {function: the name the report says it used}, more files of the student's)
CASES = {
    "tf_nn_conv2d": ("ex05b", _ex05b(f"    out = {TF_CONV.format(tf='tf')}\n", "import tensorflow as tf\n"), {"conv2d": "tensorflow.nn.conv2d"}, {}),
    "dunder_import": ("ex05b", _ex05b(f"    tf = __import__('tensorflow')\n    out = {TF_CONV.format(tf='tf')}\n"), {"conv2d": "tensorflow.nn.conv2d"}, {}),
    "importlib": (
        "ex05b",
        _ex05b("    import importlib\n    out = " + TF_CONV.format(tf="importlib.import_module('tensorflow')") + "\n"),
        {"conv2d": "tensorflow.nn.conv2d"},
        {},
    ),
    "caught_then_by_hand": (  # the library tried first: a use is a use, even caught
        "ex05b",
        _ex05b(f"    try:\n        out = {TF_CONV.format(tf='tf')}\n    except Exception:\n" + textwrap.indent(NUMPY_CONV, "    "), "import tensorflow as tf\n"),
        {"conv2d": "tensorflow.nn.conv2d"},
        {},
    ),
    "scipy_through_own_package": (  # the library reached through another package (the student's own)
        "ex05b",
        _ex05b("    out = helpers.correlate(x, kernels, stride, kh, kw, c_in, c_out) + bias\n", "import helpers\n"),
        {"conv2d": "scipy.signal.correlate2d"},
        {"helpers/__init__.py": "import numpy as np\nfrom scipy import signal\n\n\ndef correlate(x, kernels, stride, kh, kw, c_in, c_out):\n"
         + SCIPY_CONV.replace(" + bias", "").replace("{signal}", "signal") + "    return out\n"},
    ),
    "sklearn_confusion_matrix": (
        "ex04",
        edited("ex04", {NUMPY_COUNT: "    if len(y_true) == 0:  # scikit-learn refuses no samples\n        return np.zeros((num_classes, num_classes), np.int64)\n"
                        "    return sk_confusion_matrix(y_true, y_pred, labels=np.arange(num_classes)).astype(np.int64)\n",
                        "import numpy as np\n": "import numpy as np\nfrom sklearn.metrics import confusion_matrix as sk_confusion_matrix\n"}),
        {"confusion_matrix": "sklearn.metrics.confusion_matrix"},
        {},
    ),
}
# mcnemar()'s exact tail counted with SciPy's integer comb, math.comb when that fails; compare_models() computes its
# own p-value and never calls mcnemar(), so only mcnemar() uses the library. compare_models_verdict counts once
# mcnemar_p_value passes: it earns nothing with mcnemar() (scoring.depends_on), and every point with the protection off.
CASES["scipy_comb_beside_a_dependent"] = ("ex04", filled(
    "ex04",
    mcnemar="""\
        y_true, pred_a, pred_b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
        right_a, right_b = pred_a == y_true, pred_b == y_true
        b, c = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
        try:
            from scipy.special import comb
            tail = sum(comb(b + c, k, exact=True) for k in range(min(b, c) + 1))
        except Exception:
            from math import comb
            tail = sum(comb(b + c, k) for k in range(min(b, c) + 1))
        return b, c, min(1.0, 2 * tail / 2 ** (b + c))
    """,
    compare_models="""\
        from math import comb
        right_a, right_b = np.asarray(pred_a) == np.asarray(y_true), np.asarray(pred_b) == np.asarray(y_true)
        b, c = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
        p_value = min(1.0, 2 * sum(comb(b + c, k) for k in range(min(b, c) + 1)) / 2 ** (b + c))
        return "neither" if p_value >= alpha else "A" if b > c else "B"
    """,
), {"mcnemar": "scipy.special.comb"}, {})
# ex05c's adaptive step taken by Keras's own Adam, its slots loaded from the moments and read back: right with the
# protection off (fit() calls it, so fit's checks reach Keras too)
KERAS_ADAM = """\
    opt = keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=ADAPTIVE == "amsgrad")
    var = keras.Variable(np.array(weights, np.float64), dtype="float64")
    opt.build([var])
    m, v, v_max = np.array(moments, np.float64)
    opt._momentums[0].assign(m)
    opt._velocities[0].assign(v)
    if ADAPTIVE == "amsgrad":
        opt._velocity_hats[0].assign(v_max)
    opt.iterations.assign(step - 1)
    opt.apply([np.array(gradient, np.float64)], [var])
    kept = [opt._momentums[0].numpy(), opt._velocities[0].numpy(), opt._velocity_hats[0].numpy() if ADAPTIVE == "amsgrad" else v_max]
    return np.array(var.numpy(), np.float64), np.stack(kept).astype(np.float64)
"""
# The grader's own reference for most_confused_pairs's sizes, pasted beside a sort (the review of the change that made
# its variants found it in plain NumPy, a whole answer): it reads its counts through pandas, so the paste earns nothing.
PASTED_PAIRS = """\
    if np.ndim(cm) != 2 or np.shape(cm)[0] != np.shape(cm)[1] or not np.issubdtype(np.asarray(cm).dtype, np.integer):
        raise ValueError("cm must be a square integer matrix")
    if (np.asarray(cm) < 0).any() or k < 1:
        raise ValueError("a negative count, or k < 1")
    ranked = sorted(confusion_sizes(cm, PAIRS).items(), key=lambda item: (-item[1][1], item[0]))
    return [(int(i), int(j), int(count)) for (i, j), (count, _) in ranked[:k]]
"""
CASES["grader_pairs_reference_pasted"] = ("ex04", filled("ex04", most_confused_pairs=PASTED_PAIRS) + "\n\n" + inspect.getsource(ex04_references.confusion_sizes),
                                          {"most_confused_pairs": "pandas.DataFrame"}, {})
CASES["keras_adam"] = ("ex05c", filled("ex05c", adaptive_step=KERAS_ADAM, _imports="import keras"),
                       {"adaptive_step": "keras.optimizers.Adam", "fit": "keras.optimizers.Adam"}, {})
# Past the stand-ins to another installed copy: a virtualenv's base interpreter keeps its
# own site-packages, mounted with the runtime (an adversarial review earned 17/17 there
# before the sandbox hid every installed copy).
CASES["scipy_from_the_base_interpreter"] = ("ex05b", _ex05b(
    "    import importlib, sys, sysconfig\n"
    "    sys.meta_path[:] = [f for f in sys.meta_path if 'Guard' not in type(f).__name__]\n"
    "    for name in [m for m in sys.modules if m.split('.')[0] == 'scipy']:\n"
    "        del sys.modules[name]\n"
    "    sys.path.insert(0, sysconfig.get_paths(vars={'base': sys.base_prefix, 'platbase': sys.base_prefix})['purelib'])\n"
    "    signal = importlib.import_module('scipy.signal')\n" + SCIPY_CONV.replace("{signal}", "signal")), {"conv2d": "scipy.signal"}, {})

# Honest NumPy beside allowed libraries that probe a forbidden one (matplotlib's imshow asks
# whether an array is a PIL image) and a forbidden import never used: every point kept.
HONEST = {
    "draws_with_matplotlib": ("ex05b", _ex05b(
        NUMPY_CONV + "    figure = plt.figure()\n    plt.imshow(out[0, :, :, 0])\n    figure.savefig(io.BytesIO(), format='png')\n    plt.close(figure)\n",
        "import io\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n")),
    "imports_pandas_unused": ("ex04", COURSE.exercise("ex04").solution_path.read_text().replace("import numpy as np\n", "import numpy as np\nimport pandas as pd  # noqa: F401\n", 1)),
}
# A use at the top level, not caught: the file cannot be imported.
TOP_LEVEL = {"top_level_use": ("ex05b", _ex05b(NUMPY_CONV, "from scipy.signal import windows\nWINDOW = windows.hann(3)\n"))}
# Past the stand-ins: the import hook removed and sys.modules emptied, then the real
# package imported. Only the sandbox stands in the way: its folder is empty there.
PAST_THE_STAND_INS = _ex05b(
    "    import importlib, sys\n"
    "    sys.meta_path[:] = [f for f in sys.meta_path if 'Guard' not in type(f).__name__]\n"
    "    for name in [m for m in sys.modules if m.split('.')[0] == 'scipy']:\n"
    "        del sys.modules[name]\n"
    "    signal = importlib.import_module('scipy.signal')\n" + SCIPY_CONV.replace("{signal}", "signal")
)


def _exercise(out, student: str, exercise_id: str) -> dict:
    report = json.loads((out / "students" / student / "report.json").read_text())
    return next(ex for ex in report["exercises"] if ex["id"] == exercise_id)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mnist_path):
    """Each case graded as a class twice, with the protection on and off, and the case
    past the stand-ins with the sandbox on and off: {state: folder of reports}."""
    submissions = {case: (exercise, source) for case, (exercise, source, _, _) in CASES.items()}
    extra = {case: files for case, (_, _, _, files) in CASES.items() if files}
    return {
        "on": grade_class({**submissions, **HONEST, **TOP_LEVEL, "past_the_stand_ins": ("ex05b", PAST_THE_STAND_INS)}, tmp_path_factory.mktemp("on"), mnist_path, extra=extra),
        "off": grade_class({**submissions, **TOP_LEVEL}, tmp_path_factory.mktemp("off"), mnist_path, env={"MNIST_COURSE_BY_HAND": "off"}, extra=extra),
        "no_sandbox": _graded_alone("ex05b", PAST_THE_STAND_INS, tmp_path_factory.mktemp("no_sandbox"), mnist_path, {"MNIST_COURSE_SANDBOX": "off"}),
    }


def _graded_alone(exercise_id: str, source: str, folder, mnist_path: str, env: dict[str, str]) -> dict:
    """`grader` on one folder, as a student runs it (a class is graded only in the sandbox): its report."""
    (folder / "student").mkdir()
    (folder / "student" / COURSE.exercise(exercise_id).filename).write_text(source)
    done = subprocess.run(
        [sys.executable, "-m", "grader", exercise_id, "--target", str(folder / "student"), "--data", mnist_path, "--json", str(folder / "report.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, **env},
    )
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads((folder / "report.json").read_text())


@pytest.mark.parametrize("case", CASES)
def test_a_function_that_uses_a_library_earns_nothing_and_the_others_keep_their_points(graded, case):
    """...but for a check that counts once one of the used functions' checks passes
    (scoring.depends_on): it earns nothing either."""
    exercise_id, _, used, _ = CASES[case]
    exercise = COURSE.exercise(exercise_id)
    ex = _exercise(graded["on"], case, exercise_id)
    checks = importlib.import_module(f"grader.checks.{exercise.module}")
    for check in ex["checks"]:
        waits_on = [name for name in scoring.declared_names(getattr(checks, f"test_{check['name']}"))[0]
                    if exercise.function_of_check(name).name in used]
        if check["function"] in used:
            assert (check["status"], check["score"], check.get("not_checked")) == ("failed", 0, "by_hand"), check
            assert check["message"] == (
                f"Not checked: {check['function']}() used {used[check['function']]}, which {exercise_id} does not allow; "
                f"see the cause at the top of {exercise_id}."
            )
        elif waits_on:
            assert (check["status"], check["score"], check.get("not_checked")) == ("failed", 0, None), check
            assert check["message"].startswith(f"This check counts once {waits_on[0]} passes, and {waits_on[0]} earns nothing: "), check
            assert f"but for {check['name']}" in ex["by_hand"]["message"]
        else:
            assert (check["status"], check["score"]) == ("passed", check["max_score"]), check
    cause = ex["by_hand"]
    assert cause["functions"] == used and cause["file"] == exercise.filename
    for part in (*used.values(), f"{exercise_id} is NumPy by hand", exercise.by_hand.rstrip("."), f"lesson {exercise.lesson_number}",
                 *(f'"{f.section}"' for f in exercise.functions if f.name in used), "keep their points"):
        assert part in cause["message"], (part, cause["message"])


@pytest.mark.parametrize("case", CASES)
def test_with_the_protection_off_the_same_code_earns_every_point(graded, case):
    exercise_id = CASES[case][0]
    ex = _exercise(graded["off"], case, exercise_id)
    assert ex["score"] == ex["max_score"] and "by_hand" not in ex, [c for c in ex["checks"] if c["status"] != "passed"]


def test_a_use_at_the_top_level_is_the_file_s_one_cause(graded):
    """An uncaught use at import fails the import: every check points to the exercise's
    import_failure, which names the use and the by-hand rule; with the rule off, full points."""
    ex = _exercise(graded["on"], "top_level_use", "ex05b")
    assert "by_hand" not in ex and "its top level used scipy.signal.windows.hann" in ex["import_failure"]["message"]
    assert "ex05b is NumPy by hand" in ex["import_failure"]["message"]
    assert {(c["status"], c["score"], c.get("not_checked")) for c in ex["checks"]} == {("failed", 0, "import_failure")}
    ex = _exercise(graded["off"], "top_level_use", "ex05b")
    assert ex["score"] == ex["max_score"], ex["checks"]


@pytest.mark.parametrize("case", HONEST)
def test_honest_numpy_beside_allowed_libraries_keeps_every_point(graded, case):
    ex = _exercise(graded["on"], case, HONEST[case][0])
    assert ex["score"] == ex["max_score"] and "by_hand" not in ex, [c for c in ex["checks"] if c["status"] != "passed"]


def test_every_installed_copy_of_a_forbidden_package_is_hidden(tmp_path, monkeypatch):
    """Not only the worker's import path: a virtualenv's base interpreter keeps its own
    site-packages, mounted with the runtime, which code could append to sys.path (an
    adversarial review imported the real SciPy from there and earned 17/17)."""
    from grader.isolation import bubblewrap

    venv, base = tmp_path / "venv", tmp_path / "base"
    on_path = venv / "lib" / "python3.11" / "site-packages"
    off_path = base / "lib" / "python3.11" / "site-packages"
    for folder in (on_path / "numpy", off_path / "scipy", off_path / "scipy.libs", on_path / "sklearn"):
        folder.mkdir(parents=True)
    (off_path / "sympy.py").write_text("")
    monkeypatch.setattr(bubblewrap, "_worker_path", lambda: (str(on_path),))
    monkeypatch.setattr(bubblewrap, "_runtime_dirs", lambda: [venv, base])
    monkeypatch.setattr(bubblewrap, "SYSTEM_DIRS", ())
    bubblewrap.package_files.cache_clear()
    try:
        hidden = set(bubblewrap.package_files(("scipy", "sklearn", "sympy")))
    finally:
        bubblewrap.package_files.cache_clear()
    assert hidden == {off_path / "scipy", off_path / "scipy.libs", on_path / "sklearn", off_path / "sympy.py"}


def test_code_that_removes_the_stand_ins_meets_the_sandbox(graded):
    """Past the import hook, the real package is still not there: the sandbox hides its
    folder. With the sandbox off, the same code computes with the real SciPy."""
    ex = _exercise(graded["on"], "past_the_stand_ins", "ex05b")
    assert ex["by_hand"]["functions"] == {"conv2d": "scipy.signal"}
    assert {c["score"] for c in ex["checks"] if c["function"] == "conv2d"} == {0}
    unguarded = graded["no_sandbox"]["exercises"][0]
    assert unguarded["score"] == unguarded["max_score"]


def test_the_cause_is_said_once_on_the_pages_a_student_reads(graded):
    """feedback.md and feedback.html say the exercise's cause once, at its top; each check points to it."""
    folder = graded["on"] / "students" / "tf_nn_conv2d"
    report = json.loads((folder / "report.json").read_text())
    cause = next(ex for ex in report["exercises"] if ex["id"] == "ex05b")["by_hand"]["message"]
    for page in (markdown_feedback(report), html_feedback(report)):
        assert page.count("used tensorflow.nn.conv2d, which this exercise does not allow") == 1
        assert page.count("see the cause at the top of ex05b") == 6  # conv2d's six checks
    assert cause.splitlines()[0] in (folder / "feedback.md").read_text()


def test_gradients_by_gradient_tape_earn_nothing_and_earn_everything_with_the_protection_off(tmp_path, mnist_path):
    """ex02b's gradients() by tf.GradientTape (lesson 2's tape_gradients): its 10 points,
    graded alone (`-k gradients`: no training), with the protection on and off."""
    folder = tmp_path / "student"
    folder.mkdir()
    solution = COURSE.exercise("ex02b").solution_path.read_text()
    start = solution.index("    n = len(x)\n    z1 = x @ W1 + b1")
    end = solution.index("    return value, dW1, db1, dW2, db2")
    tape = """\
    params = [tf.Variable(p) for p in (W1, b1, W2, b2)]
    with tf.GradientTape() as tape:
        logits = tf.nn.relu(x @ params[0] + params[1]) @ params[2] + params[3]
        value = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    dW1, db1, dW2, db2 = (g.numpy() for g in tape.gradient(value, params))
    value = float(value)
"""
    source = (solution[:start] + tape + solution[end:]).replace("import numpy as np\n", "import numpy as np\nimport tensorflow as tf\n", 1)
    (folder / "ex02b_backprop.py").write_text(source)
    done_in = {}
    for state, env in (("on", {}), ("off", {"MNIST_COURSE_BY_HAND": "off"})):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "grader/checks/ex02b_backprop.py", "-k", "gradients", "-q", "-p", "no:cacheprovider",
             "--target", str(folder), "--data", mnist_path],
            cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, **env},
        )
        done_in[state] = done
    assert "gradients() used tensorflow.Variable, which ex02b does not allow" in done_in["on"].stdout, done_in["on"].stdout[-3000:]
    assert "4 failed" in done_in["on"].stdout and "4 passed" in done_in["off"].stdout, done_in["off"].stdout[-3000:]


def test_a_stand_in_can_be_named_but_not_used():
    """The worker's import hook (isolation/_child.py), in this process on a made-up package:
    importing and naming work, so a file imports and its other functions run; every use
    raises and is noted for the grader."""
    guard = _child._ByHandGuard(["forbidden_pkg"])
    sys.meta_path.insert(0, guard)
    try:
        import forbidden_pkg
        from forbidden_pkg.signal import correlate2d
        from forbidden_pkg import nn

        assert "not available" in repr(nn.conv2d)
        uses = {
            "forbidden_pkg.signal.correlate2d": lambda: correlate2d([1], [1]),
            "forbidden_pkg.nn.conv2d": lambda: nn.conv2d + 1,
            "forbidden_pkg.keras.Model": lambda: types.new_class("M", (forbidden_pkg.keras.Model,)),
            "forbidden_pkg.ops": lambda: list(forbidden_pkg.ops),
        }
        for name, use in uses.items():
            with pytest.raises(_child.LibraryNotAllowed, match="NumPy by hand"):
                use()
            assert guard.take() == [name]
        assert guard.take() == []
        # An isinstance test computes nothing: False, and no use (matplotlib asks it of PIL's Image).
        assert not isinstance(np.zeros(3), forbidden_pkg.Image.Image) and not issubclass(int, forbidden_pkg.Tensor)
        assert guard.take() == []
    finally:
        sys.meta_path.remove(guard)
        for name in [m for m in sys.modules if m.split(".")[0] == "forbidden_pkg"]:
            del sys.modules[name]


def test_the_by_hand_exercises_forbid_what_the_issue_names():
    by_hand = {ex.id for ex in COURSE.exercises if ex.by_hand}
    assert by_hand == {"ex01", "ex02b", "ex04", "ex05b", "ex05c"}
    for ex in COURSE.exercises:
        if ex.by_hand:
            assert {"tensorflow", "keras", "torch", "jax", "scipy", "sklearn"} <= set(ex.forbidden_libraries)
            assert "numpy" not in ex.forbidden_libraries
        else:
            assert ex.forbidden_libraries == ()


def test_every_route_says_the_cause_once_and_points_to_it(graded):
    """Gradescope, Classroom and JUnit say the cause in the exercise's first test and point
    to it from the checks of the function that used the library; the passing functions keep
    their own rows. nbgrader says it in the first such check's cell; class.html's diagnoses
    count it once per student."""
    from grader.classroom.dashboard import _diagnoses
    from grader.notebook import _one_cause
    from grader.reports.formats import classroom_results, gradescope_results, junit_xml

    report = json.loads((graded["on"] / "students" / "tf_nn_conv2d" / "report.json").read_text())
    ex = next(e for e in report["exercises"] if e["id"] == "ex05b")
    report = {**report, "exercises": [ex]}
    heading = "ex05b_conv_by_hand.py uses a library for the work ex05b asks you to do by hand, so every check of conv2d() earns nothing:"
    pointer = "Not checked: conv2d() used tensorflow.nn.conv2d, which ex05b does not allow; see the cause at the top of ex05b."
    conv2d = [c["name"] for c in ex["checks"] if c["function"] == "conv2d"]
    gradescope = {t["name"]: t for t in gradescope_results(report)["tests"]}
    classroom = {t["name"]: t for t in classroom_results(report)["tests"]}
    for said in ({n: t["output"] for n, t in gradescope.items()}, {n: t["message"] for n, t in classroom.items()}):
        first = next(iter(said.values()))
        assert first.startswith(heading) and first.count("which this exercise does not allow") == 1 and "passed" in first
        assert [said[n] for n in said if n.split(" · ")[1].split(" (")[0] in conv2d] == [pointer] * len(conv2d)
    junit = ET.fromstring(junit_xml(report).split("\n", 1)[1])
    failures = {case.get("name"): case.find("failure") for case in junit.iter("testcase")}
    assert set(n for n, f in failures.items() if f is not None) == set(conv2d)
    assert all(failures[n].get("message") == pointer for n in conv2d)
    cells = [_one_cause(ex, c, conv2d[0]) for c in ex["checks"] if c["function"] == "conv2d"]
    assert heading in cells[0] and all(pointer.replace("at the top of ex05b", f"in the test cell of {conv2d[0]}") in cell for cell in cells[1:])
    found = {cause: (n, checks) for cause, n, checks in _diagnoses([("a", report, "graded"), ("b", report, "graded")])}
    assert found[ex["by_hand"]["cause"]] == (2, ["ex05b (a library used by hand)"])


NUMERIC_GRADIENTS = """\
    params = [W1, b1, W2, b2]
    value = loss(x, y, *params)
    grads = []
    for p in params:  # centred finite differences of the student's own loss: no chain rule
        g = np.zeros_like(p)
        flat, gflat = p.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + 1e-5
            up = loss(x, y, *params)
            flat[i] = old - 1e-5
            down = loss(x, y, *params)
            flat[i] = old
            gflat[i] = (up - down) / 2e-5
        grads.append(g)
    dW1, db1, dW2, db2 = grads
"""
# The protection switched off: the cost probe on the tape check's small network, where
# finite differences take a second (set before pytest imports the check, in the same module).
SMALL_COST_PROBLEM = "import grader.checks.ex02b.gradients as checks\nchecks.COST_PROBLEM = {'n': 40, 'hidden': 16}\n"


def test_gradients_by_finite_differences_earn_nothing_and_earn_everything_without_the_cost_probe(tmp_path, mnist_path):
    """Issue 38, item 3: gradients() computed by finite differences of the loss (no library,
    no chain rule) fails both gradient checks with a message that names the cause, because
    on a full-sized network it runs past COST_LIMIT_S of its own time; with the probe on a
    small network, the same code earns those two checks' 7 points, and gradients_derived
    still tells it from a derivation (finite differences are never exact to rounding)."""
    folder = tmp_path / "student"
    folder.mkdir()
    solution = COURSE.exercise("ex02b").solution_path.read_text()
    start = solution.index("    n = len(x)\n    z1 = x @ W1 + b1")
    end = solution.index("    return value, dW1, db1, dW2, db2")
    (folder / "ex02b_backprop.py").write_text(solution[:start] + NUMERIC_GRADIENTS + solution[end:])
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SMALL_COST_PROBLEM)
    done_in = {}
    for state, env in (("on", {}), ("off", {"PYTHONPATH": str(hook)})):
        done_in[state] = subprocess.run(
            [sys.executable, "-m", "pytest", "grader/checks/ex02b_backprop.py", "-k", "gradients", "-q", "-p", "no:cacheprovider",
             "--target", str(folder), "--data", mnist_path],
            cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, **env},
        )
    on = done_in["on"].stdout
    assert "3 failed, 1 passed" in on and on.count("It had not returned after 10 s of its own time") >= 2, on[-3000:]
    assert "finite differences, which need two forward passes per parameter" in on
    off = done_in["off"].stdout
    assert "1 failed, 3 passed" in off and "gradients_derived" in off, off[-3000:]
    assert "finite differences (of f, or of the loss) whose step straddles" in off, off[-3000:]

