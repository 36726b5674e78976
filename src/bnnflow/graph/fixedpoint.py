"""The fixed-point overflow rule (docs/numerics.md §3), shared by the validator and the converter.

Every integer rescale computes, per channel ``c``, ``v = Σ_i M_i[c]·x_i + B[c] + r[c]`` with
``r = 2^(s-1)`` (0 for ``s = 0``) before the shift. The file is valid only if ``v`` fits the
op's accumulator for **every** input value the op accepts (:class:`Accumulator`): int8 inputs
for ``requant``, ``add``, ``pwl`` and the bconv/bdense int8 epilogue (int32 accumulator), any
int32 input for ``requant32`` (int64 accumulator) — the engine's bindings check the same ranges.

:func:`overflowing_channels` is the one implementation of this rule:
:func:`bnnflow.graph.validate.validate` refuses a graph that breaks it, and
:func:`bnnflow.convert.fixedpoint.choose` only returns parameters that pass it. All arithmetic
is on Python integers (exact).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class Accumulator:
    """An intermediate of ``bits`` signed bits, fed by inputs in ``input_range`` (inclusive)."""

    bits: int
    input_range: tuple[int, int]

    @property
    def limits(self) -> tuple[int, int]:
        """``(lo, hi)``: the intermediate's representable range."""
        return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1


#: int8 inputs, int32 intermediate: requant, add, pwl, the int8 epilogue of bconv/bdense.
INT8_IN_INT32 = Accumulator(32, (-128, 127))
#: any int32 input, int64 intermediate: requant32 (the engine accepts every int32 value).
INT32_IN_INT64 = Accumulator(64, (INT32_MIN, INT32_MAX))


@dataclass(frozen=True)
class Branch:
    """One fixed-point formula of an op: multiplier param roles, the offset role, the text."""

    mults: tuple[str, ...]
    bias: str
    formula: str


#: op type -> (accumulator, branches); ``pwl`` checks each of its two lines on its own.
RULES: dict[str, tuple[Accumulator, tuple[Branch, ...]]] = {
    "requant": (INT8_IN_INT32, (Branch(("M",), "B", "M*q + B"),)),
    "requant32": (INT32_IN_INT64, (Branch(("M",), "B", "M*x + B"),)),
    "add": (INT8_IN_INT32, (Branch(("Ma", "Mb"), "B", "Ma*a + Mb*b + B"),)),
    "pwl": (INT8_IN_INT32, (Branch(("Mp",), "Bp", "Mp*q + Bp"), Branch(("Mn",), "Bn",
                                                                       "Mn*q + Bn"))),
}
EPILOGUE_INT8 = (INT8_IN_INT32, (Branch(("M",), "B", "M*q + B"),))


def rule_for(op_type: str, attrs: Mapping[str, Any]) -> tuple[Accumulator,
                                                              tuple[Branch, ...]] | None:
    """The fixed-point rule of an op (``None`` for ops without a fixed-point rescale)."""
    rule = RULES.get(op_type)
    if rule is None and op_type in ("bconv", "bdense") and attrs.get("epilogue") == "int8":
        return EPILOGUE_INT8
    return rule


def intermediate_bounds(mults: Sequence[Any], bias: Any, s: Any, acc: Accumulator
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Per channel ``(min, max)`` of ``Σ_i M_i·x_i + B + 2^(s-1)`` over ``acc.input_range``
    for every ``x_i``: exact Python-int object arrays (``mults``, ``bias``, ``s``: integer
    arrays ``[C]`` or scalars)."""
    xlo, xhi = acc.input_range
    s = np.atleast_1d(np.asarray(s, dtype=np.int64))
    r = np.array([1 << (int(v) - 1) if v > 0 else 0 for v in s], dtype=object)
    vmax = np.atleast_1d(np.asarray(bias)).astype(np.int64).astype(object) + r
    vmin = vmax.copy()
    for m in mults:
        mo = np.atleast_1d(np.asarray(m)).astype(np.int64).astype(object)
        vmax = vmax + np.maximum(mo * xlo, mo * xhi)
        vmin = vmin + np.minimum(mo * xlo, mo * xhi)
    return vmin, vmax


def overflowing_channels(mults: Sequence[Any], bias: Any, s: Any, acc: Accumulator
                         ) -> np.ndarray:
    """Indices of the channels whose intermediate leaves ``acc``'s range for some input."""
    vmin, vmax = intermediate_bounds(mults, bias, s, acc)
    lo, hi = acc.limits
    return np.flatnonzero((vmax > hi) | (vmin < lo))
