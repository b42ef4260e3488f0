"""Array types and input checks shared by the detection parts."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


BoolArray = npt.NDArray[np.bool_]


IntArray = npt.NDArray[np.int64]


def as_1d(values: npt.ArrayLike, what: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array, got shape {array.shape}")
    return array
