"""Layer-for-layer view of a bnnflow model, comparable with the larq-zoo layer tables.

:func:`model_signature` runs the model once on a ``1 x C x H x W`` input with forward hooks
on its compute layers and returns, in module registration order, one
``(kind, kernel, stride, in_channels, out_channels, out_hw, binary)`` tuple per layer — the
same form as :func:`bnnflow.bench.peers.conv_signature` gives for the larq-zoo models.
``kind`` is ``conv``, ``depthwise`` (``groups == in == out``) or ``dense``. MACs per image:
``Ho·Wo·Cout·KH·KW·Cin/groups`` for convolutions, ``Cin·Cout`` for dense layers.

:func:`side_by_side` renders both lists as one Markdown table (``benchmarks/layer_compare.py``).
torch is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Signature = tuple[str, Any, Any, int, int, Any, bool]


def layer_macs(sig: Signature, groups: int = 1) -> int:
    """MACs per image of one signature row (``groups`` for grouped/depthwise convs)."""
    kind, kernel, _, cin, cout, out_hw, _ = sig
    if kind == "dense":
        return cin * cout
    if kind == "depthwise":
        groups = cin
    return out_hw[0] * out_hw[1] * cout * kernel[0] * kernel[1] * cin // groups


def model_layers(model: Any, input_shape: Sequence[int] = (3, 224, 224)) -> list[dict[str, Any]]:
    """Every compute layer of ``model`` (registration order): name, signature, groups, MACs."""
    import torch
    from torch import nn

    from bnnflow.nn import BinaryConv2d, BinaryLinear

    convs = (nn.Conv2d, BinaryConv2d)
    dense = (nn.Linear, BinaryLinear)
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, convs + dense)]
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [m.register_forward_hook(lambda _m, _i, out, n=n: shapes.__setitem__(n, out.shape))
             for n, m in layers]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for h in hooks:
            h.remove()
    rows = []
    for name, m in layers:
        binary = isinstance(m, (BinaryConv2d, BinaryLinear))
        if isinstance(m, dense):
            sig: Signature = ("dense", None, None, m.in_features, m.out_features, None, binary)
            groups = 1
        else:
            k = tuple(m.kernel_size) if isinstance(m.kernel_size, tuple) else (m.kernel_size,) * 2
            s = m.stride if isinstance(m.stride, tuple) else (m.stride, m.stride)
            groups = m.groups
            depthwise = groups > 1 and groups == m.in_channels == m.out_channels
            kind = "depthwise" if depthwise else "conv"
            out = shapes[name]
            sig = (kind, k, tuple(s), m.in_channels, m.out_channels, (out[2], out[3]), binary)
        rows.append({"name": name, "signature": sig, "groups": groups,
                     "macs": layer_macs(sig, groups)})
    return rows


def model_signature(model: Any, input_shape: Sequence[int] = (3, 224, 224)) -> list[Signature]:
    """The signature tuples of :func:`model_layers`."""
    return [r["signature"] for r in model_layers(model, input_shape)]


def _fmt(sig: Signature) -> str:
    kind, k, s, cin, cout, hw, binary = sig
    if kind == "dense":
        return f"dense {cin}→{cout}" + (" (bin)" if binary else "")
    return (f"{'B' if binary else 'R'} {kind} {k[0]}x{k[1]}/{s[0]} {cin}→{cout} @ {hw[0]}x{hw[1]}")


def side_by_side(larq: Sequence[dict[str, Any]], ours: Sequence[dict[str, Any]]) -> str:
    """A Markdown table: larq-zoo layer | bnnflow layer | same shape? | MACs of each.

    ``larq`` rows: the table entries with ``macs`` (name, signature as in ``conv_signature``,
    ``macs``); ``ours``: :func:`model_layers` rows. Rows pair up in order."""
    lines = ["| # | larq-zoo layer | shape (larq-zoo) | bnnflow layer | shape (bnnflow) | same | "
             "MACs larq-zoo | MACs bnnflow |", "|---:|---|---|---|---|---|---:|---:|"]
    n = max(len(larq), len(ours))
    tot_l = tot_o = 0
    for i in range(n):
        a = larq[i] if i < len(larq) else None
        b = ours[i] if i < len(ours) else None
        same = a is not None and b is not None and a["signature"] == b["signature"]
        tot_l += a["macs"] if a else 0
        tot_o += b["macs"] if b else 0
        lines.append(
            f"| {i} | {a['name'] if a else '—'} | {_fmt(a['signature']) if a else '—'} "
            f"| {b['name'] if b else '—'} | {_fmt(b['signature']) if b else '—'} "
            f"| {'yes' if same else '**no**'} | {a['macs'] if a else 0:,} "
            f"| {b['macs'] if b else 0:,} |")
    lines.append(f"| | total | | | | | {tot_l:,} | {tot_o:,} |")
    return "\n".join(lines)


def larq_layers(table: dict[str, Any], model: str) -> list[dict[str, Any]]:
    """The compute layers of a larq-zoo model from the layer table, with signatures."""
    from bnnflow.bench.peers import conv_signature

    sigs = conv_signature(table, model)
    entries = [e for e in table["models"][model]["layers"] if "macs" in e]
    return [{"name": e["name"], "signature": s, "macs": e["macs"]}
            for e, s in zip(entries, sigs, strict=True)]
