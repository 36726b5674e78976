"""bnnflow.graph: the IR shared by the converter, the reference and the runtime.

A :class:`Graph` is the op catalogue of docs/numerics.md as data (see docs/format.md for the
schema of every op). Never imports torch.
"""

from __future__ import annotations

from bnnflow.errors import FormatError
from bnnflow.graph.costs import OpCost, op_cost
from bnnflow.graph.ir import (
    ACTIVATION_DTYPES,
    DATAFLOWS,
    INPUT_DTYPES,
    PARAM_DTYPES,
    Graph,
    InputSpec,
    Op,
    OutputSpec,
    TensorInfo,
    numpy_dtype,
    words_per_group,
)
from bnnflow.graph.padding import padding_attr, pads, tf_same_padding
from bnnflow.graph.schema import SCHEMAS, AttrSpec, OpSchema, ParamSpec, conv_out_size
from bnnflow.graph.validate import graph_from_json, validate

__all__ = [
    "ACTIVATION_DTYPES",
    "DATAFLOWS",
    "INPUT_DTYPES",
    "PARAM_DTYPES",
    "SCHEMAS",
    "AttrSpec",
    "FormatError",
    "Graph",
    "InputSpec",
    "Op",
    "OpCost",
    "OpSchema",
    "OutputSpec",
    "ParamSpec",
    "TensorInfo",
    "conv_out_size",
    "graph_from_json",
    "numpy_dtype",
    "op_cost",
    "padding_attr",
    "pads",
    "tf_same_padding",
    "validate",
    "words_per_group",
]
