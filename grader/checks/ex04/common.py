"""What several of ex04's check modules share."""

import numpy as np


def _lit(array) -> str:
    """How a small array reads in a message: as the code that builds it."""
    array = np.asarray(array)
    dtype = "" if array.dtype == np.int64 or array.dtype == np.float64 else f", dtype=np.{array.dtype}"
    return f"np.array({array.tolist()}{dtype})"


def _bins(variant) -> str:
    """The variant's BINS (reliability_table's binning): "width" without a variant."""
    return variant.params["bins"] if variant else "width"
