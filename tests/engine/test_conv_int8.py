"""conv2d_int8 engine kernels vs the numpy reference on every ISA and thread count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from bnnflow import _engine
from bnnflow.reference import int8_ops
from engine import glue_params as gp
from engine.op_check import ISAS, check_op


@st.composite
def convs(draw):
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 3))
    h = draw(st.integers(max(1, kh - 2 * pad), 10))
    w = draw(st.integers(max(1, kw - 2 * pad), 10))
    n, cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 20)), draw(st.integers(1, 70))
    return (n, h, w, cin), (cout, kh, kw, cin), stride, pad


@settings(max_examples=40, deadline=None)
@given(conv=convs(), unsigned=st.booleans(), seed=gp.seeds)
def test_conv2d_int8_matches_reference(conv, unsigned, seed):
    xs, ws, stride, pad = conv
    r = gp.rng(seed)
    x, zp, w, bias = gp.conv_int8_operands(r, xs, ws, unsigned)
    check_op(
        lambda isa, threads, out: _engine.conv2d_int8(
            x, w, bias, zp, stride, pad, isa=isa, threads=threads, out=out
        ),
        lambda: int8_ops.conv2d_int8(x, w, bias, zp, stride, pad),
    )


def test_stem_shape_7x7_s2():
    r = gp.rng(7)
    x = gp.uint8(r, (1, 37, 41, 3))
    w = gp.int8(r, (64, 7, 7, 3))
    bias = r.integers(-1000, 1000, size=64).astype(np.int32)
    zp = np.array([124, 116, 104], np.int32)
    out = check_op(
        lambda isa, threads, out: _engine.conv2d_int8(
            x, w, bias, zp, 2, 3, isa=isa, threads=threads, out=out
        ),
        lambda: int8_ops.conv2d_int8(x, w, bias, zp, 2, 3),
    )
    assert out.shape == (1, 19, 21, 64)


@pytest.mark.parametrize("unsigned", [True, False])
@pytest.mark.parametrize("form", ["int32", "high32"])
def test_stem_7x7_s2_even_output_width(unsigned, form):
    """The RGB stem with an even output width and whole 32-channel blocks (AVX2: exact
    integer Winograd along the width, docs/glue-kernels.md): 22 output columns (11 tiles of 2:
    three register tiles of 3 and one of 2), two images, int32 out, and prepared weights with
    the requant32 folded into `form` and applied in the tile (int8 out)."""
    r = gp.rng(11)
    x, zp, w, bias = gp.conv_int8_operands(r, (2, 36, 44, 3), (96, 7, 7, 3), unsigned)
    want = int8_ops.conv2d_int8(x, w, bias, zp, 2, 3)
    check_op(
        lambda isa, threads, out: _engine.conv2d_int8(
            x, w, bias, zp, 2, 3, isa=isa, threads=threads, out=out
        ),
        lambda: want,
    )
    (s_lo, s_hi), m_abs = RQ_FORMS[form]
    M = r.integers(-m_abs, m_abs, size=96).astype(np.int32)
    s = r.integers(s_lo, s_hi + 1, size=96).astype(np.int32)
    B = (-M.astype(np.int64) * r.integers(-(2**20), 2**20, size=96)).astype(np.int64)
    assert _engine.requant32_mode(M, B, s) == form
    want8 = int8_ops.requant32(want, M, B, s)
    dtype = "uint8" if unsigned else "int8"
    prepared = {isa: _engine.prepare_conv2d_int8_weights(w, bias, zp, x_dtype=dtype, isa=isa)
                for isa in ISAS}
    check_op(
        lambda isa, threads, out: _engine.conv2d_int8_requant(
            x, prepared[isa], M, B, s, 2, 3, isa=isa, threads=threads, out=out, prepared=True
        ),
        lambda: want8,
    )


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 16), wo=st.integers(1, 14), pad=st.integers(0, 4),
       extra=st.integers(0, 1), cout=st.sampled_from([32, 64]), unsigned=st.booleans(),
       seed=gp.seeds)
def test_stem_7x7_s2_any_width_padding_and_batch(n, h, wo, pad, extra, cout, unsigned, seed):
    """The 7x7 stride-2 RGB stem at every output width (even: AVX2's Winograd path with its 3-,
    2- and 1-tile register tiles; odd: the direct tiles), padding 0..4, odd and even heights,
    an unused last input column or not, one or two images."""
    w = 2 * (wo - 1) + 7 - 2 * pad + extra
    assume(w >= 1 and h + 2 * pad >= 7)
    r = gp.rng(seed)
    x, zp, wt, bias = gp.conv_int8_operands(r, (n, h, w, 3), (cout, 7, 7, 3), unsigned)
    out = check_op(
        lambda isa, threads, out: _engine.conv2d_int8(
            x, wt, bias, zp, 2, pad, isa=isa, threads=threads, out=out
        ),
        lambda: int8_ops.conv2d_int8(x, wt, bias, zp, 2, pad),
    )
    assert out.shape[2] == wo


def test_staging_above_the_kept_size_is_freed_and_regrown():
    """A call whose per-thread staging exceeds 4 MiB (kScratchKeepBytes: 4 images of 602x602x3
    staged, twice that as AVX2's int16) frees it at its end; the calls after it, large and
    small, allocate again and stay exact."""
    r = gp.rng(11)
    w = gp.int8(r, (16, 3, 3, 3))
    bias = r.integers(-1000, 1000, size=16).astype(np.int32)
    zp = np.array([124, 116, 104], np.int32)
    for n, size in ((4, 600), (4, 600), (1, 37)):
        x = gp.uint8(r, (n, size, size, 3))
        check_op(
            lambda isa, threads, out, x=x: _engine.conv2d_int8(
                x, w, bias, zp, 2, 1, isa=isa, threads=threads, out=out
            ),
            lambda x=x: int8_ops.conv2d_int8(x, w, bias, zp, 2, 1),
        )


def test_padded_pixel_equals_zero_point():
    # An image that is all zp gives bias everywhere, borders included.
    x = np.full((1, 5, 5, 2), 7, np.uint8)
    w = np.ones((3, 3, 3, 2), np.int8)
    out = _engine.conv2d_int8(x, w, np.arange(3, dtype=np.int32), np.full(2, 7, np.int32), 1, 1)
    np.testing.assert_array_equal(out, np.broadcast_to(np.arange(3, dtype=np.int32), out.shape))


@st.composite
def extreme_convs(draw):
    """Shapes (the Bi-Real-Net-18 and QuickNet stems among them) with every value at an end of
    its range: x in {lo, hi} of its dtype, w in {-128, 127}, zp in {lo, hi}, bias in {INT32_MIN,
    0, INT32_MAX}. Each tensor is all-lo, all-hi, or a random mix, so |x - zp| = 255 meets
    |w| = 128 in whole kernel rows: any multiply whose pair (or longer) sums saturate at int16,
    and any accumulator narrower than the documented wrapping int32, gives a different output."""
    shape = draw(st.one_of(
        st.just(((1, 13, 15, 3), (64, 7, 7, 3), 2, 3)),   # Bi-Real-Net-18 / ResNet stem
        st.just(((1, 9, 11, 3), (16, 3, 3, 3), 2, 1)),    # QuickNet stem
        convs(),
    ))
    xs, ws, stride, pad = shape
    unsigned = draw(st.booleans())
    lo, hi = (0, 255) if unsigned else (-128, 127)
    seed = draw(st.integers(0, 2**31))

    def ends(a: int, b: int, size, salt: int) -> np.ndarray:
        kind = draw(st.sampled_from(["lo", "hi", "mix"]))
        if kind != "mix":
            return np.full(size, a if kind == "lo" else b, np.int64)
        return np.where(gp.rng(seed + salt).integers(0, 2, size=size) == 1, b, a)

    x = ends(lo, hi, xs, 1).astype(np.uint8 if unsigned else np.int8)
    w = ends(-128, 127, ws, 2).astype(np.int8)
    zp = ends(lo, hi, xs[-1], 3).astype(np.int32)
    bias = np.full(ws[0], draw(st.sampled_from([-(2**31), 0, 2**31 - 1])), np.int32)
    return x, w, bias, zp, stride, pad


@settings(max_examples=60, deadline=None)
@given(case=extreme_convs())
def test_conv2d_int8_extreme_values_every_isa(case):
    """Adversarial values (see extreme_convs) on every ISA, arrays and prepared weights."""
    x, w, bias, zp, stride, pad = case
    expected = int8_ops.conv2d_int8(x, w, bias, zp, stride, pad)
    check_op(
        lambda isa, threads, out: _engine.conv2d_int8(
            x, w, bias, zp, stride, pad, isa=isa, threads=threads, out=out
        ),
        lambda: expected,
    )
    dtype = "uint8" if x.dtype == np.uint8 else "int8"
    prepared = {isa: _engine.prepare_conv2d_int8_weights(w, bias, zp, x_dtype=dtype, isa=isa)
                for isa in ISAS}
    check_op(
        lambda isa, threads, out: _engine.conv2d_int8(
            x, prepared[isa], stride, pad, isa=isa, threads=threads, out=out
        ),
        lambda: expected,
        threads=(1,),
    )


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"zp": np.full(3, 256, np.int32)}, "zp"),
        ({"zp": np.full(2, 0, np.int32)}, "zp"),
        ({"w": np.zeros((4, 3, 3, 2), np.int8)}, "w"),
        ({"bias": np.zeros(5, np.int32)}, "bias"),
        ({"x": np.zeros((6, 6, 3), np.uint8)}, "x"),
        ({"x": np.zeros((1, 6, 6, 3), np.int16)}, "x"),
        ({"stride": 0}, "stride"),
        ({"padding": -1}, "padding"),
    ],
)
def test_conv2d_int8_rejects_bad_arguments(kwargs, arg):
    args = {
        "x": np.zeros((1, 6, 6, 3), np.uint8),
        "w": np.zeros((4, 3, 3, 3), np.int8),
        "bias": np.zeros(4, np.int32),
        "zp": np.zeros(3, np.int32),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=arg):
        _engine.conv2d_int8(**args)



@settings(max_examples=30, deadline=None)
@given(conv=convs(), unsigned=st.booleans(), seed=gp.seeds)
def test_prepared_weights_match_reference(conv, unsigned, seed):
    """conv2d_int8(x, prepare_conv2d_int8_weights(w, bias, zp, x_dtype=...)) == the formula."""
    xs, ws, stride, pad = conv
    r = gp.rng(seed)
    x, zp, w, bias = gp.conv_int8_operands(r, xs, ws, unsigned)
    expected = int8_ops.conv2d_int8(x, w, bias, zp, stride, pad)
    dtype = "uint8" if unsigned else "int8"
    prepared = {isa: _engine.prepare_conv2d_int8_weights(w, bias, zp, x_dtype=dtype, isa=isa)
                for isa in ISAS}
    w[...], bias[...], zp[...] = 0, 0, 0  # the prepared weights hold their own copies
    check_op(
        lambda isa, threads, out: _engine.conv2d_int8(
            x, prepared[isa], stride, pad, isa=isa, threads=threads, out=out
        ),
        lambda: expected,
    )


def test_prepared_weights_properties_and_errors():
    w = np.ones((5, 3, 3, 4), np.int8)
    bias, zp = np.zeros(5, np.int32), np.zeros(4, np.int32)
    p = _engine.prepare_conv2d_int8_weights(w, bias, zp, x_dtype="int8", isa="scalar")
    assert (p.cout, p.kh, p.kw, p.cin, p.x_dtype, p.isa) == (5, 3, 3, 4, "int8", "scalar")
    x = np.zeros((1, 6, 6, 4), np.int8)
    with pytest.raises(ValueError, match=r"^x: the weights were prepared for int8"):
        _engine.conv2d_int8(x.astype(np.uint8), p)
    with pytest.raises(ValueError, match=r"^x: has 3 channels"):
        _engine.conv2d_int8(x[..., :3].copy(), p)
    other = [isa for isa in ISAS if isa != "scalar"]
    if other:
        with pytest.raises(ValueError, match=r"^isa: .*prepared for 'scalar'"):
            _engine.conv2d_int8(x, p, isa=other[0])
    with pytest.raises(ValueError, match=r"^x_dtype"):
        _engine.prepare_conv2d_int8_weights(w, bias, zp, x_dtype="int16")
    with pytest.raises(ValueError, match=r"^zp"):
        _engine.prepare_conv2d_int8_weights(w, bias, np.full(4, 200, np.int32), x_dtype="int8")
    with pytest.raises(ValueError, match=r"^bias"):
        _engine.prepare_conv2d_int8_weights(w, bias[:4].copy(), zp)
    with pytest.raises(ValueError, match=r"^w"):
        _engine.prepare_conv2d_int8_weights(w[0], bias, zp)


def _requant_params(r: np.random.Generator, cout: int):
    M = r.integers(-(2**24), 2**24, size=cout).astype(np.int32)
    B = r.integers(-(2**40), 2**40, size=cout).astype(np.int64)
    s = r.integers(20, 41, size=cout).astype(np.int32)
    return M, B, s


@settings(max_examples=30, deadline=None)
@given(conv=convs(), unsigned=st.booleans(), seed=gp.seeds)
def test_fused_requant_matches_reference(conv, unsigned, seed):
    """conv2d_int8_requant == requant32(conv2d_int8(...)) of the reference, every ISA."""
    xs, ws, stride, pad = conv
    r = gp.rng(seed)
    x, zp, w, bias = gp.conv_int8_operands(r, xs, ws, unsigned)
    M, B, s = _requant_params(r, ws[0])
    dtype = "uint8" if unsigned else "int8"
    prepared = {isa: _engine.prepare_conv2d_int8_weights(w, bias, zp, x_dtype=dtype, isa=isa)
                for isa in ISAS}
    out = check_op(
        lambda isa, threads, out: _engine.conv2d_int8_requant(
            x, prepared[isa], M, B, s, stride, pad, isa=isa, threads=threads, out=out
        ),
        lambda: int8_ops.requant32(int8_ops.conv2d_int8(x, w, bias, zp, stride, pad), M, B, s),
    )
    assert out.dtype == np.int8


# (shift range, |M| bound) of the prepared requant32 forms (csrc/kernels/requant/requant32_plan.h);
# "int64": int32-form channels and one with s = 40, so the tensor keeps the int64 kernel
RQ_FORMS = {"int32": ((0, 22), 2**30), "high32": ((32, 45), 2**31), "int64": ((0, 22), 2**30)}


@pytest.mark.parametrize("form", sorted(RQ_FORMS))
@settings(max_examples=15, deadline=None)
@given(cout=st.sampled_from([16, 64, 128]), k=st.sampled_from([1, 3, 7]), stride=st.integers(1, 2),
       seed=gp.seeds)
@example(cout=64, k=3, stride=2, seed=0)  # the 3x3 RGB stem: fewer kernel rows than tile pixels
def test_fused_requant_prepared_matches_reference(form, cout, k, stride, seed):
    """conv2d_int8_requant with the folded requant32 (as the engine runs it): on AVX-512 with
    Cout a multiple of 64 (AVX2: 16) the register tile requantises its accumulators (int32 and
    high32 forms; the int64 form goes through the per-row scratch); equal to the reference on
    every ISA. 27 columns: at stride 2 two whole 6-pixel tiles and a partial one (AVX-512
    requantises a tile's pixels while the next tile runs)."""
    (s_lo, s_hi), m_abs = RQ_FORMS[form]
    r = gp.rng(seed)
    x = gp.uint8(r, (1, 9, 27, 3))
    zp = r.integers(0, 256, size=3).astype(np.int32)
    w = gp.int8(r, (cout, k, k, 3))
    bias = r.integers(-(2**20), 2**20, size=cout).astype(np.int32)
    M = r.integers(-m_abs, m_abs, size=cout).astype(np.int32)
    s = r.integers(s_lo, s_hi + 1, size=cout).astype(np.int32)
    if form == "int64":
        M[0], s[0] = 2**30 - 1, 40  # a high32 channel among int32 ones
    # offsets that put the unsaturated window at the accumulators' range (|acc| < 2^21)
    B = (-M.astype(np.int64) * r.integers(-(2**20), 2**20, size=cout)).astype(np.int64)
    assert _engine.requant32_mode(M, B, s) == form
    prepared = {isa: _engine.prepare_conv2d_int8_weights(w, bias, zp, isa=isa) for isa in ISAS}
    want = int8_ops.requant32(int8_ops.conv2d_int8(x, w, bias, zp, stride, k // 2), M, B, s)
    check_op(  # check_op's out= (pre-filled with ~want): unwritten pixels fail
        lambda isa, threads, out: _engine.conv2d_int8_requant(
            x, prepared[isa], M, B, s, stride, k // 2, isa=isa, threads=threads, out=out,
            prepared=True,
        ),
        lambda: want,
    )


def test_fused_requant_stem_writes_out():
    r = gp.rng(3)
    x = gp.uint8(r, (2, 37, 41, 3))
    w = gp.int8(r, (64, 7, 7, 3))
    bias = r.integers(-1000, 1000, size=64).astype(np.int32)
    zp = np.array([124, 116, 104], np.int32)
    M, B, s = _requant_params(r, 64)
    p = _engine.prepare_conv2d_int8_weights(w, bias, zp)
    out = np.empty((2, 19, 21, 64), np.int8)
    got = _engine.conv2d_int8_requant(x, p, M, B, s, 2, 3, threads=2, out=out)
    assert got is out or np.shares_memory(got, out)
    want = int8_ops.requant32(int8_ops.conv2d_int8(x, w, bias, zp, 2, 3), M, B, s)
    np.testing.assert_array_equal(out, want)


def test_fused_requant_rejects_bad_parameters():
    p = _engine.prepare_conv2d_int8_weights(np.ones((4, 3, 3, 2), np.int8), np.zeros(4, np.int32),
                                            np.zeros(2, np.int32))
    x = np.zeros((1, 5, 5, 2), np.uint8)
    M, B, s = np.ones(4, np.int32), np.zeros(4, np.int64), np.full(4, 3, np.int32)
    with pytest.raises(ValueError, match=r"^M"):
        _engine.conv2d_int8_requant(x, p, M[:3].copy(), B, s)
    with pytest.raises(ValueError, match=r"^B"):
        _engine.conv2d_int8_requant(x, p, M, B.astype(np.int32), s)
    with pytest.raises(ValueError, match=r"^s"):
        _engine.conv2d_int8_requant(x, p, M, B, np.full(4, 63, np.int32))
    with pytest.raises(ValueError, match=r"^B: channel 0: .*overflows int64"):
        _engine.conv2d_int8_requant(x, p, np.full(4, 2**31 - 1, np.int32),
                                    np.full(4, 3 * 2**61, np.int64), s)
    with pytest.raises(ValueError, match=r"^out"):
        _engine.conv2d_int8_requant(x, p, M, B, s, 1, 1, out=np.empty((1, 5, 5, 4), np.int32))
