"""The grader's own references agree with the Keras they stand for.

ex05b's checks compare a student's conv2d and max_pool2d with what
keras.layers.Conv2D and MaxPooling2D compute, but grade against a float64 NumPy
computation (grader/references/ex05b_conv_by_hand.py), so a grading needs no Keras
import. These tests hold that reference to real Keras layers on every case the
checks use, far inside the checks' tolerance, and show that the comparison
tells a classic variant (the odd padding row on top, a flipped kernel, padding
'same' on the pool) from Keras's answer, so it cannot pass by being loose.

Every variant's cases too (course.toml: the kernels' dilation, the pool's side):
a dilated case equals Conv2D(dilation_rate=d) where Keras allows it (stride 1),
and everywhere equals Conv2D with the kernel's taps spread apart by zeros, the
definition the exercise's contract gives where Keras refuses a stride with it.

The backward passes too: on every case conv2d_backward is called with, and for every variant,
the reference's gradients (`Case.gradients`, `pool_gradient`: SciPy, which the student's worker
refuses) are what tf.GradientTape takes through the same layers, and agree with finite
differences; the ties rule is TensorFlow's, and the tie inputs tell it from its look-alikes.

ex02b's variants (the hidden activation): each variant's reference and alternatives compute
the grader's TensorFlow loss and gradients, and no other variant's.

ex03b's variants (the decision rule's floor): the grader's tables tell every variant's rule from
every other's and from its near-misses, far from any boundary, and the grader's rule is the
reference's on each.

ex04's calibration and McNemar references (pandas' bins, SciPy's binomial test) are the contracts'
definitions written out the slow way: every answer put in its bin by the contract's inequality, and
the p-value as an exact fraction of the 2 ** n equally likely toss sequences.
"""

import numpy as np
import pytest

from grader.checks.ex04 import expected_calibration_error as ex04_ece_checks
from grader.checks.ex05b import common as ex05b_checks
from grader.references import ex04_evaluation as ex04
from grader.references import ex05b_conv_by_hand as ex05b
from mnist_course.course import load_course
from mnist_course.data import quiet_keras

COURSE = load_course()

SPECS = [*ex05b.ONE_CHANNEL, *ex05b.CHANNELS, *ex05b.STRIDE, *ex05b.SAME, *ex05b.SHAPES]
CASES = ex05b.cases(SPECS)
# every dilation and pool a variant of ex05b asks for
DILATIONS = sorted({v.params["dilation"] for v in COURSE.exercise("ex05b").variants})
POOLS = sorted({v.params["pool"] for v in COURSE.exercise("ex05b").variants})
# float32 Keras against float64 NumPy: 100 times tighter than the checks' own tolerance
TOLERANCE = ex05b_checks._ATOL / 100


@pytest.fixture(scope="module")
def keras():
    return quiet_keras()


def _keras_conv(keras, case, kernels=None, dilation=1):
    kernels = case.kernels if kernels is None else kernels
    kh, kw, _, c_out = kernels.shape
    layer = keras.layers.Conv2D(c_out, (kh, kw), strides=case.stride, padding=case.padding, dilation_rate=dilation)
    layer.build(case.x.shape)
    layer.set_weights([kernels, case.bias])
    return keras.ops.convert_to_numpy(layer(case.x)).astype(np.float64)


def _gap(a, b) -> float:
    """The largest difference, relative to the values' scale as the checks take it."""
    if a.shape != b.shape:
        return np.inf
    return float(np.abs(a - b).max() / max(1.0, float(np.abs(b).max())))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.x.shape}-{c.kernels.shape}-s{c.stride}-{c.padding}")
def test_the_conv2d_reference_is_what_keras_computes(keras, case):
    assert _gap(case.expected(), _keras_conv(keras, case)) < TOLERANCE


@pytest.mark.parametrize("dilation", [d for d in DILATIONS if d > 1])
def test_every_variants_dilated_reference_is_what_keras_computes(keras, dilation):
    for case in ex05b.cases(SPECS, dilation):
        spread = _keras_conv(keras, case, kernels=ex05b.spread(case.kernels, dilation))
        assert _gap(case.expected(), spread) < TOLERANCE, (case.x.shape, case.kernels.shape, case.stride, case.padding)
        if case.stride == 1:  # where Keras's own dilation_rate is allowed
            assert _gap(case.expected(), _keras_conv(keras, case, dilation=dilation)) < TOLERANCE
        # and the comparison tells it from the plain convolution on the same image (a 1 x 1 kernel has no gaps)
        plain = case.convolved(dilation=1)
        assert case.kernels.shape[:2] == (1, 1) or plain.shape != spread.shape or _gap(plain, spread) > ex05b_checks._ATOL


def test_every_variant_is_called_with_the_same_inputs():
    # grown for the largest dilation a variant asks, so that a file cannot read its variant from its inputs
    assert ex05b.GROWTH == max(DILATIONS)
    assert all(np.array_equal(a.x, b.x) for a, b in zip(ex05b.cases(SPECS, 1), ex05b.cases(SPECS, max(DILATIONS))))


@pytest.mark.parametrize("pool", POOLS)
def test_the_pool_reference_is_what_keras_computes(keras, pool):
    for x, situation in ex05b.pool_inputs():
        expected = keras.ops.convert_to_numpy(keras.layers.MaxPooling2D(pool)(x))
        assert _gap(ex05b.max_pooled(x, pool), expected) == 0, situation


def test_the_comparison_tells_a_mistake_from_keras(keras):
    # The padding's odd row on top instead of at the bottom: "same" cases with odd total padding differ.
    odd = [c for c in ex05b.cases(ex05b.SAME) if sum(c.same_pads(c.x.shape[1], c.kernels.shape[0])) % 2]
    assert odd
    for case in odd:
        top_first = [case.same_pads(case.x.shape[1], case.kernels.shape[0], extra_first=True),
                     case.same_pads(case.x.shape[2], case.kernels.shape[1], extra_first=True)]
        assert _gap(case.convolved(pads=top_first), _keras_conv(keras, case)) > ex05b_checks._ATOL
    # A flipped kernel (a true convolution) on every case with a kernel larger than 1 x 1.
    for case in CASES:
        if case.kernels.shape[:2] != (1, 1):
            assert _gap(case.convolved(kernels=case.kernels[::-1, ::-1]), _keras_conv(keras, case)) > ex05b_checks._ATOL
    # A pool that keeps the odd last row or column (padding "same") is not MaxPooling2D().
    x = ex05b.pool_inputs()[0][0]
    assert _gap(ex05b.max_pooled(x), keras.ops.convert_to_numpy(keras.layers.MaxPooling2D(padding="same")(x))) == np.inf


# ---------------------------------------------------------------- ex05b's backward passes


def _tape_gradients(case):
    """What tf.GradientTape takes back through the convolution, the kernels' taps spread apart
    (the contract's definition; Keras's own where it allows the dilation), padded as "same" pads."""
    import tensorflow as tf

    dilation = case.dilation
    x, kernels, bias = (tf.Variable(a.astype(np.float64)) for a in (case.x, case.kernels, case.bias))
    kh, kw = case.kernels.shape[:2]
    taps = [[a * dilation, b * dilation] for a in range(kh) for b in range(kw)]
    pads = [(0, 0), *case.pads(), (0, 0)]
    with tf.GradientTape() as tape:
        spread = tf.scatter_nd(taps, tf.reshape(kernels, (kh * kw, *case.kernels.shape[2:])),
                               (ex05b.span(kh, dilation), ex05b.span(kw, dilation), *case.kernels.shape[2:]))
        loss = tf.reduce_sum((tf.nn.conv2d(tf.pad(x, pads), spread, case.stride, "VALID") + bias) * case.dout())
    return [g.numpy() for g in tape.gradient(loss, [x, kernels, bias])]


@pytest.mark.parametrize("dilation", DILATIONS)
def test_the_conv2d_backward_reference_is_what_gradient_tape_takes(keras, dilation):
    for case in ex05b.cases(ex05b.BACKWARD, dilation):
        for got, want in zip(case.gradients(), _tape_gradients(case)):
            assert _gap(got, want) < TOLERANCE, (case.x.shape, case.kernels.shape, case.stride, case.padding)


def test_the_conv2d_backward_reference_agrees_with_finite_differences():
    """Ten numbers of each gradient, for every variant, against (L(v + h) - L(v - h)) / 2h in float64."""
    rng = np.random.default_rng(0)
    for dilation in DILATIONS:
        for case in ex05b.cases(ex05b.BACKWARD[::3], dilation):
            grads, dout = case.gradients(), case.dout().astype(np.float64)
            given = [case.x.astype(np.float64), case.kernels.astype(np.float64), case.bias.astype(np.float64)]

            def loss(index, where, step):  # sum(conv2d(...) * dout), one of the inputs nudged by `step` at `where`
                moved, values = case.on_dilation(dilation), [v.copy() for v in given]
                values[index][where] += step
                moved.x, moved.kernels, moved.bias = values
                return float((moved.convolved() * dout).sum())

            for index, name in enumerate(("x", "kernels", "bias")):
                for flat in rng.choice(grads[index].size, min(10, grads[index].size), replace=False):
                    where, h = np.unravel_index(flat, grads[index].shape), 1e-5
                    numeric = (loss(index, where, h) - loss(index, where, -h)) / (2 * h)
                    assert abs(numeric - grads[index][where]) < 1e-6 * max(1.0, abs(numeric)), (name, where, case.padding, dilation)


@pytest.mark.parametrize("pool", POOLS)
def test_the_pool_backward_reference_is_what_gradient_tape_takes_ties_included(keras, pool):
    import tensorflow as tf

    for kind, inputs in ex05b.pool_gradient_inputs().items():
        for x, situation in inputs:
            dout = ex05b.pool_dout(x, pool)
            variable = tf.Variable(x)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(keras.layers.MaxPooling2D(pool)(variable) * dout)
            want = tape.gradient(loss, variable).numpy()
            assert _gap(ex05b.pool_gradient(x, dout, pool), want) == 0, situation
            # the tie inputs tell TensorFlow's rule from its look-alikes; the others have no tie at all
            for mistake in ("every", "last"):
                assert (_gap(ex05b.pool_gradient(x, dout, pool, mistake), want) > 0) == (kind == "ties"), (mistake, situation)


def test_the_backward_comparison_tells_the_classic_mistakes_from_the_gradients():
    """Each mistake the checks name differs from the right gradient on some case, beyond the tolerance."""
    cases = ex05b.cases(ex05b.BACKWARD)
    gap = lambda mistake, index: max(_gap(mistake(c)[index], c.gradients()[index]) for c in cases)
    assert gap(lambda c: c.gradients(flipped=True), 0) > ex05b_checks._ATOL
    assert gap(lambda c: c.gradients(kernels=c.kernels[::-1, ::-1]), 0) > ex05b_checks._ATOL
    assert gap(lambda c: c.gradients(pads=c.pads(extra_first=True)), 0) > ex05b_checks._ATOL
    assert gap(lambda c: c.gradients(stride=1), 1) > ex05b_checks._ATOL
    assert gap(lambda c: c.gradients(dout=c.dout() * (np.arange(len(c.x)) == 0)[:, None, None, None]), 2) > ex05b_checks._ATOL


# ---------------------------------------------------------------- ex02b: every variant's hidden activation

EX02B = COURSE.exercise("ex02b")


def _module(source: str):
    import types

    module = types.ModuleType("ex02b_for_a_variant")
    exec(compile(source, EX02B.filename, "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("key", [v.key for v in EX02B.variants])
def test_every_ex02b_variants_reference_and_alternative_is_what_tensorflow_computes(key, mnist_path):
    """Each variant's reference (the solution with its lines, tests/variant_edits/ex02b.py) and each
    alternative of tests/test_alternatives.py set to that variant compute the grader's loss and its
    gradients (TensorFlow's tape, float64) to float64's last digits, on the checks' small problem and on
    MNIST images, and another variant's loss differs from them there: the references ask four
    different derivatives, and a classmate's file cannot pass for one of them."""
    from corpus import filled
    from grader.references import ex02b_backprop as ref
    from mnist_course.data import load_mnist
    from test_alternatives import BACKPROP_ALTERNATIVES
    from variant_references import for_variant, reference_source

    hidden = EX02B.variant(key).params["hidden"]
    sources = {"reference": reference_source(EX02B, key)}
    sources |= {name: for_variant(EX02B, key, filled("ex02b", **bodies), settings_only=True) for name, (_, bodies) in BACKPROP_ALTERNATIVES.items()}
    problems = [ref.small_problem(), ref.mnist_problem(load_mnist(mnist_path))]
    for name, source in sources.items():
        module = _module(source)
        assert module.HIDDEN == hidden, name
        for x, y, params in problems:
            value, *grads = module.gradients(x, y, *params)
            want, want_grads = ref.gradient_tape(x, y, params, hidden)
            assert abs(value - want) < 1e-12 and abs(module.loss(x, y, *params) - want) < 1e-12, name
            assert max(ref.rel_error(g, w) for g, w in zip(grads, want_grads)) < 1e-12, name
            others = [v.params["hidden"] for v in EX02B.variants if v.key != key]
            assert all(abs(ref.loss(x, y, *params, hidden=other) - want) > 1e-6 for other in others), name
    # Hidden sums of exactly 0, where leaky_relu and relu have a kink: the contract takes the slope just below 0
    # there, and so must the grader's TensorFlow (tf.maximum(z, 0.1 z) took 1, a review of the variants found).
    x, y, (W1, b1, W2, b2) = ref.small_problem()
    x = x.copy()
    x[:3] = 0.0
    value, *grads = _module(sources["reference"]).gradients(x, y, W1, np.zeros_like(b1), W2, b2)
    _, want_grads = ref.gradient_tape(x, y, (W1, np.zeros_like(b1), W2, b2), hidden)
    assert max(ref.rel_error(g, w) for g, w in zip(grads, want_grads)) < 1e-12


def _slope_by_differences(f, step: float, centred: bool):
    if centred:
        return lambda z: (f(z + step) - f(z - step)) / (2 * step)
    return lambda z: (f(z) - f(z - step)) / step


def _gradients_with_slope(x, y, W1, b1, W2, b2, f, slope):
    """gradients() as the reference computes them, with the slope of f given by `slope`."""
    n = len(x)
    z1 = x @ W1 + b1
    h = f(z1)
    z2 = h @ W2 + b2
    z2 = z2 - z2.max(axis=1, keepdims=True)
    log_p = z2 - np.log(np.exp(z2).sum(axis=1, keepdims=True))
    dz2 = np.exp(log_p)
    dz2[np.arange(n), y] -= 1.0
    dz2 /= n
    dz1 = (dz2 @ W2.T) * slope(z1)
    return x.T @ dz1, dz1.sum(axis=0), h.T @ dz2, dz2.sum(axis=0)


# Each variant's activation, and its slope written otherwise than the reference writes it.
_ACTIVATIONS = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: np.where(z > 0, 1.0, 0.0)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.1 * z), lambda z: np.where(z <= 0, 0.1, 1.0)),
    "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))), lambda z: np.where(z > 0, 1.0, np.expm1(np.minimum(z, 0.0)) + 1)),
}


@pytest.mark.parametrize("key", [v.key for v in EX02B.variants])
def test_ex02b_derivation_problems_tell_a_derived_slope_from_finite_differences(key):
    """gradients_derived's problems and measure (grader/checks/ex02b/gradients.py): on 200 of them, the
    variant's reference, every alternative and the slope written another way agree with TensorFlow's
    tape far inside DERIVED_TOLERANCE, and a slope taken by finite differences of f in float64, centred
    or one-sided, at any fixed step from 1e-2 to 1e-12, misses it by far on every one."""
    from corpus import filled
    from grader.checks.ex02b.gradients import DERIVED_TOLERANCE, _derived_errors
    from grader.references import ex02b_backprop as ref
    from test_alternatives import BACKPROP_ALTERNATIVES
    from variant_references import for_variant, reference_source

    hidden = EX02B.variant(key).params["hidden"]
    modules = [_module(reference_source(EX02B, key))]
    modules += [_module(for_variant(EX02B, key, filled("ex02b", **bodies), settings_only=True)) for _, bodies in BACKPROP_ALTERNATIVES.values()]
    f, written_otherwise = _ACTIVATIONS[hidden]
    numeric = [_slope_by_differences(f, step, centred) for step in (1e-2, 1e-3, 1e-4, 1e-5, 3e-6, 1e-6, 1e-7, 1e-8, 1e-10, 1e-12)
               for centred in (True, False)]
    derived_worst, numeric_best = 0.0, np.inf
    for seed in range(200):
        x, y, params = ref.derivation_problem(seed)
        _, want = ref.gradient_tape(x, y, params, hidden)
        sizes = ref.first_layer_sizes(x, y, params, hidden)
        derived = [module.gradients(x, y, *params)[1:] for module in modules] + [_gradients_with_slope(x, y, *params, f, written_otherwise)]
        derived_worst = max(derived_worst, *(max(_derived_errors(got, want, sizes)) for got in derived))
        numeric_best = min(numeric_best, *(max(_derived_errors(_gradients_with_slope(x, y, *params, f, slope), want, sizes)) for slope in numeric))
    assert derived_worst < DERIVED_TOLERANCE / 10, derived_worst
    assert numeric_best > DERIVED_TOLERANCE * 5, numeric_best


# ---------------------------------------------------------------- ex03b's rules

EX03B = COURSE.exercise("ex03b")


def _solution_functions(exercise_id: str, names: tuple[str, ...], **scope) -> dict:
    """solutions/'s functions `names` of `exercise_id` alone (no import of the rest of the file, Keras's
    included), run with numpy as np and `scope` (a variant's constant at the top of the file, say)."""
    import ast

    source = COURSE.exercise(exercise_id).solution_path.read_text(encoding="utf-8")
    nodes = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name in names]
    scope = {"np": np, **scope}
    exec(compile(ast.Module(body=nodes, type_ignores=[]), f"{exercise_id}: {', '.join(names)}", "exec"), scope)
    return scope


def _solutions_ex03b(key: str, name: str = "choose_width"):
    """solutions/'s choose_width() (or another of its decisions) for variant `key`: the decision
    functions alone, with RULE set."""
    import itertools

    return _solution_functions("ex03b", ("choose_width", "seeds_the_choice_rests_on"), RULE=key, itertools=itertools)[name]


def test_ex03b_rule_cases_tell_every_variant_and_near_miss_apart():
    """Each pair of variants' rules disagrees on one of the grader's tables, each rule's near-misses
    too, and no width's mean lies within 4e-4 of a floor (the tables decide by margins, not by rounding);
    the grader's rule is the reference's choose_width() on every table, for every variant. The same
    holds for the tables as `drawn_cases` moves them for a submission (20 draws), and each draw
    moves every table."""
    from grader.references import ex03b_experiment as ref

    keys = [v.key for v in EX03B.variants]
    assert sorted(keys) == sorted(ref.FLOORS)
    references = {key: _solutions_ex03b(key) for key in keys}
    for draw, cases in [(None, ref.RULE_CASES), *((seed, ref.drawn_cases(seed)) for seed in range(20))]:
        if draw is not None:
            assert not any(np.allclose(t, o) for (_, t), (_, o) in zip(cases, ref.RULE_CASES)), draw
        for n, a in enumerate(keys):
            for b in keys[n + 1:]:
                assert any(ref.rule(w, t, a) != ref.rule(w, t, b) for w, t in cases), (draw, a, b)
        for key in keys:
            for name in ref.near_misses(*cases[0], key):
                assert any(ref.near_misses(w, t, key)[name] != ref.rule(w, t, key) for w, t in cases), (draw, key, name)
            for widths, table in cases:
                table = np.asarray(table)
                means = table.mean(axis=1)
                best = ref.best_row(widths, means)
                floor = ref.FLOORS[key](means[best], table[best])
                assert np.min(np.abs(means - floor)) > 4e-4, (draw, key, widths, table)
                assert references[key](np.asarray(widths), table)[0] == ref.rule(widths, table, key), (draw, key, widths)


def _rests_on_mistakes(widths, table, key: str) -> dict[str, int | None]:
    """What seeds_the_choice_rests_on()'s usual mistakes return (grader/references/ex03b_experiment.py
    names them), computed here from the reference's rule, where no student receives them."""
    import itertools

    from grader.references import ex03b_experiment as ref

    table = np.asarray(table, dtype=np.float64)
    k, whole = table.shape[1], ref.rule(widths, table, key)

    def fewest(ks, changes):
        return next((m for m in ks for out in itertools.combinations(range(k), m) if changes(out)), None)

    means = table.mean(axis=1)
    best = ref.best_row(widths, means)
    floor = ref.FLOORS[key](means[best], table[best])

    def kept_floor(out):
        left = np.delete(table, out, axis=1).mean(axis=1)
        return min((w for w, mean in zip(widths, left) if mean >= floor), default=None) != whole

    def standard_error_rule(left, ddof, k_div):
        left_means = left.mean(axis=1)
        top = ref.best_row(widths, left_means)
        floor = left_means[top] - left[top].std(ddof=ddof) / np.sqrt(k_div)
        return min(w for w, mean in zip(widths, left_means) if mean >= floor)

    said = {
        ref.WHOLE_FLOOR: fewest(range(1, k - 1), kept_floor),
        ref.ONE_AT_A_TIME: fewest([1], lambda out: ref.rule(widths, np.delete(table, out, axis=1), key) != whole),
    }
    if key == "one_se":
        whole_se = standard_error_rule(table, 0, k)
        said[ref.SE_DDOF0] = fewest(range(1, k - 1), lambda out: standard_error_rule(np.delete(table, out, axis=1), 0, k - len(out)) != whole_se)
        said[ref.SE_WHOLE_K] = fewest(range(1, k - 1), lambda out: standard_error_rule(np.delete(table, out, axis=1), 1, k) != whole)
    if key == "worst_seed":
        said[ref.DOWN_TO_ONE] = fewest(range(1, k), lambda out: ref.rule(widths, np.delete(table, out, axis=1), key) != whole)
    return said


def test_ex03b_fragility_cases_hold_the_reference_s_answers_and_tell_variants_and_mistakes_apart():
    """seeds_the_choice_rests_on()'s tables carry their answers as data (no grader code computes one):
    each is the reference solution's, for every variant, on the tables and on 20 draws of
    `drawn_fragility_cases` (which adds clearly worse widths, shuffles the rows and moves the tables);
    so is each usual mistake's; every pair of variants and every mistake disagree with the answer on
    some table; and no two means, nor a mean and its floor, come within 4e-4 in any table with
    columns left out (margins decide, not rounding)."""
    import itertools

    from grader.references import ex03b_experiment as ref

    keys = [v.key for v in EX03B.variants]
    counts = {key: _solutions_ex03b(key, "seeds_the_choice_rests_on") for key in keys}
    answers = [case[2] for case in ref.FRAGILITY_CASES]
    mistakes = [case[3] for case in ref.FRAGILITY_CASES]
    for n, a in enumerate(keys):
        for b in keys[n + 1:]:
            assert any(answer[a] != answer[b] for answer in answers), (a, b)
    for key in keys:
        assert {answer[key] for answer in answers} >= {None, 1, 2}, key
        for name in mistakes[0]:
            assert all((key in m[name]) == (key in mistakes[0][name]) for m in mistakes), (key, name)
            if key in mistakes[0][name]:
                assert any(m[name][key] != answer[key] for m, answer in zip(mistakes, answers)), (key, name)
    original = [(n, w, t) for n, (w, t, *_) in enumerate(ref.FRAGILITY_CASES)]
    for draw, cases in [(None, original), *((seed, ref.drawn_fragility_cases(seed)) for seed in range(20))]:
        if draw is not None:  # every case twice, in an order of the draw's own
            assert sorted(which for which, _, _ in cases) == sorted(list(range(len(answers))) * 2), draw
        for which, widths, table in cases:
            answer, mistake = answers[which], mistakes[which]
            table = np.asarray(table, dtype=np.float64)
            for key in keys:
                assert counts[key](np.asarray(widths), table) == answer[key], (draw, key, widths, table)
                assert _rests_on_mistakes(widths, table, key) == {name: by[key] for name, by in mistake.items() if key in by}, (draw, key, table)
                for m in range(table.shape[1] - 1):
                    for out in itertools.combinations(range(table.shape[1]), m):
                        left = np.delete(table, out, axis=1)
                        means = left.mean(axis=1)
                        assert np.min(np.abs(np.subtract.outer(means, means))[~np.eye(len(means), dtype=bool)]) > 4e-4 * 0.8, (draw, out)
                        best = ref.best_row(widths, means)
                        assert np.min(np.abs(means - ref.FLOORS[key](means[best], left[best]))) > 4e-4 * 0.8, (draw, key, out)


# ---------------------------------------------------------------- ex04: calibration and McNemar's test


@pytest.mark.parametrize("n_bins", [4, 8, 10, 15, 40])
def test_the_reliability_reference_bins_every_answer_by_the_contract_s_inequality(n_bins):
    from fractions import Fraction

    drawn = ex04.calibration_probs(seed=123)
    on_edges = [ex04.edge_probs(seed, edges) for seed in range(5) for edges in (4, 8, 16, 32)]  # rows on the edges of powers of two
    for probs, y_true in (drawn, *on_edges):
        rows = [[] for _ in range(n_bins)]
        for row, label in zip(probs, y_true):
            c = Fraction(float(row.max()))  # exact: no rounding decides a bin
            b = next(b for b in range(n_bins) if c <= Fraction(b + 1, n_bins))
            rows[b].append((float(row.max()), float(int(np.argmax(row)) == label)))
        counts, confidence, accuracy = ex04.reliability_table(probs, y_true, n_bins)
        assert counts.tolist() == [len(r) for r in rows]
        assert np.allclose(confidence, [np.mean([c for c, _ in r]) if r else 0.0 for r in rows], rtol=0, atol=1e-12)
        assert np.allclose(accuracy, [np.mean([a for _, a in r]) if r else 0.0 for r in rows], rtol=0, atol=1e-12)
    assert counts.dtype == np.int64 and confidence.dtype == accuracy.dtype == np.float64


def test_the_ece_reference_is_the_expected_gap_of_an_answer_picked_at_random():
    counts, confidence, accuracy = ex04_ece_checks.ECE_TABLE
    gaps = [abs(a - c) for n, c, a in zip(counts, confidence, accuracy) for _ in range(n)]  # one per answer
    assert ex04.expected_calibration_error(counts, confidence, accuracy) == pytest.approx(sum(gaps) / len(gaps), rel=1e-12)


@pytest.mark.parametrize("b, c", [(0, 0), (3, 0), (10, 10), (116, 99), (40, 22), (1000, 1160), (2499, 2659)])
def test_the_mcnemar_reference_is_the_exact_share_of_toss_sequences(b, c):
    from fractions import Fraction
    from math import comb

    n = b + c
    uneven = sum(comb(n, k) for k in range(n + 1) if abs(2 * k - n) >= abs(b - c))  # sequences at least as uneven, either way
    exact = Fraction(uneven, 2**n)
    assert ex04.exact_p_value(b, c) == pytest.approx(float(exact), rel=1e-12)
    rng = np.random.default_rng(0)
    y_true, pred_a, pred_b = ex04.paired_predictions(rng, b, c, 50, 20)
    assert ex04.mcnemar(y_true, pred_a, pred_b)[:2] == (b, c)

def _solutions_most_confused_pairs(key: str):
    """solutions/'s most_confused_pairs() for ex04's variant `key` (PAIRS set), the function alone."""
    return _solution_functions("ex04", ("most_confused_pairs",), PAIRS=key)["most_confused_pairs"]


def test_the_pairs_reference_is_the_solution_s_and_its_matrices_tell_the_rankings_apart():
    """ex04's pairs reference (exact fractions sorted by pandas) gives the reference solution's answer for every
    variant, on 20 drawn matrices and on every hand-made case under 20 relabellings; each drawn matrix tells the three
    variants and the counts alone apart, with no tie among its k + 1 largest sizes; each tie matrix holds a tie of
    shares equal as fractions, reached by three counts, that a product with a reciprocal does not give equal floats;
    each close matrix holds two shares that round alike to a tenth of a percent; and the many ties are more than k."""
    from grader.checks.ex04 import most_confused_pairs as checks

    keys = sorted({v.params["pairs"] for v in COURSE.exercise("ex04").variants})  # each PAIRS, whatever the variant's BINS
    assert keys == sorted(ex04.PAIRS_WAYS[:3])
    solution = {key: _solutions_most_confused_pairs(key) for key in keys}
    for seed in range(20):
        cm = ex04.pairs_cm(seed)
        answers = {way: ex04.most_confused_pairs(cm, 5, way) for way in ex04.PAIRS_WAYS}
        assert len(set(map(tuple, answers.values()))) == len(ex04.PAIRS_WAYS), seed
        for key in keys:
            assert solution[key](cm, 5) == answers[key], (seed, key)
            assert solution[key](cm) == ex04.most_confused_pairs(cm, 3, key), (seed, key)
            many = ex04.relabelled_cm(checks._many_ties(key), ex04.class_relabelling(seed, 9, 10))
            for case, k in ((checks._tied_pairs(seed, key), 6), (checks._close_shares(seed, key), 2), (many, 15)):
                assert solution[key](case, k) == ex04.most_confused_pairs(case, k, key), (seed, key, case)
    for key in keys:
        sized = ex04.most_confused_pairs(checks.TIES[key], 6, key, sized=True)
        largest = [(count, int(count / size)) for _, _, count, size in sized if size == sized[0][3]]
        assert len({count for count, _ in largest}) == 3, key
        assert len({count * (1 / total) for count, total in largest}) > 1, (key, largest)
        close = [size for *_, size in ex04.most_confused_pairs(checks.CLOSE[key], 2, key, sized=True)]
        assert close[0] != close[1] and round(float(close[0]) * 100, 1) == round(float(close[1]) * 100, 1), key
        top = [size for _, size in ex04.confusion_sizes(checks._many_ties(key), key).values()]
        assert top.count(max(top)) > 16 and len(set(top)) == 2, key  # more ties than k = 15, among sizes to sort


# ---------------------------------------------------------------- ex05c: the tolerances hold both epsilon placements


def _ex05c_solution(key: str):
    """The reference of ex05c's variant `key` (tests/variant_references.py), as a module."""
    import types

    from variant_references import reference_source

    module = types.ModuleType(f"ex05c_{key}")
    exec(compile(reference_source(COURSE.exercise("ex05c"), key), f"ex05c_{key}.py", "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("key", ["classic_adam", "classic_amsgrad", "nesterov_adamax"])  # every adaptive optimizer
def test_ex05c_steps_and_fit_agree_with_keras_wherever_epsilon_is_added(key):
    """The solution adds epsilon as the paper's Algorithm 1 does, Keras before the bias correction; the checks' tolerances
    must pass both on every drawn case (an adversarial review found fit() failing 3% of files with epsilon 1e-7): here
    the solution on 30 drawn step sequences and 30 drawn fit() tasks, with the checks' own tolerances."""
    from grader.checks.ex05c import adaptive_step, common as checks
    from grader.references import ex05c_optimizers as ref

    solution = _ex05c_solution(key)
    adaptive = solution.ADAPTIVE
    for seed in range(30):
        rng = np.random.default_rng([seed, 5])
        hyper = dict(learning_rate=float(rng.choice(checks._ADAPTIVE_RATES)), beta_1=float(rng.choice(checks._BETA_1)),
                     beta_2=float(rng.choice(checks._BETA_2)))
        weights, gradients = ref.gradient_sequence(seed, (4, 3), checks._STEPS, fall_at=checks._FALL, rise_at=checks._RISE)
        expected = ref.keras_steps(adaptive, weights, gradients, epsilon=checks._EPSILON, **hyper)
        w, moments = weights, np.zeros((3, 4, 3))
        for k, (gradient, want) in enumerate(zip(gradients, expected), 1):
            w, moments = solution.adaptive_step(w, gradient, moments, k, epsilon=checks._EPSILON, **hyper)
            assert np.all(np.abs(w - want) <= adaptive_step._adaptive_atol(hyper["learning_rate"])(k, want)), (seed, k)
        images, labels = ref.task(seed)
        W, b = solution.fit(images, labels, "adaptive", 0.015625, 3, 24, seed)
        KW, Kb = ref.keras_fit(images, labels, adaptive, 0.015625, ref.batches(len(images), 3, 24, seed))
        scale = max(np.abs(KW).max(), np.abs(Kb).max())
        assert np.abs(W - KW).max() <= checks._FIT_RTOL * scale / 10 and np.abs(b - Kb).max() <= checks._FIT_RTOL * scale / 10, seed


def test_ex05c_amsgrad_with_its_maximum_fed_back_fails_on_every_draw():
    """A classic AMSGrad mistake keeps one array, the maximum fed back into the running average; an expert review
    passed it on 101 of 400 draws of a trajectory whose gradients only fell. With a rise after the fall, every draw
    of the check's trajectory tells it from Keras's AMSGrad."""
    from grader.checks.ex05c import adaptive_step, common as checks
    from grader.references import ex05c_optimizers as ref

    for seed in range(30):
        rng = np.random.default_rng([seed, 6])
        lr, b1, b2 = float(rng.choice(checks._ADAPTIVE_RATES)), float(rng.choice(checks._BETA_1)), float(rng.choice(checks._BETA_2))
        weights, gradients = ref.gradient_sequence(seed, (4, 3), checks._STEPS, fall_at=checks._FALL, rise_at=checks._RISE)
        expected = ref.keras_steps("amsgrad", weights, gradients, lr, beta_1=b1, beta_2=b2, epsilon=checks._EPSILON)
        w, m, v = weights, np.zeros((4, 3)), np.zeros((4, 3))
        apart = False
        for k, (g, want) in enumerate(zip(gradients, expected), 1):
            m = b1 * m + (1 - b1) * g
            v = np.maximum(v, b2 * v + (1 - b2) * g**2)  # the mistake: one array for the average and its maximum
            w = w - lr * (m / (1 - b1**k)) / (np.sqrt(v / (1 - b2**k)) + checks._EPSILON)
            apart = apart or not np.all(np.abs(w - want) <= adaptive_step._adaptive_atol(lr)(k, want))
        assert apart, seed


def test_ex01_class_count_sets_put_a_tie_where_the_leftovers_split_it(mnist_path):
    """train_val_split()'s drawn sets (grader/references/ex01_preprocessing.py) do what the check needs, on many
    draws: in the made-up set, the reference's leftovers go to some classes of a tie and not to others, so only the
    tie rule decides, and every other tie rule a student might write (the larger label, the first met in the array,
    the larger or the smaller class) hands them out otherwise; in both sets every n * val_fraction is exact in binary."""
    import importlib.util
    from fractions import Fraction

    from grader.references import ex01_preprocessing as ex01
    from mnist_course.data import load_mnist

    spec = importlib.util.spec_from_file_location("ex01_solution", load_course().exercise("ex01").solution_path)
    solution = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(solution)
    labels = load_mnist(mnist_path).y_train
    for seed in range(40):
        (made_up, fraction, _), (consecutive, fine, _) = ex01.class_count_cases(labels, seed)
        for picked, f in ((made_up, fraction), (consecutive, fine)):
            assert all(Fraction(n) * Fraction(f) == Fraction(n * f) for n in np.bincount(labels[picked]))
        y = labels[made_up].astype(np.int64)
        val = solution.train_val_split(np.zeros((len(y), 2)), y, fraction, seed)[3]
        digits, sizes = np.unique(y, return_counts=True)
        parts = sizes * fraction % 1
        extra = np.bincount(val, minlength=10)[digits] - np.floor(sizes * fraction)
        split_ties = [p for p in set(parts[parts > 0]) if 0 < extra[parts == p].sum() < (parts == p).sum()]
        assert split_ties == [0.25], (seed, sizes, fraction, extra)
        first_met = [int(np.flatnonzero(y == d)[0]) for d in digits]
        for name, key in (("larger label", lambda i: -digits[i]), ("first met", lambda i: first_met[i]),
                          ("larger class", lambda i: -sizes[i]), ("smaller class", lambda i: sizes[i])):
            ranked = sorted(range(len(digits)), key=lambda i: (-parts[i], key(i)))
            wrong = np.zeros(len(digits))
            wrong[ranked[:int(extra.sum())]] = 1
            assert not np.array_equal(wrong, extra), (seed, name)


def test_ex01_fold_sets_tell_each_near_miss_from_the_contract(mnist_path):
    """stratified_folds()'s drawn sets (grader/references/ex01_preprocessing.py) on 100 draws: the reference solution
    keeps both promises on all three; on each made-up set, a deal that ignores the classes (lesson 1's cell) breaks
    the classes' promise, and each class-by-class near-miss breaks the folds' sizes: leftovers from fold 0, from the
    class's label, from its rank, and from fold 0 up and fold k-1 down in turn (dealt here, independently of the
    generator's own model of them, leftover_piles)."""
    import importlib.util

    from grader.references import ex01_preprocessing as ex01
    from mnist_course.data import load_mnist

    spec = importlib.util.spec_from_file_location("ex01_solution", load_course().exercise("ex01").solution_path)
    solution = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(solution)
    labels = load_mnist(mnist_path).y_train

    def kept(y, folds, k):
        sizes = np.bincount(folds, minlength=k)
        classes = [np.bincount(folds[y == c], minlength=k) for c in np.unique(y)]
        return (sizes.min() >= len(y) // k and sizes.max() <= -(-len(y) // k),
                all(c.min() >= c.sum() // k and c.max() <= -(-c.sum() // k) for c in classes))

    def dealt_by_class(y, k, fold_of, rng):
        """Each class's shuffled samples, the j-th to fold fold_of(label, rank, j) mod k."""
        folds = np.empty(len(y), dtype=np.int64)
        for rank, c in enumerate(np.unique(y)):
            mine = rng.permutation(np.flatnonzero(y == c))
            folds[mine] = np.array([fold_of(int(c), rank, j) for j in range(len(mine))]) % k
        return folds

    near_misses = {"fold 0": lambda c, rank, j: j, "label": lambda c, rank, j: c + j, "rank": lambda c, rank, j: rank + j,
                   "up and down": lambda c, rank, j: j if rank % 2 == 0 else -1 - j}
    for seed in range(100):
        cases = ex01.fold_cases(labels, seed)
        assert len(cases) == 3
        for y, k, _ in cases:
            assert kept(y, solution.stratified_folds(y, k, seed), k) == (True, True), seed
        rng = np.random.default_rng(seed)
        for made_up, k, _ in cases[:2]:
            ignoring = np.empty(len(made_up), dtype=np.int64)
            ignoring[rng.permutation(len(made_up))] = np.arange(len(made_up)) % k
            assert kept(made_up, ignoring, k) == (True, False), seed
            for name, fold_of in near_misses.items():
                assert kept(made_up, dealt_by_class(made_up, k, fold_of, rng), k) == (False, True), (seed, name)


def test_ex06_threshold_cases_tell_each_classic_search_from_the_contract():
    """choose_threshold()'s drawn validation results (grader/references/ex06_real_use.py) on 40 draws: the best
    threshold each set was built around is the contract's (a search written here, never shipped, and the reference
    solution agree), and each classic mistake returns another threshold on the set built for it (equal confidences
    counted one answer at a time, in either order; a search that stops at the first threshold breaking the limit;
    "at most" read as "below"; answers counted above t, not from t; a search that stops at a break once 100, 200 or
    6 / max_error answers are counted, on the set whose share breaks late; max_error 0 taken for "nothing keeps")."""
    import importlib.util
    import math

    from grader.references import ex06_real_use as ex06

    spec = importlib.util.spec_from_file_location("ex06_solution", load_course().exercise("ex06").solution_path)
    solution = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(solution)

    def searched(conf, ok, m):
        kept = [float(c) for c in np.unique(conf) if ex06.keeps(*ex06.answered_share(conf, ok, c), m)]
        return min(kept) if kept else math.inf

    def one_at_a_time(conf, ok, m, order):
        wrong, n = np.cumsum(~ok[order]), np.arange(1, len(conf) + 1)
        kept = np.flatnonzero(wrong <= m * n)
        return float(conf[order][kept[-1]]) if len(kept) else math.inf

    def first_failure(conf, ok, m):
        best = math.inf
        for c in np.unique(conf)[::-1]:
            if not ex06.keeps(*ex06.answered_share(conf, ok, c), m):
                break
            best = float(c)
        return best

    def strict(conf, ok, m):
        kept = [float(c) for c in np.unique(conf) if ex06.answered_share(conf, ok, c)[1] < m * ex06.answered_share(conf, ok, c)[0]]
        return min(kept) if kept else math.inf

    def above(conf, ok, m):
        kept = [float(c) for c in np.unique(conf) if (conf > c).any() and ex06.keeps(int((conf > c).sum()), int(((conf > c) & ~ok).sum()), m)]
        return min(kept) if kept else math.inf

    def stops_once_counted(conf, ok, m, enough):
        best = math.inf
        for c in np.unique(conf)[::-1]:
            answered, wrong = ex06.answered_share(conf, ok, c)
            if ex06.keeps(answered, wrong, m):
                best = float(c)
            elif answered >= enough:
                break
        return best

    for seed in range(40):
        validation, dip_and_tie, at_the_limit, none, late_break, zero_allowed, one_answer = cases = ex06.threshold_cases(seed)
        best = {case.kind: case.best for case in cases}
        for case in cases:
            assert searched(case.confidences, case.correct, case.max_error) == case.best, (seed, case.kind)
            assert solution.choose_threshold(case.confidences, case.correct, case.max_error) == case.best, (seed, case.kind)
        assert math.isfinite(best["validation"]) and best["none"] == math.inf, seed
        # equal confidences counted one at a time: wrong whichever order the equal ones come in
        c, ok, m = dip_and_tie.confidences, dip_and_tie.correct, dip_and_tie.max_error
        for right_first in (True, False):
            order = np.lexsort((ok if not right_first else ~ok, -c))
            assert one_at_a_time(c, ok, m, order) != best["dip and tie"], (seed, right_first)
        for case in (validation, dip_and_tie):
            assert first_failure(case.confidences, case.correct, case.max_error) != best[case.kind], (seed, case.kind)
        assert strict(at_the_limit.confidences, at_the_limit.correct, at_the_limit.max_error) != best["at the limit"], seed
        for case in (validation, dip_and_tie, at_the_limit):
            assert above(case.confidences, case.correct, case.max_error) != best[case.kind], (seed, case.kind)
        c, ok, m = late_break.confidences, late_break.correct, late_break.max_error
        for enough in (100, 200, 6 / m):
            assert stops_once_counted(c, ok, m, enough) != best["late break"], (seed, enough)
        assert zero_allowed.max_error == 0 and math.isfinite(best["zero allowed"]), seed
        assert len(one_answer.confidences) == 1 and best["one answer"] == 0.0, seed
