"""The op-check helper itself: an engine that leaves an element of ``out`` unwritten fails."""

import numpy as np
import pytest

from engine.op_check import check_op, unlike


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.uint32, np.float32])
def test_unlike_differs_everywhere(dtype):
    x = np.arange(-64, 64).astype(dtype)
    y = unlike(x)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert not np.any(y == x)


def test_a_kernel_that_skips_an_element_fails():
    want = np.arange(24, dtype=np.int8).reshape(2, 3, 4)

    def lazy(isa, threads, out):
        out.reshape(-1)[:-1] = want.reshape(-1)[:-1]  # the last element never written
        return out

    with pytest.raises(AssertionError, match="1 of 24 elements differ"):
        check_op(lazy, lambda: want)


def test_out_must_be_returned():
    want = np.zeros(4, np.float32)
    with pytest.raises(AssertionError, match="out= was not returned"):
        check_op(lambda isa, threads, out: want.copy(), lambda: want)


def test_engines_without_out_are_called_plainly():
    want = np.ones((2, 2), np.int32)
    assert check_op(lambda isa, threads: want.copy(), lambda: want) is not None
