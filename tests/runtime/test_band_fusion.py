"""Band chains (csrc/engine/band_steps.cc, docs/runtime.md "Fused steps"): runs of int8 ops
that each read a window of rows of the one before (conv2d_int8, dwconv2d_int8, the int8 max
and sum pools, requant32, requant, pwl) run as one step, in bands of rows. Every output equals
the unfused program's and the numpy reference's, on every ISA, for every band size
(``BNNFLOW_BAND_BYTES``), thread count and padding (the TF-SAME asymmetric one included)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bnnflow import _engine, cpu
from bnnflow.errors import FormatError
from bnnflow.graph import InputSpec, validate
from bnnflow.graph.builder import GraphBuilder
from bnnflow.graph.examples import random_input, requant32_params, requant_params
from bnnflow.graph.padding import as_pads, out_size
from bnnflow.reference.interpreter import run
from bnnflow.runtime import Interpreter

ISAS = cpu.supported_isas()
Pad = int | list[int]


def _ints(rng: np.random.Generator, lo: int, hi: int, n: int, dtype: type) -> np.ndarray:
    return rng.integers(lo, hi + 1, size=n).astype(dtype)


def _pwl_params(rng: np.random.Generator, c: int) -> dict[str, np.ndarray]:
    return {"t": _ints(rng, -20, 20, c, np.int32), "Mp": _ints(rng, -3000, 3000, c, np.int16),
            "Bp": _ints(rng, -40000, 40000, c, np.int32),
            "Mn": _ints(rng, -3000, 3000, c, np.int16),
            "Bn": _ints(rng, -40000, 40000, c, np.int32), "s": _ints(rng, 0, 12, c, np.int8)}


def _size(n: int, k: int, s: int, pad: Pad) -> tuple[int, int]:
    top, left, bottom, right = as_pads(pad)
    return out_size(n, k, s, top, bottom), out_size(n, k, s, left, right)


def band_graph(rng: np.random.Generator, hw: tuple[int, int], cin: int, cout: int,
               conv: tuple[int, int, Pad], pool: tuple[str, int, int, Pad],
               dw: tuple[int, int, Pad, int], cout2: int, conv_rq=requant32_params,
               dw_rq=requant32_params):
    """uint8 image -> conv2d_int8 -> requant32 -> pwl -> max pool + requant (or sum pool +
    requant32) -> dwconv2d_int8 -> requant32 -> 1x1 conv2d_int8 -> requant32 -> 1x1 sum pool
    -> flatten -> dequant: every op up to the sum pool is one band chain. ``conv_rq(rng, c)``:
    the parameters of the two convolutions' requant32; ``dw_rq`` those of the dwconv's."""
    (h, w), (k, s, p) = hw, conv
    b = GraphBuilder(InputSpec("x", (-1, h, w, cin), "uint8"), "int8")
    y = b.add("conv2d_int8", "conv", [b.input], {"stride": s, "padding": p},
              weights=_ints(rng, -128, 127, cout * k * k * cin, np.int8).reshape(cout, k, k, cin),
              bias=_ints(rng, -5000, 5000, cout, np.int32), zp=_ints(rng, 0, 255, cin, np.int32))
    h, w = _size(h, k, s, p)[0], _size(w, k, s, p)[1]
    y = b.add("requant32", "conv.rq", [y], **conv_rq(rng, cout))
    y = b.add("pwl", "act", [y], **_pwl_params(rng, cout))
    kind, k, s, p = pool
    y = b.add(f"{kind}pool_int8", "pool", [y], {"kernel": k, "stride": s, "padding": p})
    if kind == "max":
        y = b.add("requant", "pool.rq", [y], **requant_params(rng, cout))
    else:
        y = b.add("requant32", "pool.rq", [y], **requant32_params(rng, cout))
    h, w = _size(h, k, s, p)[0], _size(w, k, s, p)[1]
    k, s, p, mult = dw
    c = cout * mult
    y = b.add("dwconv2d_int8", "dw", [y], {"stride": s, "padding": p},
              weights=_ints(rng, -128, 127, c * k * k, np.int8).reshape(c, k, k),
              bias=_ints(rng, -5000, 5000, c, np.int32), zp=_ints(rng, -128, 127, cout, np.int32))
    h, w = _size(h, k, s, p)[0], _size(w, k, s, p)[1]
    y = b.add("requant32", "dw.rq", [y], **dw_rq(rng, c))
    y = b.add("conv2d_int8", "pw", [y], {"stride": 1, "padding": 0},
              weights=_ints(rng, -128, 127, cout2 * c, np.int8).reshape(cout2, 1, 1, c),
              bias=_ints(rng, -5000, 5000, cout2, np.int32), zp=_ints(rng, -128, 127, c, np.int32))
    y = b.add("requant32", "pw.rq", [y], **conv_rq(rng, cout2))
    y = b.add("sumpool_int8", "widen", [y], {"kernel": 1, "stride": 1, "padding": 0})
    feats = h * w * cout2
    y = b.add("dequant", "out", [b.add("flatten", "flat", [y])],
              scale=np.full(feats, 0.5, np.float32), bias=np.zeros(feats, np.float32))
    return b.build(y, feats)


CHAIN = "conv+conv.rq+act+pool+pool.rq+dw+dw.rq+pw+pw.rq+widen"


def _check(graph, tensors, isa: str, threads: int, x: np.ndarray) -> Interpreter:
    fused = Interpreter.from_graph(graph, tensors, threads, isa=isa)
    unfused = Interpreter.from_graph(graph, tensors, threads, isa=isa, fuse=False)
    want = run(graph, tensors, x)
    np.testing.assert_array_equal(fused.run(x), want)
    np.testing.assert_array_equal(unfused.run(x), want)
    return fused


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("same", [False, True])
@pytest.mark.parametrize("band_bytes", [None, "1"])
def test_chain_of_every_link_kind_is_one_exact_step(isa: str, threads: int, same: bool,
                                                    band_bytes: str | None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A 40x40 stem of 160 channels: its int32 rows (25.6 kB each) need several bands at the
    default budget; BNNFLOW_BAND_BYTES=1 makes every band one row of the last output. Batch 3
    and batch 1 (whose few bands the threads split into thinner balanced ones)."""
    if band_bytes is not None:
        monkeypatch.setenv("BNNFLOW_BAND_BYTES", band_bytes)
    rng = np.random.default_rng(3 + same)
    half: Pad = [0, 0, 1, 1] if same else 1  # TF SAME at stride 2 on an even map
    graph, tensors = band_graph(rng, (40, 40), 3, 160, (3, 2 if same else 1, half),
                                ("max", 3, 2, half), (3, 1, 1, 1), 24)
    interp = _check(graph, tensors, isa, threads, random_input(rng, graph, 3))
    _check(graph, tensors, isa, threads, random_input(rng, graph, 1))
    assert interp.steps == [CHAIN, "flat", "out"]
    assert interp.step_types[0].startswith("conv2d_int8+requant32+pwl+maxpool_int8+requant+")
    assert interp.arena_bytes_per_sample < interp.peak_activation_bytes


def _folded_rq32(form: str):
    """requant32 parameters that fold into ``form`` (csrc/kernels/requant/requant32_plan.h),
    their unsaturated window inside the accumulators' range."""
    (s_lo, s_hi), m_abs = {"int32": ((0, 22), 2**30), "high32": ((32, 45), 2**31)}[form]

    def params(rng: np.random.Generator, c: int) -> dict[str, np.ndarray]:
        M = rng.integers(-m_abs, m_abs, size=c).astype(np.int32)
        B = -M.astype(np.int64) * rng.integers(-(2**15), 2**15, size=c)
        s = rng.integers(s_lo, s_hi + 1, size=c).astype(np.int8)
        assert _engine.requant32_mode(M, B, s.astype(np.int32)) == form
        return {"M": M, "B": B, "s": s}

    return params


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("form", ["int32", "high32"])
@pytest.mark.parametrize("band_bytes", [None, "1"])
def test_conv_and_folded_requant32_link(isa: str, form: str, band_bytes: str | None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Folded requant32 after 64- and 32-channel convolutions: AVX-512 / AVX2 requantise in the
    register tile (conv2d_int8 + requant32 one link of the chain, no int32 rows); exact."""
    if band_bytes is not None:
        monkeypatch.setenv("BNNFLOW_BAND_BYTES", band_bytes)
    rng = np.random.default_rng(11)
    graph, tensors = band_graph(rng, (21, 23), 3, 64, (7, 2, 3), ("max", 3, 2, 1), (3, 1, 1, 1),
                                32, conv_rq=_folded_rq32(form))
    interp = _check(graph, tensors, isa, 2, random_input(rng, graph, 2))
    assert interp.steps == [CHAIN, "flat", "out"]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("form", ["int32", "high32"])
@pytest.mark.parametrize(("cout", "mult"), [(64, 1), (24, 2), (5, 3)])
@pytest.mark.parametrize("band_bytes", [None, "1"])
def test_dwconv_and_folded_requant32_link(isa: str, form: str, cout: int, mult: int,
                                          band_bytes: str | None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A folded requant32 after the dwconv: AVX-512 / AVX2 (and the scalar kernel) requantise
    its accumulators in the register tile (dwconv2d_int8 + requant32 one link, no int32 rows;
    16-channel blocks, 8-channel blocks and channel tails), stride 1 and 2; exact."""
    if band_bytes is not None:
        monkeypatch.setenv("BNNFLOW_BAND_BYTES", band_bytes)
    rng = np.random.default_rng(17 + cout)
    for dw_stride in (1, 2):
        graph, tensors = band_graph(rng, (19, 17), 3, cout, (3, 1, 1), ("max", 3, 2, 1),
                                    (3, dw_stride, 1, mult), 16, dw_rq=_folded_rq32(form))
        interp = _check(graph, tensors, isa, 2, random_input(rng, graph, 2))
        assert interp.steps == [CHAIN, "flat", "out"]


_pads = st.lists(st.integers(0, 2), min_size=4, max_size=4)


@st.composite
def _geometry(draw: st.DrawFn) -> dict:
    def window(kernels: list[int]) -> tuple[int, int, list[int]]:
        k = draw(st.sampled_from(kernels))
        pads = [min(p, k // 2) for p in draw(_pads)]  # the pools' rule: at most half the window
        return k, draw(st.integers(1, 2)), pads

    return {"hw": (draw(st.integers(7, 16)), draw(st.integers(7, 16))),
            "cin": draw(st.integers(1, 4)), "cout": draw(st.integers(1, 20)),
            "conv": window([1, 3, 5]), "pool": (draw(st.sampled_from(["max", "sum"])),
                                                *window([1, 2, 3])),
            "dw": (*window([1, 3]), draw(st.integers(1, 2))), "cout2": draw(st.integers(1, 9)),
            "band_bytes": draw(st.sampled_from(["1", "300", "2000", "262144"])),
            "dw_rq": draw(st.sampled_from([requant32_params, _folded_rq32("int32"),
                                           _folded_rq32("high32")])),
            "threads": draw(st.integers(1, 4)), "batch": draw(st.integers(1, 2)),
            "seed": draw(st.integers(0, 2**32 - 1))}


@pytest.mark.parametrize("isa", ISAS)
@settings(max_examples=12, deadline=None)
@given(g=_geometry())
def test_band_chain_equals_the_separate_ops(isa: str, g: dict) -> None:
    """Any kernel size, stride, per-side padding, channel count and band size: the fused
    program (whatever chains the geometry allows) equals the unfused one and the reference."""
    rng = np.random.default_rng(g["seed"])
    try:
        graph, tensors = band_graph(rng, g["hw"], g["cin"], g["cout"], g["conv"], g["pool"],
                                    g["dw"], g["cout2"], dw_rq=g["dw_rq"])
        validate(graph, tensors)
    except (FormatError, ValueError):  # a map shrank to nothing (validation or numpy)
        assume(False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BNNFLOW_BAND_BYTES", g["band_bytes"])
        interp = _check(graph, tensors, isa, g["threads"],
                        random_input(rng, graph, g["batch"]))
    assert len(interp.steps) < len(graph.ops)


def test_chain_stops_at_a_second_reader() -> None:
    """The pwl's output is also the graph's second path: the chain ends there."""
    rng = np.random.default_rng(4)
    c = 8
    b = GraphBuilder(InputSpec("x", (-1, 9, 9, 2), "uint8"), "int8")
    y = b.add("conv2d_int8", "conv", [b.input], {"stride": 1, "padding": 1},
              weights=_ints(rng, -128, 127, c * 18, np.int8).reshape(c, 3, 3, 2),
              bias=_ints(rng, -500, 500, c, np.int32), zp=np.array([3, 9], np.int32))
    y = b.add("requant32", "rq", [y], **requant32_params(rng, c))
    a = b.add("pwl", "act", [y], **_pwl_params(rng, c))
    m = b.add("maxpool_int8", "pool", [a], {"kernel": 3, "stride": 2, "padding": 1})  # 5x5
    m = b.add("sumpool_int8", "widen", [m], {"kernel": 5, "stride": 1, "padding": 0})
    o = b.add("sumpool_int8", "other", [a], {"kernel": 9, "stride": 1, "padding": 0})
    one, zero = np.full(c, 0.5, np.float32), np.zeros(c, np.float32)
    dm = b.add("dequant", "dm", [b.add("flatten", "fm", [m])], scale=one, bias=zero)
    do = b.add("dequant", "do", [b.add("flatten", "fo", [o])], scale=one, bias=zero)
    y = b.add("add_f32", "sum", [dm, do])
    feats = c
    graph, tensors = b.build(y, feats)
    interp = _check(graph, tensors, ISAS[-1], 1, random_input(rng, graph, 2))
    assert interp.steps[:2] == ["conv+rq+act", "pool+widen"] and "other" in interp.steps


def test_bnnflow_band_bytes_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    graph, tensors = band_graph(rng, (8, 8), 1, 4, (3, 1, 1), ("sum", 2, 2, 0), (3, 1, 1, 1), 3)
    assert CHAIN in Interpreter.from_graph(graph, tensors).steps
    monkeypatch.setenv("BNNFLOW_BAND_BYTES", "0")  # no band chains: only the pair
    interp = Interpreter.from_graph(graph, tensors)
    assert interp.steps[:3] == ["conv+conv.rq", "act", "pool"]
    assert "pw+pw.rq" in interp.steps
    for bad in ("-5", "2k", "", " 1", str(2**30 + 1)):
        monkeypatch.setenv("BNNFLOW_BAND_BYTES", bad)
        with pytest.raises(ValueError, match=r"BNNFLOW_BAND_BYTES: expected an integer in"):
            Interpreter.from_graph(graph, tensors)
