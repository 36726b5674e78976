"""Validation of a whole graph: structure, op schemas, tensor references, shape inference.

:func:`validate` walks the ops in order, checks each against its schema and infers the
:class:`TensorInfo` of every activation. :func:`graph_from_json` turns an untrusted JSON
document into a :class:`Graph`, checking every field's type first. Every problem raises
:class:`~bnnflow.errors.FormatError` naming the op and field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from bnnflow.errors import FormatError
from bnnflow.graph import fixedpoint
from bnnflow.graph.ir import (
    DATAFLOWS,
    INPUT_DTYPES,
    Graph,
    InputSpec,
    Op,
    OutputSpec,
    TensorInfo,
)
from bnnflow.graph.schema import SCHEMAS, AttrSpec, OpContext, OpSchema, op_error

#: Largest dimension and per-sample element count an activation may have.
MAX_DIM = 1 << 20
MAX_SAMPLE_ELEMENTS = 1 << 28
MAX_NAME = 512
MAX_OPS = 100_000
#: Largest magnitude of a float32 param (docs/numerics.md §5: with inputs below 2^32, a float32
#: op's products stay below 2^96 and its sums below 2^126, short of float32's 2^128).
MAX_FLOAT_PARAM = 2.0**64


# ----------------------------------------------------------------------------------------
# JSON -> Graph (types only)
# ----------------------------------------------------------------------------------------

def _need(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise FormatError(f"{where}: {message}", field=where)


def _name(v: Any, where: str) -> str:
    _need(isinstance(v, str) and 0 < len(v) <= MAX_NAME, where,
          f"expected a non-empty string of at most {MAX_NAME} characters, got {_short(v)}")
    return v


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _dict(v: Any, where: str, keys: set[str] | None = None) -> dict[str, Any]:
    _need(isinstance(v, dict), where, f"expected an object, got {type(v).__name__}")
    if keys is not None:
        missing, extra = keys - v.keys(), v.keys() - keys
        _need(not missing, where, f"missing field(s) {sorted(missing)}")
        _need(not extra, where, f"unknown field(s) {sorted(extra)}")
    return v


def _shape(v: Any, where: str) -> tuple[int, ...]:
    _need(isinstance(v, list) and len(v) in (2, 4), where,
          f"expected a list of 2 or 4 dims, got {_short(v)}")
    _need(v[0] == -1 and _is_int(v[0]), where, f"dim 0 (batch) must be -1, got {_short(v[0])}")
    for d in v[1:]:
        _need(_is_int(d) and 1 <= d <= MAX_DIM, where,
              f"dims must be ints in [1, {MAX_DIM}], got {_short(d)}")
    _need(math.prod(v[1:]) <= MAX_SAMPLE_ELEMENTS, where,
          f"{math.prod(v[1:])} elements per sample exceeds {MAX_SAMPLE_ELEMENTS}")
    return tuple(v)


def _json_value(v: Any, where: str, depth: int = 0) -> None:
    """Free JSON (metadata, normalisation) must be plain JSON, not too deep."""
    _need(depth < 32, where, "nested too deeply")
    if isinstance(v, dict):
        for k, x in v.items():
            _need(isinstance(k, str), where, "keys must be strings")
            _json_value(x, f"{where}.{k}", depth + 1)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _json_value(x, f"{where}[{i}]", depth + 1)
    else:
        _need(v is None or isinstance(v, str | int | float | bool), where,
              f"not a JSON value: {_short(v)}")
        _need(not isinstance(v, float) or math.isfinite(v), where, "non-finite number")


def input_spec_from_json(v: Any) -> InputSpec:
    d = _dict(v, "input_spec", {"name", "shape", "dtype", "normalisation", "quantisation",
                                "description"})
    _need(d["dtype"] in INPUT_DTYPES, "input_spec.dtype",
          f"expected one of {list(INPUT_DTYPES)}, got {_short(d['dtype'])}")
    for key in ("normalisation", "quantisation"):
        _need(d[key] is None or isinstance(d[key], dict), f"input_spec.{key}",
              "expected an object or null")
        _json_value(d[key], f"input_spec.{key}")
    _need(isinstance(d["description"], str), "input_spec.description", "expected a string")
    return InputSpec(_name(d["name"], "input_spec.name"), _shape(d["shape"], "input_spec.shape"),
                     d["dtype"], d["normalisation"], d["quantisation"], d["description"])


def output_spec_from_json(v: Any) -> OutputSpec:
    d = _dict(v, "output_spec", {"name", "classes", "class_names"})
    _need(_is_int(d["classes"]) and 1 <= d["classes"] <= MAX_DIM, "output_spec.classes",
          f"expected an int in [1, {MAX_DIM}], got {_short(d['classes'])}")
    names = d["class_names"]
    if names is not None:
        _need(isinstance(names, list) and all(isinstance(n, str) for n in names),
              "output_spec.class_names", "expected a list of strings or null")
        _need(len(names) == d["classes"], "output_spec.class_names",
              f"{len(names)} names for {d['classes']} classes")
    return OutputSpec(_name(d["name"], "output_spec.name"), d["classes"], names)


def op_from_json(v: Any, index: int) -> Op:
    where = f"ops[{index}]"
    d = _dict(v, where, {"type", "name", "inputs", "outputs", "attrs", "params"})
    name = _name(d["name"], f"{where}.name")
    _need(isinstance(d["type"], str), f"{where}.type", "expected a string")
    for key in ("inputs", "outputs"):
        _need(isinstance(d[key], list), f"{where} {name!r}.{key}", "expected a list")
        for i, t in enumerate(d[key]):
            _name(t, f"{where} {name!r}.{key}[{i}]")
    attrs = _dict(d["attrs"], f"{where} {name!r}.attrs")
    params = _dict(d["params"], f"{where} {name!r}.params")
    for role, t in params.items():
        _name(t, f"{where} {name!r}.params.{role}")
    return Op(d["type"], name, list(d["inputs"]), list(d["outputs"]), dict(attrs), dict(params))


def graph_from_json(doc: Any) -> Graph:
    """Build a :class:`Graph` from a parsed JSON document, checking field types.

    The document is what :meth:`Graph.to_json` produces. Op schemas are checked later by
    :func:`validate`.
    """
    d = _dict(doc, "graph", {"dataflow", "input_spec", "output_spec", "ops", "metadata"})
    _need(d["dataflow"] in DATAFLOWS, "graph.dataflow",
          f"expected one of {list(DATAFLOWS)}, got {_short(d['dataflow'])}")
    _need(isinstance(d["ops"], list) and 0 < len(d["ops"]) <= MAX_OPS, "graph.ops",
          f"expected a list of 1 to {MAX_OPS} ops")
    _json_value(_dict(d["metadata"], "graph.metadata"), "graph.metadata")
    ops = [op_from_json(o, i) for i, o in enumerate(d["ops"])]
    return Graph(ops, input_spec_from_json(d["input_spec"]),
                 output_spec_from_json(d["output_spec"]), d["dataflow"], dict(d["metadata"]))


# ----------------------------------------------------------------------------------------
# Schema checks
# ----------------------------------------------------------------------------------------

def _check_attr(op: Op, index: int, key: str, spec: AttrSpec, value: Any) -> None:
    def bad(why: str) -> FormatError:
        return op_error(op, index, f"attrs.{key}", f"expected {spec.describe()}, {why}")

    if value is None:
        if not spec.nullable:
            raise bad("got null")
        return
    if spec.kind == "int" and spec.sides and isinstance(value, list):
        if len(value) != 4 or not all(_is_int(v) for v in value):
            raise bad(f"got list {_short(value)}")
        if not all(spec.lo <= v <= spec.hi for v in value):
            raise bad(f"got {_short(value)}")
    elif spec.kind == "int":
        if not _is_int(value):
            raise bad(f"got {type(value).__name__} {_short(value)}")
        if not spec.lo <= value <= spec.hi:
            raise bad(f"got {value}")
    elif not (isinstance(value, str) and value in (spec.choices or ())):
        raise bad(f"got {_short(value)}")


def check_attrs(op: Op, index: int, schema: OpSchema) -> None:
    """Every required attr present with the right type and range; no unknown attr."""
    present = set(op.attrs)
    for key, spec in schema.attrs.items():
        if spec.when is not None:
            continue
        if key not in present:
            raise op_error(op, index, f"attrs.{key}", f"missing (expected {spec.describe()})")
        _check_attr(op, index, key, spec, op.attrs[key])
    for key, spec in schema.attrs.items():
        if spec.when is None:
            continue
        if spec.when(op.attrs):
            if key not in present:
                raise op_error(op, index, f"attrs.{key}",
                               f"missing (expected {spec.describe()})")
            _check_attr(op, index, key, spec, op.attrs[key])
        elif key in present:
            raise op_error(op, index, f"attrs.{key}", "not allowed with these attrs")
    extra = present - schema.attrs.keys()
    if extra:
        raise op_error(op, index, f"attrs.{sorted(extra)[0]}",
                       f"unknown attr (expected {sorted(schema.attrs)})")


def check_params(op: Op, index: int, schema: OpSchema,
                 tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every required param role present, naming a container tensor of an allowed dtype whose
    values lie in range; no unknown role. Returns role -> array."""
    wanted = {r: s for r, s in schema.params.items() if s.when is None or s.when(op.attrs)}
    for role in op.params.keys() - wanted.keys():
        why = "not allowed with these attrs" if role in schema.params else \
            f"unknown param (expected {sorted(wanted)})"
        raise op_error(op, index, f"params.{role}", why)
    out: dict[str, np.ndarray] = {}
    for role, spec in wanted.items():
        if role not in op.params:
            raise op_error(op, index, f"params.{role}", f"missing (expected a tensor of "
                           f"dtype {' or '.join(spec.dtypes)})")
        name = op.params[role]
        if name not in tensors:
            raise op_error(op, index, f"params.{role}",
                           f"tensor {name!r} is not in the container")
        arr = tensors[name]
        if arr.dtype.name not in spec.dtypes:
            raise op_error(op, index, f"params.{role}", f"tensor {name!r} has dtype "
                           f"{arr.dtype}, expected {' or '.join(spec.dtypes)}")
        if arr.dtype.kind == "f" and arr.size:
            if not np.all(np.isfinite(arr)):
                raise op_error(op, index, f"params.{role}", f"tensor {name!r} has non-finite "
                               "values")
            big = float(np.abs(arr).max())
            if big > MAX_FLOAT_PARAM:
                raise op_error(op, index, f"params.{role}", f"tensor {name!r} has a value of "
                               f"magnitude {big:.4g}, expected |x| <= 2^64 = "
                               f"{MAX_FLOAT_PARAM:.4g} (float32 intermediates must not "
                               "overflow, docs/numerics.md §5)")
        if spec.value_range is not None and arr.size:
            lo, hi = spec.value_range
            vmin, vmax = int(arr.min()), int(arr.max())
            if vmin < lo or vmax > hi:
                raise op_error(op, index, f"params.{role}", f"tensor {name!r} has values in "
                               f"[{vmin}, {vmax}], expected within [{lo}, {hi}]")
        out[role] = arr
    return out


def _check_io(op: Op, index: int, schema: OpSchema, infos: Mapping[str, TensorInfo],
              params: set[str]) -> list[TensorInfo]:
    n = len(op.inputs)
    if isinstance(schema.inputs, int):
        if n != schema.inputs:
            raise op_error(op, index, "inputs", f"{n} inputs, expected {schema.inputs}")
    elif n < schema.inputs[0]:
        raise op_error(op, index, "inputs", f"{n} inputs, expected at least {schema.inputs[0]}")
    for i, t in enumerate(op.inputs):
        if t not in infos:
            raise op_error(op, index, f"inputs[{i}]", f"tensor {t!r} is used before it is "
                           "defined (ops must be in topological order; no cycles)")
    if len(op.outputs) != 1:
        raise op_error(op, index, "outputs", f"{len(op.outputs)} outputs, expected 1")
    out = op.outputs[0]
    if out in infos or out in params:
        raise op_error(op, index, "outputs[0]", f"tensor {out!r} is already defined (each "
                       "tensor is defined once)")
    return [infos[t] for t in op.inputs]


def check_fixed_point(op: Op, index: int, arrays: Mapping[str, np.ndarray]) -> None:
    """The fixed-point intermediate cannot overflow (numerics §3), exactly: for each channel
    ``c``, ``v = Σ_i M_i[c]·x_i + B[c] + r[c]`` stays in the accumulator for every input
    value the op accepts (int8; any int32 for requant32); the int8 epilogue of bconv/bdense
    counts as a requant of its clipped int8 ``q``. The rule is
    :func:`bnnflow.graph.fixedpoint.overflowing_channels`, the same the converter satisfies.
    Call after shape inference (the per-channel params have one shape)."""
    rule = fixedpoint.rule_for(op.type, op.attrs)
    if rule is None:
        return
    acc, branches = rule
    for br in branches:
        mults = [arrays[role] for role in br.mults]
        bad = fixedpoint.overflowing_channels(mults, arrays[br.bias], arrays["s"], acc)
        if bad.size:
            c = int(bad[0])
            vmin, vmax = fixedpoint.intermediate_bounds([m[c] for m in mults],
                                                        arrays[br.bias][c], arrays["s"][c], acc)
            raise op_error(op, index, f"params.{br.bias}", f"channel {c}: {br.formula} + "
                           f"rounding reaches [{vmin[0]}, {vmax[0]}] over the input range "
                           f"{list(acc.input_range)}, overflows int{acc.bits} (numerics §3)")


def validate_op(op: Op, index: int, infos: Mapping[str, TensorInfo],
                tensors: Mapping[str, np.ndarray]) -> TensorInfo:
    """Check one op against its schema; return its output's :class:`TensorInfo`."""
    schema = SCHEMAS.get(op.type)
    if schema is None:
        raise op_error(op, index, "type", f"unknown op type {op.type!r} (known: "
                       f"{', '.join(sorted(SCHEMAS))})")
    inputs = _check_io(op, index, schema, infos, set(tensors))
    check_attrs(op, index, schema)
    arrays = check_params(op, index, schema, tensors)
    info = schema.infer(OpContext(op, index, inputs, arrays))
    check_fixed_point(op, index, arrays)
    if info.sample_elements() > MAX_SAMPLE_ELEMENTS or any(d > MAX_DIM for d in info.shape):
        raise op_error(op, index, "outputs[0]", f"output shape {list(info.shape)} is too large")
    return info


def _check_output(graph: Graph, infos: Mapping[str, TensorInfo]) -> None:
    spec = graph.output_spec
    if spec.name not in infos or spec.name == graph.input_spec.name:
        raise FormatError(f"output_spec.name: tensor {spec.name!r} is not produced by any op",
                          field="output_spec.name")
    info = infos[spec.name]
    want = (-1, spec.classes)
    if info.dtype != "float32" or info.shape != want:
        raise FormatError(f"output_spec: tensor {spec.name!r} is {info.dtype} "
                          f"{list(info.shape)}, expected float32 {list(want)}",
                          field="output_spec")


def validate(graph: Graph, tensors: Mapping[str, np.ndarray]) -> dict[str, TensorInfo]:
    """Check ``graph`` against the op schemas and the container ``tensors``.

    Checks: known op types, attrs (presence, type, range), params (presence, dtype, shape,
    value range), tensor references (defined before use, defined once, params exist in the
    container), output produced with float32 ``[N, classes]``, and that every container
    tensor is used. Returns the inferred :class:`TensorInfo` of every activation (the input
    included), in definition order.

    Raises:
        FormatError: the first violation found, naming the op and field.
    """
    spec = graph.input_spec
    infos: dict[str, TensorInfo] = {spec.name: spec.tensor_info()}
    if spec.name in tensors:
        raise FormatError(f"input_spec.name: {spec.name!r} is also a container tensor",
                          field="input_spec.name")
    for i, op in enumerate(graph.ops):
        info = validate_op(op, i, infos, tensors)
        infos[info.name] = info
    _check_output(graph, infos)
    unused = set(tensors) - graph.param_names()
    if unused:
        raise FormatError(f"tensors: container tensor {sorted(unused)[0]!r} is not used by any "
                          f"op ({len(unused)} unused)", field="tensors")
    return infos
