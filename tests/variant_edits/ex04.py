"""ex04's variants (course.toml): solutions/ answers of_true_width; each other variant's reference is the same
file with PAIRS and BINS at its top set to that variant's (tests/variant_references.py), and, for BINS "mass",
reliability_table's bins cut by the answers' ranks instead of by their confidences."""

PAIRS = 'PAIRS = "of_true"  # how most_confused_pairs'
BINS = 'BINS = "width"  # how reliability_table'
WIDTH_BINS = """    # c in (b / n, (b + 1) / n] is bin b: the number of upper edges below c, edges computed as b / n exactly.
    upper_edges = np.arange(1, n_bins + 1) / n_bins
    which = np.searchsorted(upper_edges, confidence, side="left")
"""
# The answers in order of confidence (a stable sort keeps equal ones in row order), cut into runs of sizes
# n // n_bins + 1 for the first n % n_bins runs and n // n_bins for the rest: run b is bin b.
MASS_BINS = """    # the answers by rank: a stable sort keeps equal confidences in row order; the first n % n_bins runs are one longer.
    small, extra = divmod(len(confidence), n_bins)
    sizes = np.where(np.arange(n_bins) < extra, small + 1, small)
    which = np.empty(len(confidence), dtype=np.int64)
    which[np.argsort(confidence, kind="stable")] = np.repeat(np.arange(n_bins), sizes)
"""


def _edits(pairs: str, bins: str) -> list[tuple[str, str]]:
    edits = []
    if pairs != "of_true":
        edits.append((PAIRS, PAIRS.replace("of_true", pairs, 1)))
    if bins == "mass":
        edits += [(BINS, BINS.replace("width", "mass", 1)), (WIDTH_BINS, MASS_BINS)]
    return edits


EDITS = {f"{pairs}_{bins}": _edits(pairs, bins) for pairs in ("of_true", "of_predicted", "both_ways") for bins in ("width", "mass")
         if (pairs, bins) != ("of_true", "width")}
