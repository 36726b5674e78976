"""The ``out=`` argument of every engine binding (csrc/bindings/out_arg.h).

For each binding: ``out=`` gives the result computed without it, written into ``out`` and
returned as the very same object; a wrong dtype, shape, contiguity, a read-only array, a
non-array and memory overlapping an input raise ``ValueError`` naming ``out``; elementwise ops
accept ``out`` being exactly one of their same-typed inputs (in place).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from bnnflow import _engine as e


@dataclass
class Case:
    """``fn(*args, **kw)``; ``in_place``: indices of args ``out`` may be exactly."""

    fn: Callable[..., np.ndarray]
    args: list
    kw: dict = field(default_factory=dict)
    in_place: tuple[int, ...] = ()


def _rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _i8(shape):
    return _rng().integers(-128, 128, size=shape, dtype=np.int8)


def _f32(shape):
    return _rng().standard_normal(shape).astype(np.float32)


def _vec(c, dtype, lo, hi):
    return _rng().integers(lo, hi, size=c).astype(dtype)


C = 37  # channels, not a multiple of any vector width


def _packed(shape, words):
    return _rng().integers(0, 2**32, size=(*shape, words), dtype=np.uint32)


def _cases() -> dict[str, Case]:
    i8 = _i8((2, 5, 6, C))
    f = _f32((2, 5, 6, C))
    m16, b32, s = _vec(C, np.int16, -64, 64), _vec(C, np.int32, -999, 999), _vec(C, np.int32, 0, 8)
    cin, cout = 40, 33
    wb = _rng().integers(0, 2**32, size=(cout, 3, 3, 2), dtype=np.uint32) & np.uint32(0xFF)
    wb[..., 0] = _rng().integers(0, 2**32, size=(cout, 3, 3), dtype=np.uint32)
    bw = e.prepare_bconv_weights(wb, cin, 1)
    xb = _packed((1, 6, 7), 2) & np.array([0xFFFFFFFF, 0xFF], np.uint32)
    dw = e.prepare_bdense_weights(np.ascontiguousarray(wb[:, 0, 0, :]), cin)
    wc = _i8((9, 3, 3, C))
    return {
        "pack_bits": Case(e.pack_bits, [i8, _vec(C, np.int32, -5, 5)]),
        "pack_bits_f32": Case(e.pack_bits, [f, _f32(C)]),
        "bconv2d": Case(e.bconv2d, [xb, bw], {"padding": 1, "epilogue": "int8",
                                              "multiplier": _vec(cout, np.int16, -9, 9),
                                              "offset": _vec(cout, np.int32, -99, 99),
                                              "shift": _vec(cout, np.int32, 0, 4)}),
        "bconv2d_packed": Case(e.bconv2d, [xb, bw], {"epilogue": "packed",
                                                     "threshold": _vec(cout, np.int32, -9, 9)}),
        "bdense": Case(e.bdense, [xb[0, 0].copy(), dw], {"epilogue": "float", "scale": _f32(cout),
                                                  "bias": _f32(cout)}),
        "maxpool_packed": Case(e.maxpool_packed, [xb, 3, 2, 1]),
        "requant": Case(e.requant, [i8, m16, b32, s], in_place=(0,)),
        "requant32": Case(e.requant32, [_vec(C * 4, np.int32, -9999, 9999).reshape(4, C),
                                        _vec(C, np.int32, -99, 99), b32.astype(np.int64), s]),
        "add_int8": Case(e.add_int8, [i8, _i8((2, 5, 6, C)) // 3, m16, m16[::-1].copy(), b32, s],
                         in_place=(0, 1)),
        "add_f32": Case(e.add_f32, [f, f[::-1].copy()], in_place=(0, 1)),
        "pwl_int8": Case(e.pwl_int8, [i8, _vec(C, np.int32, -9, 9), m16, b32, m16 // 2, b32, s],
                         in_place=(0,)),
        "pwl_f32": Case(e.pwl_f32, [f, *(_f32(C) for _ in range(5))], in_place=(0,)),
        "maxpool_int8": Case(e.maxpool_int8, [i8, 3, 2, 1]),
        "sumpool_int8": Case(e.sumpool_int8, [i8, 3, 1, 1]),
        "maxpool_f32": Case(e.maxpool_f32, [f, 2, 2]),
        "avgpool_f32": Case(e.avgpool_f32, [f, 3, 2, 1]),
        "global_sumpool_int8": Case(e.global_sumpool_int8, [i8]),
        "global_avgpool_f32": Case(e.global_avgpool_f32, [f]),
        "conv2d_int8": Case(e.conv2d_int8, [i8, wc, _vec(9, np.int32, -99, 99),
                                            _vec(C, np.int32, -5, 5)], {"padding": 1}),
        "conv2d_int8_prepared": Case(
            e.conv2d_int8, [i8, e.prepare_conv2d_int8_weights(
                wc, _vec(9, np.int32, -99, 99), _vec(C, np.int32, -5, 5), x_dtype="int8")],
            {"padding": 1}),
        "dwconv2d_int8": Case(e.dwconv2d_int8, [i8, _i8((2 * C, 3, 3)),
                                                _vec(2 * C, np.int32, -99, 99),
                                                _vec(C, np.int32, -5, 5)], {"stride": 2}),
        "dense_int8": Case(e.dense_int8, [i8[:, 0, 0].copy(), _i8((11, C)),
                                          _vec(11, np.int32, -9, 9)]),
        "concat": Case(lambda *xs, **kw: e.concat(list(xs), **kw), [i8, i8[..., :5].copy()]),
        "concat_f32": Case(lambda *xs, **kw: e.concat(list(xs), **kw), [f, f[..., :3].copy()]),
        "scale_bias": Case(e.scale_bias, [f, _f32(C), _f32(C)], in_place=(0,)),
        "dequant": Case(e.dequant, [_vec(C * 4, np.int32, -9999, 9999).reshape(4, C),
                                    _f32(C), _f32(C)]),
        "conv2d_f32": Case(e.conv2d_f32, [f, _f32((9, 3, 3, C)), _f32(9)], {"padding": 1}),
        "conv2d_f32_prepared": Case(
            e.conv2d_f32, [f, e.prepare_conv2d_f32_weights(_f32((9, 3, 3, C)), _f32(9))],
            {"stride": 2}),
        "dense_f32": Case(e.dense_f32, [f[:, 0, 0].copy(), _f32((11, C)), _f32(11)]),
    }


CASES = _cases()
NAMES = sorted(CASES)


def _call(case: Case, args=None, **kw) -> np.ndarray:
    return case.fn(*(case.args if args is None else args), **case.kw, **kw)


def _out_error(case: Case, out, args=None) -> str:
    with pytest.raises(ValueError, match=r"^out: ") as info:
        _call(case, args, out=out)
    return str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_out_is_written_and_returned(name: str) -> None:
    case = CASES[name]
    expect = _call(case)
    out = np.full_like(expect, 7)
    got = _call(case, out=out)
    assert got is out
    np.testing.assert_array_equal(out, expect)
    again = _call(case, out=None)
    assert again is not out
    np.testing.assert_array_equal(again, expect)


@pytest.mark.parametrize("name", NAMES)
def test_out_bad_dtype_shape_layout(name: str) -> None:
    case = CASES[name]
    expect = _call(case)
    wrong = np.float32 if expect.dtype != np.float32 else np.int32
    assert "dtype" in _out_error(case, np.empty(expect.shape, wrong))
    bigger = (*expect.shape[:-1], expect.shape[-1] + 1)
    assert "shape" in _out_error(case, np.empty(bigger, expect.dtype))
    assert "shape" in _out_error(case, np.empty(expect.shape[1:], expect.dtype))
    strided = np.empty((*expect.shape[:-1], 2 * expect.shape[-1]), expect.dtype)[..., ::2]
    assert "C-contiguous" in _out_error(case, strided)
    frozen = np.empty_like(expect)
    frozen.flags.writeable = False
    assert "writeable" in _out_error(case, frozen)
    assert "numpy.ndarray" in _out_error(case, expect.tolist())


def _overlapping(arg: np.ndarray, result: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``arg`` and an out for ``result`` in one buffer, the out starting 64 bytes
    into the copy (so they overlap without being the same array)."""
    buf = np.zeros(arg.nbytes + result.nbytes + 128, np.uint8)
    arg_view = buf[:arg.nbytes].view(arg.dtype).reshape(arg.shape)
    arg_view[...] = arg
    start = min(64, arg.nbytes - 1) // 4 * 4
    out = buf[start:start + result.nbytes].view(result.dtype).reshape(result.shape)
    return arg_view, out


@pytest.mark.parametrize("name", NAMES)
def test_out_overlapping_an_input_is_rejected(name: str) -> None:
    case = CASES[name]
    expect = _call(case)
    for i, arg in enumerate(case.args):
        if not isinstance(arg, np.ndarray) or arg.nbytes < 8:
            continue
        args = list(case.args)
        args[i], out = _overlapping(arg, expect)
        assert "overlaps" in _out_error(case, out, args)


@pytest.mark.parametrize("name", [n for n in NAMES if CASES[n].in_place])
def test_out_in_place(name: str) -> None:
    case = CASES[name]
    expect = _call(case)
    for i in case.in_place:
        args = [a.copy() if isinstance(a, np.ndarray) else a for a in case.args]
        got = _call(case, args, out=args[i])
        assert got is args[i]
        np.testing.assert_array_equal(got, expect)


@pytest.mark.parametrize("name", ["maxpool_int8", "conv2d_int8", "dense_f32"])
def test_out_equal_to_input_rejected_where_not_elementwise(name: str) -> None:
    case = CASES[name]
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in case.args]
    expect = _call(case)
    assert args[0].nbytes >= expect.nbytes
    head = args[0].reshape(-1).view(np.uint8)[:expect.nbytes]
    assert "overlaps" in _out_error(case, head.view(expect.dtype).reshape(expect.shape), args)
