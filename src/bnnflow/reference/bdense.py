"""Binary dense layer (docs/numerics.md §4), the executable spec.

``d[n, o] = Σ_{k < K} a[n, k] · w[o, k]`` with ``a, w ∈ {+1, −1}`` unpacked from the packed
rows, ``K = cin``; bitwise ``K − 2·popcount(x xor w)``. Then the epilogue of
:func:`bnnflow.reference.bconv.apply_epilogue`.
"""

from __future__ import annotations

import numpy as np

from bnnflow.reference.bconv import apply_epilogue
from bnnflow.reference.pack import to_pm1, unpack_bits


def bdense_sum(x: np.ndarray, weights: np.ndarray, *, cin: int) -> np.ndarray:
    """Raw sums, int32 ``[N, Cout]``; ``x`` uint32 ``[N, Wg]``, ``weights`` ``[Cout, Wg]``."""
    a = to_pm1(unpack_bits(x, cin)).astype(np.int64)
    w = to_pm1(unpack_bits(weights, cin)).astype(np.int64)
    return (a @ w.T).astype(np.int32)


def bdense(x: np.ndarray, weights: np.ndarray, *, cin: int, **epilogue: object) -> np.ndarray:
    """:func:`bdense_sum` then the epilogue (same keywords as ``bconv.apply_epilogue``)."""
    return apply_epilogue(bdense_sum(x, weights, cin=cin), **epilogue)  # type: ignore[arg-type]
