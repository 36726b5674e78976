"""Per-op cost model: multiply-accumulates per sample and parameter counts by precision.

Binary MACs count one xor-popcount bit per (output element, valid-or-padded tap, input
channel of the group): ``Ho*Wo*Cout*KH*KW*Cg`` for bconv, ``Cout*Cin`` for bdense. int8 and
float MACs count the multiply-adds of conv/dense the same way (depthwise: ``Ho*Wo*Cout*KH*KW``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from bnnflow.graph.ir import Op, TensorInfo
from bnnflow.graph.schema import SCHEMAS

PRECISIONS: tuple[str, ...] = ("binary", "int8", "int32", "float32")


@dataclass
class OpCost:
    """MACs of one sample and parameter counts (elements; binary: weight bits that carry a
    channel, pad bits excluded) by precision."""

    binary_macs: int = 0
    int8_macs: int = 0
    float_macs: int = 0
    params: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PRECISIONS, 0))

    def param_bytes(self) -> int:
        """Bytes the params take in the container (binary: bits / 8)."""
        p = self.params
        return -(-p["binary"] // 8) + p["int8"] + 4 * p["int32"] + 4 * p["float32"]


def _precision(arr: np.ndarray) -> str:
    if arr.dtype in (np.int8, np.uint8):
        return "int8"
    if arr.dtype == np.float32:
        return "float32"
    return "int32"


def op_cost(op: Op, inputs: list[TensorInfo], output: TensorInfo,
            params: Mapping[str, np.ndarray]) -> OpCost:
    """Cost of ``op`` given its (validated) input and output infos and param arrays."""
    cost = OpCost()
    kind = SCHEMAS[op.type].macs
    spatial = math.prod(output.shape[1:-1]) if len(output.shape) == 4 else 1
    cout = output.logical_channels
    for role, arr in params.items():
        if role == "weights" and arr.dtype == np.uint32:
            continue
        cost.params[_precision(arr)] += int(arr.size)
    if kind == "none":
        return cost
    w = params["weights"]
    if kind == "binary":
        x = inputs[0]
        taps = math.prod(w.shape[1:-1])
        k = taps * (x.channels // (x.groups or 1))
        cost.params["binary"] += w.shape[0] * k
        cost.binary_macs = spatial * cout * k
    elif kind == "int8":
        cost.int8_macs = spatial * cout * math.prod(w.shape[1:])
    else:
        cost.float_macs = spatial * cout * math.prod(w.shape[1:])
    return cost
