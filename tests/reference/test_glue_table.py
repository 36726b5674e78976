"""The interpreter table of glue ops calls the references with the IR's roles and attrs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from bnnflow.reference import float_ops, int8_ops
from bnnflow.reference.glue_table import glue_ops

GLUE_TYPES = {
    "requant", "requant32", "add", "pwl", "maxpool_int8", "sumpool_int8",
    "global_sumpool_int8", "conv2d_int8", "dwconv2d_int8", "dense_int8", "concat", "dequant",
    "scale_bias", "add_f32", "pwl_f32", "conv2d_f32", "dense_f32", "maxpool_f32",
    "avgpool_f32", "global_avgpool_f32", "flatten",
}  # fmt: skip


def test_table_has_every_glue_op_type():
    assert set(glue_ops()) == GLUE_TYPES


def test_entries_pass_roles_and_attrs():
    r = np.random.default_rng(0)
    table = glue_ops()
    x = r.integers(-128, 128, (2, 5, 5, 3)).astype(np.int8)
    p = {
        "M": np.full(3, 300, np.int16),
        "B": np.arange(3, dtype=np.int32),
        "s": np.full(3, 7, np.int8),
    }
    np.testing.assert_array_equal(
        table["requant"](SimpleNamespace(attrs={}), [x], p, []),
        int8_ops.requant(x, p["M"], p["B"], p["s"]),
    )
    op = SimpleNamespace(attrs={"kernel": 3, "stride": 2, "padding": 1})
    np.testing.assert_array_equal(
        table["maxpool_int8"](op, [x], {}, []), int8_ops.maxpool_int8(x, 3, 2, 1)
    )
    conv = {
        "weights": r.integers(-128, 128, (4, 3, 3, 3)).astype(np.int8),
        "bias": np.arange(4, dtype=np.int32),
        "zp": np.zeros(3, np.int32),
    }
    op = SimpleNamespace(attrs={"stride": 2, "padding": 1})
    np.testing.assert_array_equal(
        table["conv2d_int8"](op, [x], conv, []),
        int8_ops.conv2d_int8(x, conv["weights"], conv["bias"], conv["zp"], 2, 1),
    )
    xf = x.astype(np.float32)
    np.testing.assert_array_equal(
        table["add_f32"](None, [xf, xf], {}, []), float_ops.add_f32(xf, xf)
    )
    assert table["flatten"](None, [x], {}, []).shape == (2, 75)
    assert table["concat"](None, [x, x], {}, []).shape == (2, 5, 5, 6)
