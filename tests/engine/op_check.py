"""One helper that checks an engine op against its numpy reference on every ISA.

Every engine binding takes ``isa=`` (a name from ``bnnflow.cpu.supported_isas()``) and
``threads=``. ``check_op`` runs the engine on each ISA this CPU has, with 1 and 2 threads, and
compares with the reference: exactly for integer and packed outputs, within ``rtol`` for
float32 (relative to each element and to the tensor's largest magnitude; docs/numerics.md).

An engine callable that takes ``out`` is handed an output array filled with values that differ
from the reference everywhere (``~expected``, or NaN for floats), so a kernel that leaves any
element unwritten fails; without it, a fresh result could reuse the memory of the previous ISA's
call, which holds the right answer. Every result is also kept alive until the end of the check.
"""

from __future__ import annotations

import inspect
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


def unlike(expected: np.ndarray) -> np.ndarray:
    """An array of ``expected``'s shape and dtype that differs from it in every element:
    the bitwise complement for integers, NaN for floats."""
    if np.issubdtype(expected.dtype, np.floating):
        return np.full_like(expected, np.nan)
    return np.invert(expected)


def check_op(
    engine: Callable[..., np.ndarray],
    reference: Callable[[], np.ndarray],
    *,
    isas: Sequence[str] = ISAS,
    threads: Sequence[int] = THREADS,
    rtol: float = 1e-5,
) -> np.ndarray:
    """Run ``engine(isa=..., threads=...[, out=...])`` for every ISA and thread count; compare
    each with ``reference()``. Returns the reference output."""
    expected = np.asarray(reference())
    takes_out = "out" in inspect.signature(engine).parameters
    results = []  # alive to the end: no call can be handed an earlier call's memory
    for isa in isas:
        for n in threads:
            what = f"isa={isa} threads={n}"
            if takes_out:
                out = unlike(expected)
                got = engine(isa=isa, threads=n, out=out)
                assert got is out, f"{what}: out= was not returned"
            else:
                got = engine(isa=isa, threads=n)
            results.append(got)
            assert_same(got, expected, rtol=rtol, what=what)
    return expected
