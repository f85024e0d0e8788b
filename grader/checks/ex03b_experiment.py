"""Exercise 03b · An experiment with a decision: the graded checks.

The student's code trains small Keras models inside the worker, on data the
grader hands in: TRAIN_IMAGES and VALIDATION_IMAGES images of the course's
training set, labels included, drawn for each submission (grader/draws.py). The test set never
leaves the grader (the worker's sandbox has no network and no view of the
data file either; tests/test_sandbox.py proves both for this exercise).

What is judged:
- validation_accuracy() learns, measures on the validation split it is
  given (labels shuffled there must give chance), and uses its width;
- validation_accuracy() trains the model its docstring declares: its width-32,
  seed-0 run gives what the grader's own run of the protocol gives
  (grader/references/ex03b_experiment.py), within RERUN_TOLERANCE;
- run_sweep()'s table has one row per width and one column per seed, its
  seeds really differ, and one cell of each width, its seed drawn in the
  grader's process (grader/draws.py: from the run's key and the file's bytes,
  never from anything the submission sees or returns), holds what the grader's
  own run of the protocol gives for that width and seed. The images are drawn
  the same way, so no number can be known before the file exists: a table with
  invented cells, numbers looked up, a validation_accuracy() that trains
  something else, and one that remembers what it returned all fail;
- choose_width() applies the variant's rule (course.toml: RULE at the top of
  the file sets the floor below the best mean), on tables made here to tell the
  variants' rules and each rule's near-misses apart, and on the student's own
  table; a choice that is exactly another variant's on every table gets the
  message that names both (grader/variants.py `told_apart`). Its one-line reason
  is not graded: it goes to the report as a note for the instructor;
- seeds_the_choice_rests_on() counts the fewest seeds whose runs, left out,
  change the variant's choice, on tables made here (ref.FRAGILITY_CASES, each
  with its answer per variant as data, each asked twice under two moves, in an
  order drawn for each submission) where deciding anew and the usual mistakes
  (the whole table's floor kept, one seed at a time, the standard error's
  ddof or its number of seeds, leaving seeds out down to one) give different
  counts. On the student's own table its count must be one the contract
  allows; what it is goes to the note, not graded.

The checks live in grader/checks/ex03b/, one module per graded function with
its teaching messages; this module is what pytest collects: the fixtures (what
is drawn for the file, the grader's own runs) and the checks imported in
course.toml's order.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

from grader.checks.ex03b.common import (
    CHECKED_RUN, FRAGILITY_PURPOSE, RERUN_PURPOSE, RULE_CASES_PURPOSE, SEEDS, SPLIT_PURPOSE, WIDTHS, _data,
)
from grader.references import ex03b_experiment as ref  # the declared protocol, run by the grader


@pytest.fixture(scope="module", autouse=True)
def _drawn(student, settings):
    """What the grader draws for this submission (grader/draws.py), from the run's key and its
    file's bytes, read before any of its code runs: which training images form its training
    subset and validation split, which cells of its table the grader trains itself (one of
    each width, each with a seed of its own), and how choose_width()'s and
    seeds_the_choice_rests_on()'s tables are moved (`ref.drawn_cases`,
    `ref.drawn_fragility_cases`). So no table can be prepared in advance: its every number
    depends on images the file could not know when it was written, and no choice can be
    looked up."""
    student.content = student.source_bytes()
    student.split_seed = settings.draw(SPLIT_PURPOSE, student.content)
    rng = np.random.default_rng(settings.draw(RERUN_PURPOSE, student.content))
    student.rerun_cells = [(width, SEEDS[int(rng.integers(len(SEEDS)))]) for width in WIDTHS]
    student.rule_cases = ref.drawn_cases(settings.draw(RULE_CASES_PURPOSE, student.content))
    student.fragility_cases = ref.drawn_fragility_cases(settings.draw(FRAGILITY_PURPOSE, student.content))
    yield


@pytest.fixture(scope="module")
def declared(student, settings, mnist):
    """What the grader's own runs of the protocol give: validation_accuracy()'s checked run and
    the table's cells drawn for this submission, {(width, seed): accuracy}, on the submission's
    own images, trained before the student's code runs (the worker is stopped first, so the two
    never share the machine's memory). None while validation_accuracy() is the stub's: nothing
    of it would be compared."""
    if _as_the_stub_left_it(student.content, student.exercise.stub_path.read_bytes(), "validation_accuracy"):
        return None
    student.stop_worker()
    try:
        return ref.declared_accuracies(_data(student, mnist), [CHECKED_RUN, *student.rerun_cells], cache=settings.training_cache)
    except ref.ProtocolFailed as failed:
        return failed  # each check that needs it is not graded, saying why


def _as_the_stub_left_it(content: bytes, stub: bytes, function: str) -> bool:
    """Whether `function` in the file is still the stub's (or the file does not parse): then
    its checks say "not started", or the import's failure, and the grader trains nothing."""
    def body(source: bytes):
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # the import will say what is wrong
            return None
        return next((ast.dump(ast.Module(body=node.body, type_ignores=[])) for node in tree.body
                     if isinstance(node, ast.FunctionDef) and node.name == function), None)

    mine = body(content)
    return mine is None or mine == body(stub)


# The checks, in course.toml's order (pytest collects them here, so they share this module's worker and fixtures).
from grader.checks.ex03b.validation_accuracy import (  # noqa: E402, F401
    test_validation_accuracy_learns,
    test_validation_accuracy_on_validation_data,
    test_validation_accuracy_uses_width,
)
from grader.checks.ex03b.run_sweep import (  # noqa: E402, F401
    test_run_sweep_shape,
    test_run_sweep_uses_each_seed,
    test_run_sweep_matches_rerun,
)
from grader.checks.ex03b.choose_width import (  # noqa: E402, F401
    test_choose_width_types,
    test_choose_width_follows_rule,
)
from grader.checks.ex03b.seeds_the_choice_rests_on import (  # noqa: E402, F401
    test_seeds_the_choice_rests_on_counts,
)
