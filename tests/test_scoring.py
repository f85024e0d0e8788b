"""grader/scoring.py, the one place where a point is decided: its rules alone, and the
declared dependencies of every check module (no worker, no grading)."""

import importlib
import inspect
import pathlib

import pytest

from grader import scoring
from grader.feedback import Feedback, NotGraded, NotStarted, PartialCredit
from mnist_course.course import ROOT, load_course


def test_points_times_one_the_fraction_or_nothing():
    assert scoring.score_of(4, "passed", None) == 4
    assert scoring.score_of(4, "failed", PartialCredit(0.375, "below the bar")) == 1.5
    assert scoring.score_of(4, "failed", Feedback("wrong")) == 0
    assert scoring.score_of(4, "error", NotGraded("a clock fired")) == 0


def test_statuses_and_retry():
    assert scoring.status_of(True, None) == "passed"
    assert scoring.status_of(False, NotStarted("normalize", "ex01_preprocessing.py")) == "not started"
    assert scoring.status_of(False, PartialCredit(0.5, "below the bar")) == "failed"
    assert scoring.status_of(False, RuntimeError("the grader broke")) == "error"
    assert scoring.needs_retry("error", NotGraded("a clock fired")) and scoring.needs_retry("error", RuntimeError())
    assert not scoring.needs_retry("failed", Feedback("wrong"))


@pytest.mark.parametrize(
    "statuses, expected",
    [({"passed"}, "passed"), ({"not started"}, "not started"), ({"passed", "failed"}, "incomplete"), ({"not started", "error"}, "incomplete")],
)
def test_an_exercise_s_status(statuses, expected):
    assert scoring.exercise_status(statuses) == expected


def test_the_accuracy_band():
    assert scoring.earned_fraction(0.98, 0.97, 0.01) == 1.0
    assert scoring.earned_fraction(0.96, 0.97, 0.01) == 0.0
    assert scoring.earned_fraction(0.965, 0.97, 0.01) == pytest.approx(0.5)
    below = scoring.below_the_bar(0.965, 0.97, 0.01, dataset="mnist-22k", half="public", test_images=5000, points=6)
    assert below.fraction == pytest.approx(0.5) and "earns 3.00 of this check's 6 points" in below.render()


def _pair():
    calls = []

    def test_x_values():
        calls.append("x_values")

    @scoring.depends_on(test_x_values, earns="validating its input")
    def test_x_rejects_bad_input():
        pass

    return test_x_rejects_bad_input, calls


def test_a_dependent_reads_its_dependency_s_outcome_in_this_run():
    dependent, calls = _pair()
    scoring.dependency_verdict(dependent, lambda name: None, lambda test: test())  # passed: the check runs
    with pytest.raises(Feedback, match="This check counts once x_values passes, and it does not yet"):
        scoring.dependency_verdict(dependent, lambda name: Feedback("wrong values"), lambda test: test())
    stub = NotStarted("x", "ex01_preprocessing.py")
    with pytest.raises(NotStarted) as raised:
        scoring.dependency_verdict(dependent, lambda name: stub, lambda test: test())
    assert raised.value is stub  # an untouched stub's dependents are "not started" too
    assert calls == []  # the dependency's outcome was read, never run again


def test_an_unselected_dependency_runs_for_its_dependent():
    dependent, calls = _pair()
    scoring.dependency_verdict(dependent, lambda name: scoring.NOT_RUN, lambda test: test())
    assert calls == ["x_values"]


def test_without_the_declaration_nothing_stops_a_dependent():
    """Proven both ways: the same outcome, no declaration, and the check would run."""

    def test_x_rejects_bad_input():
        pass

    scoring.dependency_verdict(test_x_rejects_bad_input, lambda name: Feedback("wrong values"), lambda test: test())


def _check_modules():
    for exercise in load_course().exercises:
        yield importlib.import_module(f"grader.checks.{exercise.module}")


def test_every_declared_dependency_is_a_check_of_its_own_exercise_above_it():
    declared = 0
    for module in _check_modules():
        # in the order pytest collects them (a module's own, or imported from grader/checks/<id>/ in course.toml's order)
        tests = [obj for name, obj in vars(module).items() if name.startswith("test_") and inspect.isfunction(obj)]
        order = {test.__name__: position for position, test in enumerate(tests)}
        for test in tests:
            declaration = scoring.declared_dependencies(test)
            if declaration is None:
                continue
            for dependency in declaration[0]:
                declared += 1
                assert dependency.__name__ in order and dependency is getattr(module, dependency.__name__), (module.__name__, test.__name__)
                assert order[dependency.__name__] < order[test.__name__], f"{test.__name__} depends on a check below it"
    assert declared >= 20  # the function exercises declare theirs (ex01, ex02b, ex03b, ex04, ex05b, ex06)


def test_the_dependents_message_is_written_once():
    grader = ROOT / "grader"
    holders = [p.relative_to(ROOT).as_posix() for p in grader.rglob("*.py") if "counts once " in p.read_text(encoding="utf-8") and "This check counts once" in p.read_text(encoding="utf-8")]
    assert holders == ["grader/scoring.py"]
