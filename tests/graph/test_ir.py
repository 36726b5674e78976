"""IR dataclasses: sizes, packing words, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bnnflow.graph import TensorInfo, graph_from_json, numpy_dtype, validate, words_per_group
from bnnflow.graph.examples import tiny_float_model, tiny_int8_model


@pytest.mark.parametrize(("c", "g", "words"), [(1, 1, 1), (32, 1, 1), (33, 1, 2), (64, 2, 1),
                                               (96, 2, 2), (6, 3, 1), (256, 1, 8), (66, 2, 2)])
def test_words_per_group(c: int, g: int, words: int) -> None:
    assert words_per_group(c, g) == words


def test_tensor_info_sizes() -> None:
    t = TensorInfo("p", "packed", (-1, 4, 5, 3), channels=70, groups=1)
    assert t.nbytes(2) == 2 * 4 * 5 * 3 * 4
    assert t.logical_channels == 70
    assert t.concrete_shape(7) == (7, 4, 5, 3)
    assert TensorInfo("a", "int8", (-1, 3)).nbytes(5) == 15
    assert numpy_dtype("packed") == np.uint32
    assert numpy_dtype("float32") == np.float32


@pytest.mark.parametrize("model", [tiny_int8_model, tiny_float_model])
def test_json_round_trip(model) -> None:
    graph, tensors = model(np.random.default_rng(1))
    text = json.dumps(graph.to_json())
    again = graph_from_json(json.loads(text))
    assert again.to_json() == graph.to_json()
    assert validate(again, tensors) == validate(graph, tensors)


def test_input_spec_batch_none_is_minus_one() -> None:
    from bnnflow.graph import InputSpec

    spec = InputSpec("x", (None, 4, 4, 3), "uint8")
    assert spec.shape == (-1, 4, 4, 3)
    assert spec.to_json()["shape"] == [-1, 4, 4, 3]
