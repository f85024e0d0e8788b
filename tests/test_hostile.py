"""A corpus of hostile and broken submissions, each with the score it must get.

Every case is the reference solution with one part made hostile or broken (or
a file written from scratch); the whole corpus is graded as one class with
`grader --batch`, as an instructor would. Honest functions next to a hostile
one keep their points; nothing the submissions start outlives the grading.
"""

import json
import subprocess
import time
from pathlib import Path

import pytest

from corpus import told
from mnist_course.course import load_course

EX01 = load_course().exercise("ex01")
SOLUTION = EX01.solution_path.read_text()
POINTS = {fn.name: sum(fn.checks.values()) for fn in EX01.functions}
FULL = EX01.max_score


def replace_body(function, body):
    """The solution with `function`'s marked block replaced by `body` (indented 4)."""
    start = SOLUTION.index(f"def {function}(")
    begin = SOLUTION.index("    ### BEGIN SOLUTION\n", start)
    end = SOLUTION.index("    ### END SOLUTION\n", begin) + len("    ### END SOLUTION\n")
    return SOLUTION[:begin] + "".join(f"    {line}\n" for line in body.strip().splitlines()) + SOLUTION[end:]


FAKE_REPORT = '{"score": 999, "max_score": 19}'

# case: (source, files besides the exercise, expected score, a phrase its messages must contain)
CORPUS = {
    "sys_exit_at_import": ("import sys\nsys.exit(0)\n" + SOLUTION, {}, 0, "failed with SystemExit"),
    "os_exit_in_one_hot": (replace_body("one_hot", "import os\nos._exit(0)"), {}, FULL - POINTS["one_hot"], "ended (exit status 0) before one_hot() returned"),
    "endless_loop": (replace_body("add_channel_axis", "while True:\n    pass"), {}, FULL - POINTS["add_channel_axis"], "did not return within 10 s"),
    "ignores_sigint_and_sigterm": (
        replace_body("train_val_split", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass"),
        {}, FULL - POINTS["train_val_split"], "did not return within 10 s",
    ),
    "allocates_far_too_much": (replace_body("normalize", "return np.ones((100_000, 100_000))"), {}, FULL - POINTS["normalize"], "more memory than the grader allows"),
    "forks_a_sleeper_that_forges_the_report": (
        SOLUTION.replace(
            "    images = np.asarray(images)\n",
            "    import os, subprocess, sys\n"
            "    here = os.path.dirname(os.path.abspath(__file__))\n"
            "    report = os.path.join(here, '..', '..', 'results', 'students', 'forks_a_sleeper_that_forges_the_report', 'report.json')\n"
            "    subprocess.Popen([sys.executable, os.path.join(here, 'sleeper.py'), report])\n"
            "    images = np.asarray(images)\n",
            1,
        ),
        {"sleeper.py": f"import os, sys, time\nos.setsid()\ntime.sleep(4)\nopen(sys.argv[1], 'w').write({FAKE_REPORT!r})\n"},
        FULL, "",
    ),
    "monkeypatches_numpy": (
        "import numpy as np\nnp.array_equal = np.allclose = lambda *a, **k: True\n"
        + "".join(f"def {fn.name}(*args, **kwargs):\n    return np.zeros(1)\n" for fn in EX01.functions),
        {}, 0, "",
    ),
    "monkeypatches_the_grader": ("import grader.feedback\ngrader.feedback.Feedback = None\n" + SOLUTION, {}, 0, "student code cannot import it"),
    "malicious_pytest_and_site_files": (
        SOLUTION,
        {
            "conftest.py": "import pytest\n@pytest.hookimpl(wrapper=True)\ndef pytest_runtest_makereport(item, call):\n    r = yield\n    r.outcome = 'passed'\n    return r\n",
            "pytest.ini": "[pytest]\naddopts = -p no:python\n",
            "sitecustomize.py": "import os\nos._exit(0)\n",
            "usercustomize.py": "import os\nos._exit(0)\n",
            "evil.pth": "import os; os._exit(0)\n",
        },
        FULL, "",
    ),
    "prints_fake_results": (
        "import numpy as np\n"
        + "".join(
            f"def {fn.name}(*args, **kwargs):\n    print('PASSED {fn.name} 19/19')\n    print('{{\"score\": 19}}')\n    return None\n"
            for fn in EX01.functions
        ),
        {}, 0, "Got None (did the function forget to `return`",
    ),
    "wrong_types_everywhere": (
        "import numpy as np\n"
        "def normalize(images):\n    return (images / 255).tolist()\n"
        "def add_channel_axis(images):\n    return None\n"
        "def one_hot(labels, num_classes=10):\n    return np.eye(num_classes)[labels].astype(str)\n"
        "def train_val_split(images, labels, val_fraction=0.1, seed=0):\n    return [images.tolist()]\n",
        {}, 0, "does not hold plain numbers",
    ),
    "syntax_error": (SOLUTION.replace("def one_hot(labels, num_classes=10):", "def one_hot(labels, num_classes=10)"), {}, 0, "SyntaxError"),
    "planted_pyc": (EX01.stub_path.read_text(), {}, 0, "is not started yet"),  # the .pyc is added below
    "imports_a_missing_package": ("import tensorflow_deluxe\n" + SOLUTION, {}, 0, "No module named 'tensorflow_deluxe'"),
    "helper_module_that_exits": (
        SOLUTION.replace("def one_hot(labels, num_classes=10):", "def one_hot(labels, num_classes=10):\n    import helper"),
        {"helper.py": "import os\nos._exit(0)\n"},
        FULL - POINTS["one_hot"], "ended (exit status 0) before one_hot() returned",
    ),
}


def _planted_pyc(tmp):
    """The reference compiled to an unchecked-hash .pyc, planted beside the untouched stub."""
    import importlib.util
    import py_compile

    source = tmp / EX01.filename
    source.write_text(SOLUTION)
    pyc = tmp / "planted.pyc"
    py_compile.compile(str(source), cfile=str(pyc), invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return Path(importlib.util.cache_from_source(EX01.filename)), pyc.read_bytes()


@pytest.fixture(scope="module")
def graded_corpus(run_grader, mnist_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    subs, out = root / "submissions", root / "results"
    for case, (source, extra, _, _) in CORPUS.items():
        (subs / case).mkdir(parents=True)
        (subs / case / EX01.filename).write_text(source)
        for name, text in extra.items():
            (subs / case / name).write_text(text)
    pyc_path, pyc = _planted_pyc(tmp_path_factory.mktemp("pyc"))
    (subs / "planted_pyc" / pyc_path).parent.mkdir(parents=True)
    (subs / "planted_pyc" / pyc_path).write_bytes(pyc)
    result = run_grader("--batch", subs, "--out", out, "--jobs", "2", timeout=900)
    time.sleep(5)  # longer than any sleeper in the corpus waits before it strikes
    return subs, out, result


def assert_graded_as_deserved(graded, case, expected, phrase):
    """The batch ran; this student's one exercise scored `expected`, its messages
    name `phrase` and never show a traceback or blame the grader."""
    _, out, result = graded
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "students" / case / "report.json").read_text())
    exercise = report["exercises"][0]
    checks = exercise["checks"]
    assert report["score"] == expected, [(c["name"], c["status"], c["message"][:300]) for c in checks]
    # A file that cannot be imported says why once, at the exercise (tests/test_one_cause.py): the phrase is there.
    messages = "\n".join(told(exercise, c) for c in checks)
    assert phrase in messages
    assert "Traceback" not in messages and "please report it" not in messages


@pytest.mark.parametrize("case", CORPUS)
def test_each_submission_gets_exactly_what_it_deserves(graded_corpus, case):
    _, _, expected, phrase = CORPUS[case]
    assert_graded_as_deserved(graded_corpus, case, expected, phrase)


def test_nothing_a_submission_started_is_still_running(graded_corpus):
    subs, _, _ = graded_corpus
    running = subprocess.run(["pgrep", "-f", str(subs)], capture_output=True, text=True).stdout.split()
    assert running == []


# ---------------------------------------------------------------- model exercises

EX02 = load_course().exercise("ex02")
MODEL_SOLUTION = EX02.solution_path.read_text()
SETTINGS_ONLY = EX02.function("training_settings").checks["training_settings_valid"]
ACCURACY = EX02.checks["build_model_test_accuracy"]


def model_variant(old, new):
    """The reference model with one part of its code replaced."""
    start = MODEL_SOLUTION.index("    ### BEGIN SOLUTION")  # edit code, never the docstrings
    assert old in MODEL_SOLUTION[start:], old
    return MODEL_SOLUTION[:start] + MODEL_SOLUTION[start:].replace(old, new, 1)


DENSE_512 = 'layers.Dense(512, activation="relu"),'
MODEL_CORPUS = {
    # case: (source, expected score, a phrase its messages must contain)
    "lambda_layer": (model_variant("layers.Rescaling(1 / 255),", "layers.Lambda(lambda x: x / 255),"), SETTINGS_ONLY, "Lambda layer"),
    "custom_layer": (
        model_variant("layers.Rescaling(1 / 255),", "Scale(),").replace(
            "from keras import layers\n", "from keras import layers\n\n\nclass Scale(layers.Layer):\n    def call(self, x):\n        return x / 255\n", 1
        ),
        SETTINGS_ONLY,
        "not one of Keras's own classes",
    ),
    "weights_smuggled_in_an_initializer": (
        model_variant(DENSE_512, 'layers.Dense(100, activation="relu", kernel_initializer=keras.initializers.Constant(__import__("numpy").full((784, 100), 0.01))),'),
        SETTINGS_ONLY,
        "carries a list of numbers",
    ),
    # Weights trained elsewhere, spread over small Constant initializers (each list far
    # under the per-list limit) and frozen by a learning rate of 0.
    "weights_spread_over_small_constants": (
        model_variant(DENSE_512, 'layers.Dense(64, activation="relu", kernel_initializer=keras.initializers.Constant([0.01] * 64)),').replace(
            "learning_rate = 0.3 if", "learning_rate = 0.0 if"
        ),
        SETTINGS_ONLY,
        "carries a list of numbers",
    ),
    "fifty_million_parameters": (model_variant(DENSE_512, 'layers.Dense(64_000, activation="relu"),'), SETTINGS_ONLY, "far more parameters than the budget"),
    "outputs_nan": (model_variant("learning_rate = 0.3 if", "learning_rate = 1e9 if"), EX02.max_score - ACCURACY, "NaN or infinity"),
    "monkeypatches_keras": (
        MODEL_SOLUTION.replace(
            "from keras import layers\n",
            "from keras import layers\n\nkeras.Model.evaluate = lambda *a, **k: [0.0, 1.0]\nkeras.Model.fit = lambda *a, **k: None\n",
            1,
        ),
        EX02.max_score,  # an honest model: patching Keras in its own process changes nothing
        "",
    ),
    "downloads_the_test_set": (
        model_variant("    model = keras.Sequential(", "    keras.datasets.mnist.load_data()\n    model = keras.Sequential("),
        SETTINGS_ONLY,
        "It raised",
    ),
    "returns_none": (model_variant("    return model\n", "    return None\n"), SETTINGS_ONLY, "forget to `return`"),
    "settings_of_the_wrong_type": (
        model_variant('return {"epochs": 10, "batch_size": 32 if CONSTRAINT == "sgd" else 1024, "validation_split": 0.1}',
                      'return {"epochs": "10", "batch_size": 128}'),
        EX02.max_score - ACCURACY - SETTINGS_ONLY - EX02.checks["training_settings_labels_match_loss"],
        "epochs as a whole number",
    ),
}


# These two reach the trainer (the reference's declaration, and one that diverges);
# the others are refused before any training, so `-m "not trains"` grades them.
MODEL_TRAINS = {"outputs_nan", "monkeypatches_keras"}


def _grade_models(run_grader, root, cases):
    subs, out = root / "submissions", root / "results"
    for case in cases:
        (subs / case).mkdir(parents=True)
        (subs / case / EX02.filename).write_text(MODEL_CORPUS[case][0])
    result = run_grader("--batch", subs, "--out", out, "--jobs", "2", "ex02", timeout=1800)
    return subs, out, result


@pytest.fixture(scope="module")
def graded_model_corpus(run_grader, mnist_path, tmp_path_factory):
    return _grade_models(run_grader, tmp_path_factory.mktemp("model-corpus"), [c for c in MODEL_CORPUS if c not in MODEL_TRAINS])


@pytest.fixture(scope="module")
def trained_model_corpus(run_grader, mnist_path, tmp_path_factory):
    return _grade_models(run_grader, tmp_path_factory.mktemp("trained-model-corpus"), sorted(MODEL_TRAINS))


def _model_corpus(request, case):
    return request.getfixturevalue("trained_model_corpus" if case in MODEL_TRAINS else "graded_model_corpus")


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.trains) if c in MODEL_TRAINS else c for c in MODEL_CORPUS])
def test_each_model_submission_gets_exactly_what_it_deserves(request, case):
    _, expected, phrase = MODEL_CORPUS[case]
    assert_graded_as_deserved(_model_corpus(request, case), case, expected, phrase)


@pytest.mark.parametrize("corpus", ["graded_model_corpus", pytest.param("trained_model_corpus", marks=pytest.mark.trains)])
def test_no_model_submission_leaves_a_process(request, corpus):
    subs, _, _ = request.getfixturevalue(corpus)
    running = subprocess.run(["pgrep", "-f", str(subs)], capture_output=True, text=True).stdout.split()
    assert running == []
