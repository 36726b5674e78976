"""Bind-time fusion (native executor, docs/runtime.md "Fused steps"): conv2d_int8 + requant32
run as one engine call; a binary convolution with the int8 add reading it, the pwl after the
sum and the next convolution's pack as one step. Bit-identical to the separate ops (and to
``fuse=False``), and only where the tensors in between have no other reader."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnnflow import cpu
from bnnflow.graph import InputSpec
from bnnflow.graph.builder import GraphBuilder
from bnnflow.graph.examples import (
    epilogue_attrs,
    epilogue_params,
    grouped_packed_weights,
    random_input,
    requant32_params,
    requant_params,
    tiny_int8_model,
)
from bnnflow.reference.interpreter import run
from bnnflow.runtime import Interpreter

ISAS = cpu.supported_isas()


def _step_names(interp: Interpreter) -> list[str]:
    return interp.steps


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_stem_pair_is_fused_and_exact(isa: str, threads: int) -> None:
    rng = np.random.default_rng(21)
    graph, tensors = tiny_int8_model(rng)
    interp = Interpreter.from_graph(graph, tensors, threads, isa=isa)
    names = _step_names(interp)
    assert "stem.conv+stem.requant" in names
    # pool.requant follows a sum pool: not fused; the residual block is one step of four ops
    assert len(names) == len(graph.ops) - 1 - 3
    for batch in (1, 3, 1):
        x = random_input(rng, graph, batch)
        np.testing.assert_array_equal(interp.run(x), run(graph, tensors, x))
    assert interp.arena_bytes_per_sample <= interp.peak_activation_bytes
    # run_all keeps every tensor, the int32 one included (the unfused program)
    assert interp.run_all(random_input(rng, graph, 2))["stem.conv"].dtype == np.int32


def _two_reader_graph(rng: np.random.Generator):
    """uint8 image -> conv2d_int8 -> {requant32 -> sumpool -> dequant, dequant} -> add_f32:
    the int32 tensor has two readers, so the pair must not fuse."""
    c, h = 8, 5
    b = GraphBuilder(InputSpec("x", (-1, h, h, 2), "uint8"), "int8")
    conv = b.add("conv2d_int8", "conv", [b.input], {"stride": 1, "padding": 1},
                 weights=rng.integers(-128, 128, (c, 3, 3, 2)).astype(np.int8),
                 bias=rng.integers(-100, 100, c).astype(np.int32), zp=np.array([3, 9], np.int32))
    q = b.add("requant32", "requant", [conv], **requant32_params(rng, c))
    q = b.add("sumpool_int8", "widen", [q], {"kernel": 1, "stride": 1, "padding": 0})
    feats = h * h * c
    scale, zero = np.full(feats, 0.5, np.float32), np.zeros(feats, np.float32)
    a = b.add("dequant", "a", [b.add("flatten", "fa", [q])], scale=scale, bias=zero)
    d = b.add("dequant", "d", [b.add("flatten", "fd", [conv])], scale=scale, bias=zero)
    return b.build(b.add("add_f32", "sum", [a, d]), feats)


def test_pair_with_a_second_reader_is_not_fused() -> None:
    rng = np.random.default_rng(5)
    graph, tensors = _two_reader_graph(rng)
    interp = Interpreter.from_graph(graph, tensors, 2)
    names = _step_names(interp)
    # the conv stays a step of its own; the requant32 and the sum pool after it are a band chain
    assert names[0] == "conv" and "requant+widen" in names
    x = random_input(rng, graph, 2)
    # dequant rounds identically on engine and reference; add_f32 is one rounding too
    np.testing.assert_array_equal(interp.run(x), run(graph, tensors, x))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_residual_block_is_fused_and_exact(isa: str, threads: int) -> None:
    rng = np.random.default_rng(22)
    graph, tensors = tiny_int8_model(rng)
    fused = Interpreter.from_graph(graph, tensors, threads, isa=isa)
    plain = Interpreter.from_graph(graph, tensors, threads, isa=isa, fuse=False)
    assert fused.fused and not plain.fused
    assert "block1.conv+block1.add+block1.prelu+block2.sign" in fused.steps
    assert "bconv+add+pwl+pack" in fused.step_types  # the pack has 4 groups here
    assert plain.steps == [op.name for op in graph.ops]
    for batch in (1, 3):
        x = random_input(rng, graph, batch)
        want = run(graph, tensors, x)
        np.testing.assert_array_equal(fused.run(x), want)
        np.testing.assert_array_equal(plain.run(x), want)


def _residual_graph(rng: np.random.Generator, c: int, conv_first: bool):
    """int8 [5, 7, c] -> requant -> pack -> bconv (int8, clamped) -> add with the requant
    output -> {sumpool (read first), pack -> bconv (int8)} -> add -> ... -> dequant: channel
    counts off the vector widths, partial pixel tiles, the conv output as either add input,
    a pack that stands after another reader of the sum."""
    b = GraphBuilder(InputSpec("x", (-1, 5, 7, c), "int8"), "int8")
    h = b.add("requant", "in", [b.input], **requant_params(rng, c))
    p = b.add("pack", "sign1", [h], {"groups": 1}, t=rng.integers(-5, 6, c).astype(np.int32))
    y = b.add("bconv", "conv1", [p],
              {"stride": 1, "padding": 1, "pad_mode": "zero", "groups": 1,
               **epilogue_attrs("int8", (-90, 100))},
              weights=grouped_packed_weights(rng, c, 3, 3, c, 1),
              **epilogue_params(rng, "int8", c, 9 * c))
    a = requant_params(rng, c)
    mb = rng.integers(1000, 3000, c).astype(np.int16)
    h = b.add("add", "add1", [y, h] if conv_first else [h, y], Ma=a["M"], Mb=mb, B=a["B"],
              s=a["s"])
    side = b.add("sumpool_int8", "side", [h], {"kernel": 1, "stride": 1, "padding": 0})
    p = b.add("pack", "sign2", [h], {"groups": 1}, t=rng.integers(-5, 6, c).astype(np.int32))
    y = b.add("bconv", "conv2", [p],
              {"stride": 1, "padding": 1, "pad_mode": "one", "groups": 1,
               **epilogue_attrs("int8")},
              weights=grouped_packed_weights(rng, c, 3, 3, c, 1),
              **epilogue_params(rng, "int8", c, 9 * c))
    a = requant_params(rng, c)
    h = b.add("add", "add2", [y, h], Ma=a["M"], Mb=mb, B=a["B"], s=a["s"])
    h = b.add("sumpool_int8", "widen", [h], {"kernel": 1, "stride": 1, "padding": 0})
    feats = 5 * 7 * c
    scale, zero = np.full(feats, 0.25, np.float32), np.zeros(feats, np.float32)
    u = b.add("dequant", "u", [b.add("flatten", "fu", [h])], scale=scale, bias=zero)
    v = b.add("dequant", "v", [b.add("flatten", "fv", [side])], scale=scale, bias=zero)
    return b.build(b.add("add_f32", "sum", [u, v]), feats)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize(("c", "conv_first"), [(37, True), (64, False), (5, True)])
def test_residual_add_and_pack_fuse_exactly(isa: str, c: int, conv_first: bool) -> None:
    rng = np.random.default_rng(c)
    graph, tensors = _residual_graph(rng, c, conv_first)
    fused = Interpreter.from_graph(graph, tensors, 2, isa=isa)
    assert "conv1+add1+sign2" in fused.steps  # the pack joins though "side" reads add1 first
    assert "conv2+add2" in fused.steps
    for batch in (1, 3):
        x = random_input(rng, graph, batch)
        np.testing.assert_array_equal(fused.run(x), run(graph, tensors, x))


def test_conv_output_with_a_second_reader_is_not_fused() -> None:
    rng = np.random.default_rng(3)
    c = 8
    b = GraphBuilder(InputSpec("x", (-1, 4, 4, c), "int8"), "int8")
    p = b.add("pack", "sign", [b.input], {"groups": 1}, t=np.zeros(c, np.int32))
    y = b.add("bconv", "conv", [p], {"stride": 1, "padding": 1, "pad_mode": "zero",
                                     "groups": 1, **epilogue_attrs("int8")},
              weights=grouped_packed_weights(rng, c, 3, 3, c, 1),
              **epilogue_params(rng, "int8", c, 9 * c))
    a = requant_params(rng, c)
    h = b.add("add", "add", [y, b.input], Ma=a["M"], Mb=a["M"], B=a["B"], s=a["s"])
    h = b.add("add", "again", [h, y], Ma=a["M"], Mb=a["M"], B=a["B"], s=a["s"])
    h = b.add("sumpool_int8", "widen", [h], {"kernel": 1, "stride": 1, "padding": 0})
    feats = 16 * c
    h = b.add("dequant", "out", [b.add("flatten", "flat", [h])],
              scale=np.full(feats, 0.5, np.float32), bias=np.zeros(feats, np.float32))
    graph, tensors = b.build(h, feats)
    interp = Interpreter.from_graph(graph, tensors)
    assert interp.steps == [op.name for op in graph.ops]
    x = random_input(rng, graph, 2)
    np.testing.assert_array_equal(interp.run(x), run(graph, tensors, x))


def test_bnnflow_fuse_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    graph, tensors = tiny_int8_model(np.random.default_rng(1))
    monkeypatch.setenv("BNNFLOW_FUSE", "0")
    interp = Interpreter.from_graph(graph, tensors)
    assert not interp.fused and interp.steps == [op.name for op in graph.ops]
    assert Interpreter.from_graph(graph, tensors, fuse=True).fused  # the argument wins
    monkeypatch.setenv("BNNFLOW_FUSE", "yes")
    with pytest.raises(ValueError, match="BNNFLOW_FUSE: expected 0 or 1"):
        Interpreter.from_graph(graph, tensors)
    with pytest.raises(ValueError, match="fuse must be True, False or None"):
        Interpreter.from_graph(graph, tensors, fuse=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("isa", ISAS)
def test_add_of_two_binary_convolutions_fuses_one(isa: str) -> None:
    """A binary downsample: the add's both inputs are int8 bconvs read only by it. The first
    takes the add; the other runs as its own step (its output is the residual)."""
    rng = np.random.default_rng(9)
    c = 24
    b = GraphBuilder(InputSpec("x", (-1, 6, 6, c), "int8"), "int8")
    p = b.add("pack", "sign", [b.input], {"groups": 1}, t=np.zeros(c, np.int32))
    convs = []
    for name, k, pad in (("short", 1, 0), ("conv", 3, 1)):
        convs.append(b.add("bconv", name, [p],
                           {"stride": 2, "padding": pad, "pad_mode": "zero", "groups": 1,
                            **epilogue_attrs("int8")},
                           weights=grouped_packed_weights(rng, c, k, k, c, 1),
                           **epilogue_params(rng, "int8", c, k * k * c)))
    a = requant_params(rng, c)
    h = b.add("add", "add", [convs[1], convs[0]], Ma=a["M"], Mb=a["M"], B=a["B"], s=a["s"])
    h = b.add("sumpool_int8", "widen", [h], {"kernel": 1, "stride": 1, "padding": 0})
    feats = 9 * c
    h = b.add("dequant", "out", [b.add("flatten", "flat", [h])],
              scale=np.full(feats, 0.5, np.float32), bias=np.zeros(feats, np.float32))
    graph, tensors = b.build(h, feats)
    interp = Interpreter.from_graph(graph, tensors, 2, isa=isa)
    assert interp.steps[:3] == ["sign", "conv", "short+add"]
    x = random_input(rng, graph, 3)
    np.testing.assert_array_equal(interp.run(x), run(graph, tensors, x))


def _tail_graph(rng: np.random.Generator, h: int, w: int, c: int, pwl: bool,
                pack_groups: int, clamp: bool):
    """int8 [h, w, c] -> requant -> pack -> bconv (int8) -> add with the requant output ->
    optional pwl -> pack (pack_groups) -> bconv (int8) -> sum pool -> dequant: the first
    bconv, the add, the pwl and the pack fuse into one step whose tail runs in the bconv's
    registers when c and the pack's groups allow it (docs/runtime.md "Fused steps")."""
    b = GraphBuilder(InputSpec("x", (-1, h, w, c), "int8"), "int8")
    x = b.add("requant", "in", [b.input], **requant_params(rng, c))
    p = b.add("pack", "sign1", [x], {"groups": 1}, t=rng.integers(-5, 6, c).astype(np.int32))
    y = b.add("bconv", "conv1", [p],
              {"stride": 1, "padding": 1, "pad_mode": "zero", "groups": 1,
               **epilogue_attrs("int8", (-60, 70) if clamp else (None, None))},
              weights=grouped_packed_weights(rng, c, 3, 3, c, 1),
              **epilogue_params(rng, "int8", c, 9 * c))
    a = requant_params(rng, c)
    y = b.add("add", "add1", [y, x], Ma=a["M"], Mb=rng.integers(-3000, 3001, c).astype(np.int16),
              B=a["B"], s=a["s"])
    if pwl:
        q = requant_params(rng, c)
        y = b.add("pwl", "act1", [y], t=rng.integers(-20, 21, c).astype(np.int32), Mp=q["M"],
                  Bp=q["B"], Mn=requant_params(rng, c)["M"], Bn=requant_params(rng, c)["B"],
                  s=q["s"])
    # thresholds at and beyond the int8 range too: the AVX2 tail packs by a byte compare
    # with the threshold saturated to int8 (t > 127: the bit is always set)
    t = rng.integers(-40, 41, c).astype(np.int32)
    edge = rng.random(c) < 0.25
    t[edge] = rng.choice(np.array([-300, -129, -128, -127, 126, 127, 128, 129, 300]), edge.sum())
    p = b.add("pack", "sign2", [y], {"groups": pack_groups}, t=t)
    y = b.add("bconv", "conv2", [p],
              {"stride": 1, "padding": 1, "pad_mode": "one", "groups": pack_groups,
               **epilogue_attrs("int8")},
              weights=grouped_packed_weights(rng, c, 3, 3, c, pack_groups),
              **epilogue_params(rng, "int8", c, 9 * c // pack_groups))
    y = b.add("sumpool_int8", "widen", [y], {"kernel": 1, "stride": 1, "padding": 0})
    feats = h * w * c
    y = b.add("dequant", "out", [b.add("flatten", "flat", [y])],
              scale=np.full(feats, 0.5, np.float32), bias=np.zeros(feats, np.float32))
    return b.build(y, feats)


@settings(max_examples=12, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), c=st.sampled_from([32, 40, 64, 96, 128]),
       pwl=st.booleans(), pack_groups=st.sampled_from([1, 2, 4]), clamp=st.booleans(),
       batch=st.integers(1, 3), threads=st.sampled_from([1, 2, 3, 4]), seed=st.integers(0, 2**16))
def test_residual_tail_in_registers_is_exact(h: int, w: int, c: int, pwl: bool,
                                             pack_groups: int, clamp: bool, batch: int,
                                             threads: int, seed: int) -> None:
    """The fused step (its tail in the bconv's registers, or the post pass where it cannot
    run there: 40 channels, pack groups of 20 or 10) against the unfused program and the
    reference, on every ISA."""
    rng = np.random.default_rng(seed)
    graph, tensors = _tail_graph(rng, h, w, c, pwl, pack_groups, clamp)
    x = random_input(rng, graph, batch)
    want = run(graph, tensors, x)
    for isa in ISAS:
        fused = Interpreter.from_graph(graph, tensors, threads, isa=isa)
        plain = Interpreter.from_graph(graph, tensors, threads, isa=isa, fuse=False)
        name = "conv1+add1+act1+sign2" if pwl else "conv1+add1+sign2"
        assert name in fused.steps
        np.testing.assert_array_equal(fused.run(x), want, err_msg=isa)
        np.testing.assert_array_equal(plain.run(x), want, err_msg=isa)


@pytest.mark.parametrize("c", [128, 256])
@pytest.mark.parametrize("threads", [2, 3, 4])
def test_small_image_tail_split_by_channel_blocks_is_exact(c: int, threads: int) -> None:
    """7x7 images at batch 1: the fused step (tail in the registers) splits its channel blocks
    over the threads instead of its 9 pixel tiles (csrc/kernels/bconv/bconv.cc, bconv2d).
    2x2 images at batch 3 (3 partial tiles in one tile group: the post pass runs) must keep
    the tile split. Against the unfused program and the reference, on every ISA."""
    rng = np.random.default_rng(c + threads)
    for hw, pwl, groups, batches in ((7, False, 1, (1, 2, 1)), (7, True, 2, (1, 2)),
                                     (2, True, 1, (3, 1))):
        graph, tensors = _tail_graph(rng, hw, hw, c, pwl, groups, clamp=pwl)
        for isa in ISAS:
            fused = Interpreter.from_graph(graph, tensors, threads, isa=isa)
            plain = Interpreter.from_graph(graph, tensors, threads, isa=isa, fuse=False)
            for batch in batches:
                x = random_input(rng, graph, batch)
                want = run(graph, tensors, x)
                np.testing.assert_array_equal(fused.run(x), want, err_msg=f"{isa} {batch}")
                np.testing.assert_array_equal(plain.run(x), want, err_msg=f"{isa} {batch}")
