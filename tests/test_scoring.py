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


def test_an_unselected_dependency_hears_its_own_dependency_first():
    """Under `-k`, a chain: the check's dependency is run only once its own dependency passed.
    Proven both ways: with the middle check's declaration gone, it would run and pass."""
    calls = []

    def test_x_values():
        raise Feedback("wrong values")

    def test_x_shape():
        calls.append("x_shape")  # checks the shape alone: passes whatever the values

    @scoring.depends_on(test_x_shape, earns="validating its input")
    def test_x_rejects_bad_input():
        pass

    scoring.dependency_verdict(test_x_rejects_bad_input, lambda name: scoring.NOT_RUN, lambda test: test())
    assert calls == ["x_shape"]  # undeclared, the middle check runs and passes
    scoring.depends_on(test_x_values, earns="its shape")(test_x_shape)
    with pytest.raises(Feedback, match="This check counts once x_shape passes"):
        scoring.dependency_verdict(test_x_rejects_bad_input, lambda name: scoring.NOT_RUN, lambda test: test())
    assert calls == ["x_shape"]  # declared, it never ran: its own dependency failed


def test_a_dependency_two_unselected_checks_share_runs_once():
    """Under `-k`, a diamond: the selected check depends on two checks that both depend on a third.
    The third runs once, and its failure still speaks through both."""
    calls = []

    def test_x_shape():
        calls.append("x_shape")

    @scoring.depends_on(test_x_shape, earns="its shape")
    def test_x_values():
        calls.append("x_values")

    @scoring.depends_on(test_x_shape, earns="its shape")
    def test_x_dtype():
        calls.append("x_dtype")

    @scoring.depends_on(test_x_values, test_x_dtype)
    def test_x_leaves_input():
        pass

    scoring.dependency_verdict(test_x_leaves_input, lambda name: scoring.NOT_RUN, lambda test: test())
    assert calls == ["x_shape", "x_values", "x_dtype"]

    def failing_shape():
        calls.append("x_shape")
        raise Feedback("wrong shape")

    calls.clear()
    with pytest.raises(Feedback, match="This check counts once x_values passes"):
        scoring.dependency_verdict(test_x_leaves_input, lambda name: scoring.NOT_RUN,
                                   lambda test: failing_shape() if test is test_x_shape else test())
    assert calls == ["x_shape"]


def _finished(reporter, exercise, name: str, library_used: dict[str, str], problem: Feedback | None = None) -> None:
    """A check's outcome (a pass, or `problem`), handed to the Reporter as the plugin hands it (no
    pytest node needed), with the functions found so far to use a forbidden library (Student.library_used)."""
    from types import SimpleNamespace

    check = getattr(importlib.import_module(f"grader.checks.{exercise.module}"), f"test_{name}")
    run = reporter.start(exercise, name, *scoring.declared_names(check))
    outcome = SimpleNamespace(passed=problem is None, duration=0.1, longrepr=None)
    reporter.finish(run, outcome, None if problem is None else SimpleNamespace(value=problem), library_used=library_used)


def test_a_dependency_that_earns_nothing_in_the_end_takes_its_dependents_points():
    """ex04's compare_models counts once mcnemar_p_value passes. A mcnemar() that reached a
    forbidden library on a later call passed its own check, then earns nothing (the by-hand
    rule, applied to the final rows): compare_models, which ran and passed, earns nothing
    either, with a message that says why, and the exercise's cause names it among those that
    lose their points. So under `-k`, where mcnemar_p_value ran for it and left no row. A
    compare_models that failed on its own keeps its own message. Proven both ways: the same
    rows without the library use keep both checks' points."""
    from grader.reports.report import Reporter

    ex04 = load_course().exercise("ex04")
    scipy = {"mcnemar": "scipy.stats.binomtest"}

    def graded(library_found: bool, selected: bool = False, own: Feedback | None = None) -> tuple[dict, dict]:
        reporter = Reporter()
        if not selected:
            _finished(reporter, ex04, "mcnemar_p_value", {})
        _finished(reporter, ex04, "compare_models_verdict", {}, own)
        # found by a check that came after both
        _finished(reporter, ex04, "mcnemar_large_counts", scipy if library_found else {})
        rows, causes = reporter.final_rows([ex04])  # what Reporter.report builds the report from
        return {name: row for (_, name), row in rows.items()}, causes

    kept, causes = graded(library_found=False)
    assert kept["compare_models_verdict"]["status"] == "passed" and kept["mcnemar_p_value"]["status"] == "passed" and not causes
    for selected in (False, True):
        rows, causes = graded(library_found=True, selected=selected)
        assert selected or (rows["mcnemar_p_value"]["status"], rows["mcnemar_p_value"]["not_checked"]) == ("failed", "by_hand")
        verdict = rows["compare_models_verdict"]
        assert (verdict["status"], verdict["score"]) == ("failed", 0) and "not_checked" not in verdict
        assert verdict["message"].startswith("This check counts once mcnemar_p_value passes, and mcnemar_p_value earns nothing: "
                                             "mcnemar() used scipy.stats.binomtest, which this exercise does not allow"), verdict["message"]
        assert f'See lesson {ex04.lesson_number}, "{ex04.function_of_check("compare_models_verdict").section}"' in verdict["message"]
        assert verdict["cause"] == ("a check that counts once mcnemar_p_value passes earns nothing for a conclusion drawn from the right "
                                    "numbers while mcnemar() uses a library for its work")
        assert "keep their points, but for compare_models_verdict, which counts once a check of theirs passes" in causes["ex04"]["message"]
    wrong = Feedback("got 'A'", "'neither'", cause="the p-value compared the wrong way round")
    rows, causes = graded(library_found=True, own=wrong)
    assert rows["compare_models_verdict"]["cause"] == "the p-value compared the wrong way round"
    assert "but for" not in causes["ex04"]["message"]


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



def test_a_dependent_that_is_not_a_convention_says_what_it_earns():
    """The default of `depends_on(earns=...)` is "validating or for leaving inputs alone": right for a convention,
    wrong for a check of the subject, whose dependents' message would tell a student that a class count or an
    accuracy was input validation (a reread found train_val_split_class_counts saying so)."""
    conventions = {check for exercise in load_course().exercises for function in exercise.functions for check in function.conventions}
    default = inspect.signature(scoring.depends_on).parameters["earns"].default
    silent = []
    for module in _check_modules():
        for name, test in vars(module).items():
            declaration = scoring.declared_dependencies(test) if name.startswith("test_") and inspect.isfunction(test) else None
            if declaration is not None and declaration[1] == default and scoring.check_name(test) not in conventions:
                silent.append(scoring.check_name(test))
    assert silent == []

def test_the_dependents_message_is_written_once():
    grader = ROOT / "grader"
    holders = [p.relative_to(ROOT).as_posix() for p in grader.rglob("*.py") if "counts once " in p.read_text(encoding="utf-8") and "This check counts once" in p.read_text(encoding="utf-8")]
    assert holders == ["grader/scoring.py"]
