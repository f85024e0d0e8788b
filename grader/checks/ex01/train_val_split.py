"""ex01's checks of train_val_split(), and their messages."""

import numpy as np

from grader.feedback import describe
from grader.references import ex01_preprocessing as ref
from grader.scoring import depends_on


def _indexed(mnist, picked):
    """The training digits `picked` (indices, or a count of the first ones), their two top-left pixels (always 0
    in MNIST) encoding their index in the set, and their labels."""
    picked = np.arange(picked) if isinstance(picked, int) else picked
    images = mnist.x_train[picked].copy()
    images[:, 0, 0] = np.arange(len(picked)) // 256
    images[:, 0, 1] = np.arange(len(picked)) % 256
    return images, mnist.y_train[picked].copy()


def _index_of(images):
    return images[:, 0, 0].astype(np.int64) * 256 + images[:, 0, 1]


def _split(student, mnist, n=250, val_fraction=0.2, seed=0, cached=True):
    images, labels = _indexed(mnist, n)
    r = student.call(
        "train_val_split",
        images,
        labels,
        shown=f"x_train[:{n}], y_train[:{n}]",
        expect=f"(x_train, y_train, x_val, y_val) with {n - round(n * val_fraction)} training and {round(n * val_fraction)} validation samples",
        cached=cached,
        val_fraction=val_fraction,
        seed=seed,
    )
    value = r.value
    if not isinstance(value, (tuple, list)) or len(value) != 4:
        raise r.fail(f"got {describe(value)}", hint="return x_train, y_train, x_val, y_val")
    parts = []
    for name, part in zip(("x_train", "y_train", "x_val", "y_val"), value):
        if not isinstance(part, np.ndarray) or part.ndim == 0:
            raise r.fail(f"{name} is not a numpy array", hint="index the input arrays to build each part")
        parts.append(part)
    return images, labels, r, parts


def test_train_val_split_sizes(student, mnist):
    # 99 * 0.2 = 19.8: round() gives 20, int() 19, so the contract's rounding shows; 10 * 0.25 = 2.5: round() gives 2
    # (Python rounds a half to the even number), rounding half up 3.
    for n, fraction in ((250, 0.2), (101, 0.25), (99, 0.2), (10, 0.25)):
        _, _, r, (xt, yt, xv, yv) = _split(student, mnist, n, fraction)
        n_val = round(n * fraction)
        got = (len(xt), len(yt), len(xv), len(yv))
        if got == (n - n_val, n - n_val, n_val, n_val) and xt.shape[1:] == (28, 28):
            continue
        cause = "the parts were not sized from round(N * val_fraction)"
        if got == (n_val, n_val, n - n_val, n - n_val):
            cause = "the two parts are swapped: the validation part is the small one"
        elif abs(len(xv) - n * fraction) < 1:
            cause = f"rounding: the contract asks for round({n} * {fraction}) = {n_val} validation samples" + (
                " (Python's round() takes a half to the even number)" if (n * fraction) % 1 == 0.5 else "")
        raise r.fail(
            f"got part lengths x_train={got[0]}, y_train={got[1]}, x_val={got[2]}, y_val={got[3]}",
            f"{n - n_val}, {n - n_val}, {n_val}, {n_val}",
            cause=cause,
            hint=f"round(N × val_fraction) = {n_val} samples for validation, the remaining {n - n_val} for training",
        )


def test_train_val_split_partition(student, mnist):
    images, labels, r, (xt, yt, xv, yv) = _split(student, mnist)
    if xt.shape[1:] != (28, 28) or xv.shape[1:] != (28, 28) or len(xt) != len(yt) or len(xv) != len(yv):
        raise r.fail(f"got parts of shapes {xt.shape}, {yt.shape}, {xv.shape}, {yv.shape}", hint="return x_train, y_train, x_val, y_val")
    it, iv = _index_of(xt), _index_of(xv)
    everything = np.concatenate([it, iv])
    if everything.max(initial=0) >= len(images) or not np.array_equal(np.concatenate([xt, xv]), images[everything]):
        raise r.fail("some returned images are not images of the input", cause="the images were modified or mixed up while splitting")
    if len(np.intersect1d(it, iv)):
        raise r.fail(
            f"{len(np.intersect1d(it, iv))} samples appear in both parts",
            "disjoint parts",
            cause="the two index sets overlap",
            hint="slice one permutation into two non-overlapping pieces",
        )
    if len(np.unique(everything)) != len(everything) or len(everything) != len(images):
        raise r.fail(
            f"the parts hold {len(np.unique(everything))} distinct samples of {len(images)} (with {len(everything) - len(np.unique(everything))} repeats)",
            "every sample exactly once",
            cause="sampling with replacement (rng.choice without replace=False, or rng.integers)",
            hint="cut a permutation (rng.permutation) of each class's indices: no sample can then come twice",
        )
    if not (np.array_equal(yt, labels[it]) and np.array_equal(yv, labels[iv])):
        raise r.fail(
            "some images came back with another image's label",
            "each image paired with its own label",
            cause="images and labels were shuffled separately",
            hint="shuffle one index array and use it for both images and labels",
        )


def _class_count_cases(student, mnist):
    """train_val_split()'s labelled sets for its class counts, drawn for this file (references.class_count_cases),
    as (images, labels, val_fraction, how the call reads): real digits, their two top-left pixels encoding their
    index in the set."""
    return [(*_indexed(mnist, picked), fraction, shown) for picked, fraction, shown in ref.class_count_cases(mnist.y_train, student.split_seed)]


def _leftover_fault(sizes: dict[int, int], taken: dict[int, int], fraction: float) -> tuple[str, str]:
    """Why the counts taken break the largest-remainder rule, and the docstring's sentence they break; ("", "")
    when they keep it. A class passed over for one with a smaller fractional part is named before a tie
    broken the wrong way: it is the larger mistake."""
    floors = {d: int(np.floor(n * fraction)) for d, n in sizes.items()}
    part = {d: n * fraction - floors[d] for d, n in sizes.items()}
    extra = [d for d in sizes if taken[d] == floors[d] + 1]
    passed_over = [d for d in sizes if taken[d] == floors[d] and part[d] > 0]
    share = lambda d: f"digit {d} ({sizes[d]} × {fraction} = {sizes[d] * fraction:g})"  # noqa: E731
    for other in passed_over:
        for got in extra:
            if part[other] > part[got]:
                return (f"{share(got)} got one of the samples left over after the floors, but {share(other)}, with a larger "
                        "fractional part, did not: the leftovers went by something else than the fractional parts",
                        "the samples still missing from the total then go one each to the classes whose n * val_fraction "
                        "has the largest fractional part")
    for other in passed_over:
        for got in extra:
            if part[other] == part[got] and other < got:
                return (f"{share(got)} got one of the samples left over after the floors, but {share(other)}, with the same "
                        "fractional part and a smaller label, did not: ties go to the smaller label, so a key other than the "
                        "label, or a sort that does not keep equal values in order, breaks them otherwise (np.argsort's "
                        "default sort is not stable, and on some processors returns equal values in another order)",
                        "between equal fractional parts, to the smaller label")
    return "", ""


@depends_on(test_train_val_split_partition, earns="its class counts (once every sample lands in exactly one part, with its own label)")
def test_train_val_split_class_counts(student, mnist):
    for images, labels, fraction, shown in _class_count_cases(student, mnist):
        n_val = round(len(labels) * fraction)
        r = student.call("train_val_split", images, labels, shown=shown,
                         expect=f"a validation part of {n_val} samples, each class's count by the largest-remainder rule",
                         val_fraction=fraction, seed=0)
        parts = r.value
        if not isinstance(parts, (tuple, list)) or len(parts) != 4 or not isinstance(parts[2], np.ndarray) or parts[2].ndim < 3:
            raise r.fail(f"got {describe(parts)}", hint="return x_train, y_train, x_val, y_val")
        index = _index_of(parts[2])
        if index.max(initial=0) >= len(labels):
            raise r.fail("some validation images are not images of the input", cause="the images were modified while splitting")
        if not (isinstance(parts[3], np.ndarray) and parts[3].shape == index.shape and np.array_equal(parts[3], labels[index])):
            raise r.fail("y_val does not hold the validation images' own labels", "each image paired with its own label",
                         cause="images and labels were picked or shuffled separately",
                         hint="index images and labels with the same index array",
                         contract="each image keeps its own label")
        digits, counts = np.unique(labels, return_counts=True)
        sizes = dict(zip(digits.tolist(), counts.tolist()))
        taken = {d: int(np.sum(labels[index] == d)) for d in sizes}
        floors = {d: int(np.floor(n * fraction)) for d, n in sizes.items()}
        got = "validation samples of " + ", ".join(f"digit {d}: {taken[d]} of {sizes[d]}" for d in sizes)
        rule = (f"floor(n × {fraction}) samples of each digit, and the {n_val - sum(floors.values())} still missing from "
                f"round({len(labels)} × {fraction}) = {n_val} one each to the digits whose n × {fraction} has the largest "
                "fractional part (between equal parts, the smaller digit)")
        outside = [d for d in sizes if not floors[d] <= taken[d] <= floors[d] + (sizes[d] * fraction > floors[d])]
        if outside:
            d = outside[0]
            allowed = f"{sizes[d]} × {fraction} = {sizes[d] * fraction:g} allows only {floors[d]}" + (
                f" or {floors[d] + 1}" if sizes[d] * fraction > floors[d] else "")
            floors_kept = all(taken[c] >= floors[c] for c in sizes)
            raise r.fail(
                got, rule,
                cause=(f"digit {d} gave {taken[d]} of its {sizes[d]}, where {allowed}: " + (
                    "the floors are kept, but one digit took more than one of the samples left over, which go one each"
                    if floors_kept else "the validation samples were not counted class by class (a plain shuffle leaves "
                    "each class's share to chance, and a small set's shares wobble by several points)")),
                hint="count each class's validation samples first, from its own size, and only then pick which ones",
                contract="A class with n samples gives floor(n * val_fraction) of them")
        if sum(taken.values()) != n_val:
            rounded_alone = all(taken[d] == round(n * fraction) for d, n in sizes.items())
            half = (len(labels) * fraction) % 1 == 0.5
            raise r.fail(
                got + f" ({sum(taken.values())} in all)", rule,
                cause=("each class's share was rounded on its own, and the rounded shares do not add up to "
                       f"round({len(labels)} × {fraction}) = {n_val}") if rounded_alone else
                      f"the counts add up to {sum(taken.values())}, not round({len(labels)} × {fraction}) = {n_val}" + (
                          " (Python's round() takes a half to the even number)" if half else ""),
                hint="take the floors first, then hand out what they leave short of the total, one sample per class",
                contract="the samples still missing from the total then go one each to the classes whose n * val_fraction "
                         "has the largest fractional part")
        fault, broken = _leftover_fault(sizes, taken, fraction)
        if fault:
            raise r.fail(
                got, rule, cause=fault,
                hint="the leftovers go to the classes with the largest fractional parts, equal parts in label order: check "
                     "whether your ordering keeps equal keys in the order they came, and which classes it puts first on your paper case",
                contract=broken)


def test_train_val_split_reproducible(student, mnist):
    first = _split(student, mnist, seed=0)
    again = _split(student, mnist, seed=0, cached=False)
    other = _split(student, mnist, seed=1)
    r = again[2]
    order = lambda split: np.concatenate([_index_of(split[3][0]), _index_of(split[3][2])])  # noqa: E731
    if not np.array_equal(order(first), order(again)):
        raise r.fail(
            "two calls with seed=0 gave different splits",
            "the same split for the same seed",
            cause="a random generator that ignores the seed (np.random.shuffle, np.random.permutation, default_rng())",
            hint="create the generator from the argument: np.random.default_rng(seed)",
        )
    if np.array_equal(order(first), order(other)):
        raise r.fail("seed=0 and seed=1 gave the same split", "different seeds to shuffle differently", cause="the seed is not passed to the generator")
    if np.array_equal(np.sort(_index_of(first[3][2])), np.sort(_index_of(other[3][2]))):
        raise r.fail(
            "seed=0 and seed=1 held out the same samples, only in another order",
            "different seeds to hold out different samples",
            cause="the shuffle decides the order but not which samples of each class go (the first ones of each class, say)",
            hint="shuffle each class's indices with the generator before taking its count",
            contract="Which samples of a class go is the shuffle's choice",
        )
    val = np.sort(_index_of(first[3][2]))
    n = len(first[0])
    if np.array_equal(val, np.arange(len(val))) or np.array_equal(val, np.arange(n - len(val), n)):
        raise r.fail(
            "the validation part is a contiguous slice of the input",
            "a shuffled split",
            cause="the data was sliced without shuffling",
            hint="shuffle each class's indices with the generator before taking its count",
        )


@depends_on(test_train_val_split_partition)
def test_train_val_split_leaves_input(student, mnist):
    images, labels, r, _ = _split(student, mnist)
    after_images, after_labels = r.args_after
    if not (np.array_equal(after_images, images) and np.array_equal(after_labels, labels)):
        raise r.fail(
            "afterwards the caller's images or labels had changed",
            "the inputs left untouched",
            cause="shuffling in place (rng.shuffle(images) reorders the caller's array)",
            hint="shuffle indices and index the arrays: images[order] is a new array",
            contract="the inputs are not modified",
        )


@depends_on(test_train_val_split_partition)
def test_train_val_split_rejects_bad_input(student, mnist):
    images, labels = _indexed(mnist, 20)
    cases = [
        (images, labels, {"val_fraction": fraction}, "x_train[:20], y_train[:20]") for fraction in (0.0, 1.0, 1.5, -0.2)
    ] + [
        (images, labels[:-1], {"val_fraction": 0.25}, "x_train[:20], y_train[:19] (one label short)"),
        (images[:5], labels[:5], {"val_fraction": 0.05}, "x_train[:5], y_train[:5] (round(5 * 0.05) = 0)"),
        (images[:5], labels[:5], {"val_fraction": 0.95}, "x_train[:5], y_train[:5] (round(5 * 0.95) = 5)"),
    ]
    for x, y, kwargs, shown in cases:
        r = student.call("train_val_split", x, y, shown=shown, expect="ValueError", **kwargs)
        r.expect_raises(
            "ValueError",
            hint="validate first: equal lengths, 0 < val_fraction < 1, and neither part empty",
            contract="Raises ValueError if the lengths differ, if val_fraction is not strictly between 0 and 1, or if either part would be empty",
        )
