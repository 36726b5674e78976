"""The fixed-point overflow rule (docs/numerics.md §3), shared by the validator and the converter.

Every integer rescale computes, per channel ``c``, ``v = Σ_i M_i[c]·x_i + B[c] + r[c]`` with
``r = 2^(s-1)`` (0 for ``s = 0``) before the shift. The file is valid only if ``v`` fits the
op's accumulator for **every** input value the op accepts (:class:`Accumulator`): int8 inputs
for ``requant``, ``add``, ``pwl`` and the bconv/bdense int8 epilogue (int32 accumulator), any
int32 input for ``requant32`` (int64 accumulator) — the engine's bindings check the same ranges.

:func:`overflowing_channels` is the one implementation of this rule:
:func:`bnnflow.graph.validate.validate` refuses a graph that breaks it, and
:func:`bnnflow.convert.fixedpoint.choose` only returns parameters that pass it. All arithmetic
is on Python integers (exact). Which ops have a rule, with which accumulator and formulas, is
declared in the op manifest (:mod:`bnnflow.graph.manifest`), like the C++ validator's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bnnflow.graph import manifest

INT32_MIN, INT32_MAX = manifest.INT32_MIN, manifest.INT32_MAX


@dataclass(frozen=True)
class Accumulator:
    """An intermediate of ``bits`` signed bits, fed by inputs in ``input_range`` (inclusive)."""

    bits: int
    input_range: tuple[int, int]

    @property
    def limits(self) -> tuple[int, int]:
        """``(lo, hi)``: the intermediate's representable range."""
        return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1


def _accumulator(name: str) -> Accumulator:
    acc = manifest.ACCUMULATORS[name]
    lo, hi = acc["input_range"]
    return Accumulator(acc["bits"], (lo, hi))


#: int8 inputs, int32 intermediate: requant, add, pwl, the int8 epilogue of bconv/bdense.
INT8_IN_INT32 = _accumulator("INT8_IN_INT32")
#: any int32 input, int64 intermediate: requant32 (the engine accepts every int32 value).
INT32_IN_INT64 = _accumulator("INT32_IN_INT64")


@dataclass(frozen=True)
class Branch:
    """One fixed-point formula of an op: multiplier param roles, the offset role, the text."""

    mults: tuple[str, ...]
    bias: str
    formula: str


@dataclass(frozen=True)
class Rule:
    """The fixed-point rule of an op: its accumulator and branches (``pwl`` checks each of
    its two lines on its own); with ``when`` (an attr and its values), it applies only then
    (the int8 epilogue of bconv/bdense)."""

    accumulator: Accumulator
    branches: tuple[Branch, ...]
    when: tuple[str, tuple[str, ...]] | None = None

    def applies(self, attrs: Mapping[str, Any]) -> bool:
        if self.when is None:
            return True
        v = attrs.get(self.when[0])
        return isinstance(v, str) and v in self.when[1]


def _rule(entry: Mapping[str, Any]) -> Rule:
    when = entry.get("when")
    return Rule(_accumulator(entry["accumulator"]),
                tuple(Branch(tuple(b["mults"]), b["bias"], b["formula"])
                      for b in entry["branches"]),
                None if when is None else (when["attr"], tuple(when["in"])))


#: op type -> its fixed-point rule, from the op manifest (:mod:`bnnflow.graph.manifest`).
RULES: dict[str, Rule] = {e["type"]: _rule(e["fixed_point"]) for e in manifest.OPS
                          if "fixed_point" in e}


def rule_for(op_type: str, attrs: Mapping[str, Any]) -> tuple[Accumulator,
                                                              tuple[Branch, ...]] | None:
    """The fixed-point rule of an op (``None`` for ops without a fixed-point rescale)."""
    rule = RULES.get(op_type)
    if rule is None or not rule.applies(attrs):
        return None
    return rule.accumulator, rule.branches


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
