"""Exercise 05d · Debugging a training run: the graded checks.

The grader draws runs for each file (`_drawn`: the file's bytes and the run's draw key), each from 4,000 of
MNIST's training digits, its pixels scaled as the variant says (course.toml: PIXELS, "unit", "standardized"
or "signed") and its settings drawn among those that train well on such pixels, and plants one mistake in
each (mnist_course.debugging.plant), or none. So it knows what a diagnosis must say without a reference
diagnose(), and no table of answers worked out at home can match a run drawn when the file is graded
(grader/references/ex05d_debugging.py).

- diagnose() must name the mistake of every run: the student's own kind (the run their variant gives them
  to debug by hand) beside its healthy twin, so that naming one's own mistake whatever the run earns
  nothing; and one run of every kind, healthy included. It meets the runs in an order drawn for the file,
  and is asked about each again in another order (`_asking_orders`), so that an answer can come only from
  the run itself, never from counting calls.
- repair() is judged by what the repaired run learns: trained by the run's own trainer and measured on
  2,000 MNIST test digits drawn for the file and scaled as the variant says, it must come within
  ACCURACY_MARGIN of the accuracy and LOSS_MARGIN of the loss of the same run trained before its mistake
  was planted. Before that, a repair must leave what the mistake did not touch as it was (a healthy run
  comes back unchanged: `ref.changed_beyond`, so that repairing every mistake at once, whatever the run holds,
  earns nothing), and the two repairs with one right answer must give it: raw pixels scaled as the variant
  says, labels moved back exactly. A run left as it was falls short on every kind.
  A repair that scales pixels, or picks a learning rate, as another variant's runs are scaled or trained
  gets the message that names both variants (grader/variants.py `told_apart`).
"""

from __future__ import annotations

import numpy as np
import pytest

from grader import variants
from grader.feedback import short
from grader.references import ex05d_debugging as ref
from grader.scoring import depends_on
from mnist_course.debugging import YOUR_RUNS

DRAW_PURPOSE = "ex05d debugging runs"

# What each mistake looks like when measured, said where a diagnosis misses it: the symptom, never the rule.
SYMPTOM = {
    "none": "nothing in it is broken: its pixels are scaled as your PIXELS says, its labels go with its images, its batch losses fall from ln 10",
    "unscaled_inputs": "its pixels go up to 255",
    "shifted_labels": "its labels do not go with its images: the mean image of each class, taken from every other digit of the run, reads the rest at about chance",
    "learning_rate_too_high": "trained as its settings say, its batch losses jump far above ln 10, where every run starts",
    "learning_rate_too_low": "trained as its settings say, its batch losses hardly leave ln 10, where every run starts",
    "sorted_without_shuffle": "its labels come class by class and settings['shuffle'] is False, so each batch holds one digit",
}
HINT = ("measure before you decide: look at the pixels and at the order of the labels, ask whether the labels go with "
        "the images, and train the run as its settings say, watching its batch losses (lesson 6, 'Debugging a training run')")


@pytest.fixture(scope="module", autouse=True)
def _drawn(student, settings, variant, mnist):
    """The seed of every run here, from the file's bytes and the run's draw key, read before any of its code runs;
    the variant's pixels and own kind of mistake; and the runs, drawn once for the module's checks. Not for a file
    that is not there: each check says so before it reads a run (plugin.py), and a class's absent files cost nothing."""
    if student.file_problem() is not None:
        yield
        return
    student.variant = variant
    student.pixels = variant.params["pixels"] if variant else "unit"
    student.draw_seed = settings.draw(DRAW_PURPOSE, student.source_bytes())
    student.held_out = ref.held_out_digits(mnist, student.draw_seed, student.pixels)  # every run's twin and repair are measured on these
    student.every_run = ref.draw_runs(mnist, student.draw_seed, ref.BUGS, student.pixels, student.held_out)
    student.own_runs = ref.draw_runs(mnist, student.draw_seed + 1, (YOUR_RUNS[student.pixels], "none"), student.pixels, student.held_out)
    student.asking_order, student.asking_again = _asking_orders(student.every_run + student.own_runs, student.draw_seed)
    yield


def _asking_orders(runs, seed):
    """The order diagnose() first meets the runs in, and the order it is asked about them again: drawn for the
    file, so that a call's place in the grading says nothing of its run (a review's diagnose() that counted its
    calls and named the kinds in the order the checks asked for them earned every point)."""
    return tuple([runs[i] for i in np.random.default_rng([seed, n]).permutation(len(runs))] for n in (1, 2))


def _call(student, function, run, cached=True):
    return student.call(function, run.images, run.labels, shown=f"images, labels ({run.shown})", cached=cached,
                        expect="one of MISTAKES" if function == "diagnose" else "(images, labels, settings)", settings=run.settings)


def _diagnose(student, run, cached=True):
    r = _call(student, "diagnose", run, cached)
    said = r.value
    if not isinstance(said, str) or said not in ref.BUGS:
        raise r.fail(f"got {short(said)}", f"one of {', '.join(map(repr, ref.BUGS))}", cause="a name outside MISTAKES, or not a str",
                     hint="return one of the strings in MISTAKES, exactly as written there",
                     contract="Which of MISTAKES the run (images, labels, settings) holds")
    return r, said


def _check_diagnoses(student, runs):
    for run in runs:
        r, said = _diagnose(student, run)
        if said != run.bug:
            cause = ("the checks that would have seen this mistake missed it, or were not made" if said == "none"
                     else f"what {said!r} shows when measured is not what this run shows")
            raise r.fail(repr(said), f"{run.bug!r}: {SYMPTOM[run.bug]}", cause=cause, hint=HINT, contract="Decide from measurements of the run itself")
    checked = {id(run) for run in runs}
    for run in (run for run in student.asking_again if id(run) in checked):  # asked again, in another order: the same run, the same answer
        again, said = _diagnose(student, run, cached=False)
        if said != run.bug:
            raise again.fail(f"{said!r} when asked again about the same run, after {run.bug!r} the first time", f"{run.bug!r} again",
                             cause="an answer that depends on something other than the run (what earlier calls asked, a count kept "
                                   "between calls, or measurements drawn without a seed)",
                             hint="decide from the run alone, and seed any random draw your measurements make", contract="Decide from measurements of the run itself")


def test_diagnose_types(student):
    for run in student.asking_order:  # the first time diagnose() meets each run
        _diagnose(student, run)


def test_diagnose_your_run(student):
    _check_diagnoses(student, student.own_runs)


def test_diagnose_every_run(student):
    _check_diagnoses(student, student.every_run)


def _other_variant(student, run, images, settings):
    """The mismatch to raise where the repair scaled or trained as another variant's runs are (None where not)."""
    if run.bug == "unscaled_inputs":
        answers = lambda v: ref.rescaled_as(images, run.raw, v.params["pixels"])  # noqa: E731
    elif run.bug.startswith("learning_rate"):
        mine = ref.good_rates(student.pixels)
        answers = lambda v: settings.get("learning_rate") in ref.good_rates(v.params["pixels"]) and settings.get("learning_rate") not in mine  # noqa: E731
    else:
        return None
    return variants.told_apart(student.exercise, student.variant, answers,
                               cause="a repair that scales the pixels, or picks the learning rate, of another variant's runs: "
                               "a file written for another variant than yours (PIXELS at the top of the file), a classmate's, "
                               "or your own graded under another student id")


def _check_repairs(student, runs):
    for run in runs:
        r = _call(student, "repair", run)
        value = r.value
        if not (isinstance(value, tuple) and len(value) == 3 and isinstance(value[2], dict)):
            raise r.fail(f"got {short(value)}", "a tuple (images, labels, settings), settings a dict", cause="not the three parts of a run",
                         hint="return the run's three parts, repaired", contract="The run with its mistake undone: (images, labels, settings)")
        images, labels, settings = np.asarray(value[0]), np.asarray(value[1]), value[2]
        if images.shape != run.images.shape or labels.shape != run.labels.shape or not set(run.settings) <= set(settings):
            raise r.fail(f"images of shape {images.shape}, labels of shape {labels.shape}, settings with keys {sorted(settings)}",
                         f"the run's own shapes, {run.images.shape} and {run.labels.shape}, and settings with its keys {sorted(run.settings)}",
                         cause="digits dropped or added, or a setting removed", hint="undo the mistake and keep the rest of the run as it is",
                         contract="Undo only the mistake the run holds")
        if changed := ref.changed_beyond(run, images, labels, settings):
            raise r.fail(f"{changed}", "the run as it was, but for what its mistake changed" if run.bug != "none" else "the run as it was: it holds no mistake",
                         cause=f"the run held {run.bug!r}, and the repair changed more than that mistake" if run.bug != "none"
                         else "a repair of every mistake at once, whatever the run holds",
                         hint="repair only what diagnose() finds: each mistake changed one part of the run, and its repair changes that part back",
                         contract="Undo only the mistake the run holds (a healthy run comes back as it was)")
        if run.bug == "unscaled_inputs" and not ref.rescaled_as(images.astype(np.float64), run.raw, student.pixels):
            if other := _other_variant(student, run, images, settings):
                raise other(r, "pixels scaled another way than your variant's")
            raise r.fail("pixels scaled another way than the run's healthy digits", f"the raw pixels scaled as PIXELS = {student.pixels!r} says",
                         cause="a scale of your own, or another convention's", hint="the docstring of diagnose() says how each PIXELS scales the raw pixels",
                         contract="pixels scaled as PIXELS says")
        if run.bug == "shifted_labels" and not np.array_equal(labels, run.own_labels):
            moved = [k for k in range(-9, 10) if np.array_equal(np.roll(run.own_labels, k), labels)]
            raise r.fail(f"labels {'still moved ' + str(moved[0]) + ' places along the run' if moved else 'that are not the run own labels'}",
                         "each label back beside its own image",
                         cause="moved back by the wrong distance, or the wrong way" if moved else "labels changed otherwise than moved back",
                         hint="try each distance the docstring allows, both ways, and keep the one at which the labels go with their images best",
                         contract="each label beside its own image")
        try:
            got_accuracy, got_loss = ref.measured(images.astype(np.float64), labels.astype(np.int64), settings, student.held_out)
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as e:
            raise r.fail(f"a run the run's training cannot train: {type(e).__name__}: {e}", "a run it trains as it trained the run before its mistake",
                         cause="a setting of another type, or labels outside 0..9",
                         hint="keep the settings' types: numbers for learning_rate, epochs and batch_size, a bool for shuffle",
                         contract="The run with its mistake undone")
        if np.isfinite(got_loss) and got_accuracy >= run.twin_accuracy - ref.ACCURACY_MARGIN and got_loss <= run.twin_loss + ref.LOSS_MARGIN:
            continue
        got = (f"the repaired run, trained as its settings say, reads {got_accuracy:.1%} of {ref.TEST_IMAGES:,} MNIST test digits "
               f"with a mean loss of {got_loss:.3f}")
        if other := _other_variant(student, run, images, settings):
            raise other(r, got)
        raise r.fail(
            got,
            f"at least {run.twin_accuracy - ref.ACCURACY_MARGIN:.1%} and a loss of at most {run.twin_loss + ref.LOSS_MARGIN:.3f}: the same run "
            f"before its mistake was planted reads {run.twin_accuracy:.1%} with a loss of {run.twin_loss:.3f}",
            cause="a healthy run came back worse than it was" if run.bug == "none" else f"the run held {run.bug!r} ({SYMPTOM[run.bug]}), and the repair did not undo it",
            hint="repair what diagnose() finds and nothing else; then train the repaired run yourself and compare it with what a healthy run of your PIXELS reaches",
            contract="Undo only the mistake the run holds",
        )


def test_repair_your_run(student):
    _check_repairs(student, student.own_runs)


def test_repair_every_run(student):
    _check_repairs(student, student.every_run)


@depends_on(test_repair_every_run, earns="leaving its inputs alone")
def test_repair_leaves_input(student):
    run = student.every_run[ref.BUGS.index("unscaled_inputs")]
    r = _call(student, "repair", run)
    after_images, after_labels = r.args_after
    if not (np.array_equal(after_images, run.images) and np.array_equal(after_labels, run.labels)):
        raise r.fail("afterwards the caller's images or labels were different", "the inputs left untouched",
                     cause="an in-place change (images /= 255, labels[:] = ..., np.random.shuffle(labels))",
                     hint="work on copies of the images and labels, and on a new settings dict", contract="The inputs are not modified")
