"""One helper that checks an engine op against its numpy reference on every ISA.

Every engine binding takes ``isa=`` (a name from ``bnnflow.cpu.supported_isas()``) and
``threads=``. ``check_op`` runs the engine on each ISA this CPU has, with 1 and 2 threads, and
compares with the reference: exactly for integer and packed outputs, within ``rtol`` for
float32 (relative to each element and to the tensor's largest magnitude; docs/numerics.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from bnnflow import cpu

ISAS: list[str] = cpu.supported_isas()
THREADS: tuple[int, ...] = (1, 2)


def assert_same(actual: np.ndarray, expected: np.ndarray, *, rtol: float = 1e-5, what: str = ""):
    """Exact for integer dtypes, ``rtol``-close (and same shape/dtype) for floats."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    if np.issubdtype(expected.dtype, np.floating):
        # rtol relative to each element and, for sums that cancel to small values, to the
        # tensor's scale
        scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)
    else:
        bad = np.argwhere(actual != expected)
        assert bad.size == 0, (
            f"{what}: {len(bad)} of {expected.size} elements differ, first at {tuple(bad[0])}: "
            f"{actual[tuple(bad[0])]} != {expected[tuple(bad[0])]}"
        )


def check_op(
    engine: Callable[..., np.ndarray],
    reference: Callable[[], np.ndarray],
    *,
    isas: Sequence[str] = ISAS,
    threads: Sequence[int] = THREADS,
    rtol: float = 1e-5,
) -> np.ndarray:
    """Run ``engine(isa=..., threads=...)`` for every ISA and thread count; compare each with
    ``reference()``. Returns the reference output."""
    expected = reference()
    for isa in isas:
        for n in threads:
            assert_same(
                engine(isa=isa, threads=n), expected, rtol=rtol, what=f"isa={isa} threads={n}"
            )
    return expected
