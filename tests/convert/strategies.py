"""Hypothesis strategies for random small models (see ``helpers.build_random``)."""

from __future__ import annotations

from hypothesis import strategies as st

LAYER = st.one_of(
    st.fixed_dictionaries({
        "kind": st.just("bconv"), "cout": st.integers(1, 40), "k": st.sampled_from([1, 3, 5]),
        "stride": st.sampled_from([1, 2]), "pad_mode": st.sampled_from(["zero", "one", "valid"]),
        "groups": st.sampled_from([1, 2, 4]), "quant": st.sampled_from(["ste", "approx", "shift"]),
        "weight_scale": st.sampled_from(["none", "channel_mean", "learnable"]),
        "relu": st.booleans(), "residual": st.booleans()}),
    st.fixed_dictionaries({"kind": st.just("chain")}),
    st.fixed_dictionaries({"kind": st.just("pwl"),
                           "pwl": st.sampled_from(["prelu", "rprelu", "two_sided", "relu"])}),
    st.fixed_dictionaries({"kind": st.just("maxpool"), "pool_k": st.sampled_from([2, 3])}),
    st.fixed_dictionaries({"kind": st.just("avgpool")}),
    st.fixed_dictionaries({"kind": st.just("signpool"), "pool_k": st.sampled_from([2, 3])}),
    st.fixed_dictionaries({"kind": st.just("conv1x1"), "cout": st.integers(1, 24)}),
    st.fixed_dictionaries({"kind": st.just("dwconv")}),
    st.fixed_dictionaries({"kind": st.just("bn")}),
)

MODEL = st.fixed_dictionaries({
    "seed": st.integers(0, 2**16), "cin": st.integers(1, 3), "c0": st.integers(2, 40),
    "size": st.integers(4, 9), "layers": st.lists(LAYER, min_size=1, max_size=4),
    "head": st.sampled_from(["gap", "flat", "binary"]), "classes": st.integers(2, 7),
    "batch": st.just(16),
})
