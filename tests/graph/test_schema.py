"""Op schemas: every example op validates; every rule rejects what it must, naming op and
field."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow.errors import FormatError
from bnnflow.graph import SCHEMAS, Graph, Op, validate
from bnnflow.graph.examples import MAKERS, grouped_packed_weights, op_case, tiny_int8_model

RNG = np.random.default_rng(7)


def test_every_op_type_has_an_example() -> None:
    assert set(MAKERS) == set(SCHEMAS)


@pytest.mark.parametrize("op_type", sorted(SCHEMAS))
def test_examples_validate(op_type: str) -> None:
    graph, tensors = op_case(op_type, RNG)
    infos = validate(graph, tensors)
    assert "op" in infos
    assert infos[graph.output_spec.name].dtype == "float32"


def _op(graph: Graph, name: str = "op") -> Op:
    return next(o for o in graph.ops if o.name == name)


def _expect(graph: Graph, tensors: dict, op: str | None, field: str, pattern: str) -> None:
    with pytest.raises(FormatError, match=pattern) as e:
        validate(graph, tensors)
    assert e.value.field == field, str(e.value)
    if op is not None:
        assert e.value.op == op
        assert f"'{op}'" in str(e.value)


def _case(op_type: str, **kw):
    return op_case(op_type, np.random.default_rng(3), **kw)


def test_unknown_op_type() -> None:
    g, t = _case("requant")
    _op(g).type = "requantize"
    _expect(g, t, "op", "type", "unknown op type 'requantize'")


@pytest.mark.parametrize(("attr", "value", "pattern"), [
    ("stride", 0, r"int in \[1, 64\], got 0"),
    ("stride", True, "got bool"),
    ("stride", 1.0, "got float"),
    ("padding", -1, "got -1"),
    ("pad_mode", "reflect", "got 'reflect'"),
    ("epilogue", "int16", "got 'int16'"),
    ("clamp_lo", "0", "got str"),
    ("groups", None, "got null"),
])
def test_bad_attr_values(attr: str, value, pattern: str) -> None:
    g, t = _case("bconv")
    _op(g).attrs[attr] = value
    _expect(g, t, "op", f"attrs.{attr}", pattern)


def test_missing_and_extra_attrs() -> None:
    g, t = _case("bconv")
    del _op(g).attrs["stride"]
    _expect(g, t, "op", "attrs.stride", "missing")
    g, t = _case("bconv")
    _op(g).attrs["dilation"] = 2
    _expect(g, t, "op", "attrs.dilation", "unknown attr")


def test_conditional_attr_out_groups() -> None:
    g, t = _case("bconv", epilogue="packed")
    del _op(g).attrs["out_groups"]
    _expect(g, t, "op", "attrs.out_groups", "missing")
    g, t = _case("bconv", epilogue="int32")
    _op(g).attrs["out_groups"] = 1
    _expect(g, t, "op", "attrs.out_groups", "not allowed")
    g, t = _case("bconv", epilogue="packed", cout=6, out_groups=4)
    _expect(g, t, "op", "attrs.out_groups", "does not divide")


def test_params_missing_extra_wrong() -> None:
    g, t = _case("requant")
    del _op(g).params["M"]
    _expect(g, t, "op", "params.M", "missing")
    g, t = _case("requant")
    _op(g).params["zp"] = "op.M"
    _expect(g, t, "op", "params.zp", "unknown param")
    g, t = _case("bconv", epilogue="int8")
    _op(g).params["T"] = "op.B"
    _expect(g, t, "op", "params.T", "not allowed")
    g, t = _case("requant")
    _op(g).params["M"] = "nowhere"
    _expect(g, t, "op", "params.M", "'nowhere' is not in the container")
    g, t = _case("requant")
    t["op.M"] = t["op.M"].astype(np.int32)
    _expect(g, t, "op", "params.M", "dtype int32, expected int16")
    g, t = _case("requant")
    t["op.B"] = t["op.B"][:-1]
    _expect(g, t, "op", "params.B", r"shape \[5\], expected \[6\]")


@pytest.mark.parametrize(("op_type", "role", "bad"), [
    ("requant", "s", 31), ("requant", "s", -1), ("requant32", "s", 63), ("pwl", "s", 31),
    ("add", "s", 40)])
def test_shift_ranges(op_type: str, role: str, bad: int) -> None:
    g, t = _case(op_type)
    t[f"op.{role}"] = t[f"op.{role}"].copy()
    t[f"op.{role}"][2] = bad
    _expect(g, t, "op", f"params.{role}", rf"(\[{bad},|, {bad}\]).*expected within")


def test_bconv_int8_epilogue_shift_range() -> None:
    g, t = _case("bconv", epilogue="int8")
    t["op.s"] = np.full_like(t["op.s"], 31)
    _expect(g, t, "op", "params.s", "expected within")


def test_bconv_rules() -> None:
    g, t = _case("bconv", c=40)
    w = t["op.weights"].copy()
    w[0, 0, 0, -1] |= np.uint32(1 << 31)  # channel 63 of 40: a pad bit
    t["op.weights"] = w
    _expect(g, t, "op", "params.weights", "pad bits")
    g, t = _case("bconv", c=40)
    t["op.weights"] = t["op.weights"][..., :1]
    _expect(g, t, "op", "params.weights", "words per group")
    g, t = _case("bconv", c=8, groups=2)
    _op(g).attrs["groups"] = 1
    _expect(g, t, "op", "attrs.groups", "packed for 2 groups")
    g, t = _case("bconv", c=8, groups=2, cout=5)
    _expect(g, t, "op", "attrs.groups", "does not divide the 5 output")
    g, t = _case("bconv", pad_mode="one", padding=1)
    _op(g).attrs["pad_mode"] = "valid"
    _expect(g, t, "op", "attrs.padding", "valid")
    g, t = _case("bconv", h=2, w=2, kernel=5, padding=1)
    _expect(g, t, "op", "params.weights", "does not fit")
    g, t = _case("bconv", clamp=(5, 4))
    _expect(g, t, "op", "attrs.clamp_lo", "clamp_lo 5 > clamp_hi 4")


def test_binary_k_limit() -> None:
    g, t = _case("bconv", c=8)
    t["op.weights"] = np.zeros((6, 33, 33, 1), np.uint32)
    with pytest.raises(FormatError):  # kernel 33x33 does not fit a 6x5 input either way
        validate(g, t)
    g, t = _case("bconv", h=40, w=40, c=8)
    _op(g).attrs["padding"] = 16
    t["op.weights"] = np.zeros((6, 33, 33, 1), np.uint32)
    validate(g, t)  # K = 33*33*8 = 8712 fits
    g2, t2 = _case("bconv", c=2048, h=8, w=8, kernel=1, padding=0)
    t2["op.weights"] = grouped_packed_weights(np.random.default_rng(0), 6, 6, 6, 2048, 1)
    _op(g2).attrs["padding"] = 0
    _expect(g2, t2, "op", "params.weights", "K = 6\\*6\\*2048 = 73728 exceeds 65535")


def test_pack_rules() -> None:
    g, t = _case("pack", c=6)
    _op(g).attrs["groups"] = 4
    _expect(g, t, "op", "attrs.groups", "does not divide the 6 channels")
    g, t = _case("pack")
    t["op.t"] = t["op.t"].astype(np.float32)
    _expect(g, t, "op", "params.t", "dtype float32, expected int32 here")


def test_input_dtype_and_rank_rules() -> None:
    g, t = _case("requant")
    g.input_spec.dtype = "uint8"
    _expect(g, t, "op", "inputs[0]", "dtype uint8, expected int8")
    g, t = _case("maxpool_int8", rank=2)
    _expect(g, t, "op", "inputs[0]", "rank 2")
    g, t = _case("add")
    _op(g).inputs.append("x")
    _expect(g, t, "op", "inputs", "3 inputs, expected 2")
    g, t = _case("concat", dtype="float32")
    _op(g).inputs = ["x"]
    _expect(g, t, "op", "inputs", "at least 2")


def test_pool_padding_rule() -> None:
    g, t = _case("maxpool_int8", kernel=2, padding=2)
    _expect(g, t, "op", "attrs.padding", "exceeds half the kernel")
    g, t = _case("maxpool_int8", kernel=3, padding=[0, 0, 1, 2])
    _expect(g, t, "op", "attrs.padding", r"padding \[0, 0, 1, 2\] exceeds half the kernel 3")


WINDOWED = ["bconv", "maxpool_packed", "maxpool_int8", "sumpool_int8", "conv2d_int8",
            "dwconv2d_int8", "conv2d_f32", "maxpool_f32", "avgpool_f32"]


@pytest.mark.parametrize("op_type", WINDOWED)
def test_list_padding_validates_with_its_output_shape(op_type: str) -> None:
    # h 6, w 5, kernel 3, stride 2, [top, left, bottom, right] = [0, 1, 1, 0]:
    # Ho = (6 + 0 + 1 - 3) // 2 + 1 = 3, Wo = (5 + 1 + 0 - 3) // 2 + 1 = 2
    g, t = _case(op_type, kernel=3, stride=2, padding=[0, 1, 1, 0])
    assert validate(g, t)["op"].shape[1:3] == (3, 2)


@pytest.mark.parametrize(("value", "pattern"), [
    ([1, 1, 1], r"or a list \[top, left, bottom, right\] of them, got list \[1, 1, 1\]"),
    ([1, 1, 1, 1, 1], "got list"),
    ([0, True, 0, 0], "got list"),
    ([0, 1.0, 0, 0], "got list"),
    ([0, 0, -1, 0], r"got \[0, 0, -1, 0\]"),
    ([0, 0, 0, 65], r"int in \[0, 64\] or a list .*got \[0, 0, 0, 65\]"),
    ({"top": 1}, "got dict"),
])
def test_bad_list_padding(value, pattern: str) -> None:
    g, t = _case("conv2d_f32")
    _op(g).attrs["padding"] = value
    _expect(g, t, "op", "attrs.padding", pattern)


def test_list_padding_rules() -> None:
    g, t = _case("bconv", pad_mode="valid")
    _op(g).attrs["padding"] = [0, 0, 0, 0]
    validate(g, t)
    _op(g).attrs["padding"] = [0, 0, 0, 1]
    _expect(g, t, "op", "attrs.padding", "pad_mode 'valid' requires padding 0")
    g, t = _case("conv2d_f32", kernel=3, h=1, w=5)
    _op(g).attrs["padding"] = [0, 1, 1, 1]  # 1 + 0 + 1 rows < 3
    _expect(g, t, "op", "params.weights",
            r"kernel 3x3 does not fit the input 1x5 with padding \[0, 1, 1, 1\]")


def test_references_and_order() -> None:
    g, t = _case("requant")
    g.ops.insert(0, g.ops.pop(1))  # tail op before the op it reads
    with pytest.raises(FormatError, match="used before it is defined") as e:
        validate(g, t)
    assert e.value.field == "inputs[0]"
    g, t = _case("add")
    g.ops[0].inputs = ["op"]  # "other" reads "op", which reads "other": a cycle
    _expect(g, t, "other", "inputs[0]", "used before it is defined")
    g, t = _case("add")
    _op(g, "other").outputs = ["x"]
    _expect(g, t, "other", "outputs[0]", "'x' is already defined")
    g, t = _case("requant")
    _op(g).outputs = ["op.M"]
    _expect(g, t, "op", "outputs[0]", "already defined")
    g, t = _case("requant")
    _op(g).outputs = ["a", "b"]
    _expect(g, t, "op", "outputs", "2 outputs")


def test_output_spec_rules() -> None:
    g, t = _case("requant")
    g.output_spec.name = "nothing"
    _expect(g, t, None, "output_spec.name", "not produced")
    g, t = _case("requant")
    g.output_spec.name = "op"
    _expect(g, t, None, "output_spec", "int8")
    g, t = _case("dense_f32")
    g.output_spec.classes = 7
    _expect(g, t, None, "output_spec", r"expected float32 \[-1, 7\]")


def test_container_rules() -> None:
    g, t = _case("requant")
    t["stray"] = np.zeros(3, np.int8)
    _expect(g, t, None, "tensors", "'stray' .* not used")
    g, t = _case("requant")
    t["x"] = np.zeros(3, np.int8)
    g.ops[0].params["M"] = "x"
    _expect(g, t, None, "input_spec.name", "also a container tensor")


def test_model_validates_and_copies_do_not_alias() -> None:
    g, t = tiny_int8_model(np.random.default_rng(0))
    g2 = copy.deepcopy(g)
    _op(g2, "block2.conv").attrs["groups"] = 2
    validate(g, t)
    with pytest.raises(FormatError, match=r"block2\.conv"):
        validate(g2, t)


def test_non_finite_float_params() -> None:
    g, t = _case("scale_bias")
    t["op.scale"] = t["op.scale"].copy()
    t["op.scale"][0] = np.inf
    _expect(g, t, "op", "params.scale", "non-finite")


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40),
                    st.floats(allow_nan=False), st.text(max_size=6),
                    st.sampled_from(["zero", "one", "valid", "int8", "packed", "float"]),
                    st.lists(st.integers(), max_size=3))


@settings(max_examples=150, deadline=None)
@given(op_type=st.sampled_from(sorted(SCHEMAS)), key=st.text(min_size=1, max_size=10),
       pick=st.integers(0, 50), value=_VALUES, drop=st.booleans())
def test_attr_fuzz_only_format_errors(op_type: str, key: str, pick: int, value, drop: bool
                                      ) -> None:
    """Random attr edits on any op: validation passes or raises FormatError, nothing else."""
    g, t = _case(op_type)
    attrs = _op(g).attrs
    names = [*sorted(SCHEMAS[op_type].attrs), key]
    name = names[pick % len(names)]
    if drop:
        attrs.pop(name, None)
    else:
        attrs[name] = value
    try:
        validate(g, t)
    except FormatError as e:
        assert e.field is not None


@settings(max_examples=100, deadline=None)
@given(op_type=st.sampled_from(sorted(SCHEMAS)), pick=st.integers(0, 50),
       shape=st.lists(st.integers(0, 9), max_size=4),
       dtype=st.sampled_from(["int8", "uint8", "int16", "int32", "int64", "uint32",
                              "float32"]))
def test_param_fuzz_only_format_errors(op_type: str, pick: int, shape: list[int], dtype: str
                                       ) -> None:
    """Any param replaced by an array of random shape and dtype: FormatError or valid."""
    g, t = _case(op_type)
    names = sorted(t)
    if not names:  # e.g. flatten: the case has no params at all
        return
    t[names[pick % len(names)]] = np.zeros(shape, dtype)
    try:
        validate(g, t)
    except FormatError as e:
        assert e.field is not None


# (op type, options, bias role to overflow, multiplier roles, accumulator bits)
_OVERFLOW_CASES = [
    ("requant", {}, "B", ("M",), 32),
    ("add", {}, "B", ("Ma", "Mb"), 32),
    ("pwl", {}, "Bp", ("Mp",), 32),
    ("pwl", {}, "Bn", ("Mn",), 32),
    ("bconv", {"epilogue": "int8"}, "B", ("M",), 32),
    ("bdense", {"epilogue": "int8"}, "B", ("M",), 32),
    ("requant32", {}, "B", ("M",), 64),
]


@pytest.mark.parametrize(("op_type", "options", "bias", "mults", "bits"), _OVERFLOW_CASES)
def test_fixed_point_overflow_is_refused(op_type: str, options: dict, bias: str,
                                         mults: tuple[str, ...], bits: int) -> None:
    """numerics §3: M·x + B + 2^(s-1) must fit the accumulator for every input value; a
    channel one past the limit is a FormatError naming the op and bias, one at it loads."""
    g, t = _case(op_type, **options)
    for role in mults:
        t[f"op.{role}"] = t[f"op.{role}"].copy()
        t[f"op.{role}"][0] = np.iinfo(t[f"op.{role}"].dtype).max
    t["op.s"] = t["op.s"].copy()
    t["op.s"][0] = 1
    xmax = 127 if bits == 32 else 2**31 - 1
    top = sum(int(t[f"op.{r}"][0]) * xmax for r in mults)
    b = t[f"op.{bias}"].copy()
    b[0] = (1 << (bits - 1)) - 1 - 1 - top  # at the limit: v_max = 2^(bits-1) - 1
    t[f"op.{bias}"] = b
    validate(g, t)
    b = b.copy()
    b[0] += 1
    t[f"op.{bias}"] = b
    _expect(g, t, "op", f"params.{bias}", rf"channel 0: .* overflows int{bits}")


def test_fixed_point_negative_overflow_is_refused() -> None:
    g, t = _case("requant")
    t["op.M"] = t["op.M"].copy()
    t["op.B"] = t["op.B"].copy()
    t["op.M"][3] = 32767
    t["op.B"][3] = np.iinfo(np.int32).min + 32767 * 127  # min at q=-128 is below INT32_MIN
    _expect(g, t, "op", "params.B", r"channel 3: M\*q \+ B \+ rounding reaches .* int32")


@pytest.mark.parametrize(("op_type", "input_dtype", "bad"), [
    ("conv2d_int8", "uint8", 256), ("conv2d_int8", "uint8", -1), ("conv2d_int8", "int8", 128),
    ("dwconv2d_int8", "int8", -129), ("dwconv2d_int8", "uint8", 1 << 24)])
def test_zero_point_in_input_range(op_type: str, input_dtype: str, bad: int) -> None:
    """numerics §5: zp is a value of x's dtype (the engine refuses anything else)."""
    g, t = _case(op_type, input_dtype=input_dtype)
    t["op.zp"] = t["op.zp"].copy()
    t["op.zp"][1] = bad
    _expect(g, t, "op", "params.zp", rf"\[{input_dtype}\b|{input_dtype} input's range")
