"""Pass (int8 data-flow): the model must be a calibrated stage-2 (BNN-Clip) model.

Checks, naming the module at fault:

- every ``Int8Point`` is enabled and has observed calibration data (``enable_int8`` →
  ``calibrate`` → ``freeze_int8``) that is not all zeros (an empty observed range has no
  scale; ``freeze_int8(model, min_scale=...)`` gives it one);
- every ``QConv2d`` / ``QLinear`` fake-quantises its weights (int8 weights are what the engine
  runs) and no plain ``nn.Conv2d`` / ``nn.Linear`` is left;
- the input goes through an ``InputNormalize`` (the engine's input is uint8 pixels).
"""

from __future__ import annotations

from bnnflow.convert.lgraph import LGraph

STAGE2 = "the int8 data-flow needs a stage-2 model: enable_int8(model), calibrate(...), " \
         "freeze_int8(model); or export with dataflow='float'"


def run(graph: LGraph) -> None:
    for node in graph:
        if node.kind != "int8point":
            continue
        if node.attrs["mode"] == "disabled":
            raise node.error(f"Int8Point is disabled (a stage-1 model); {STAGE2}")
        if node.attrs["observed"] == 0:
            raise node.error(f"Int8Point was never calibrated (it has observed no data); "
                             f"{STAGE2}")
        if node.attrs.get("empty"):
            n = node.attrs["observed"]
            raise node.error(
                f"Int8Point saw only zeros on its {n} calibration batch{'es' * (n != 1)} "
                "(max|x| = 0): its observed range is empty, so it has no int8 scale. Calibrate "
                "on more or different batches (inputs for which this tensor is non-zero, e.g. "
                "a ReLU whose input was never positive), or freeze with a minimum scale: "
                "freeze_int8(model, min_scale=...)")
    for node in graph:
        if node.kind not in ("conv", "linear"):
            continue
        if node.attrs["qweight"] is None:
            raise node.error(f"{node.attrs['op']} has no int8 weights; use bnnflow.nn."
                             f"{'QConv2d' if node.kind == 'conv' else 'QLinear'} for the "
                             "int8 data-flow")
        if node.attrs["qmode"] == "disabled":
            raise node.error(f"weight fake-quant is disabled; {STAGE2}")
    users = graph.consumers(graph.input)
    if not users or any(u.kind != "normalize" for u in users):
        raise graph.node(graph.input).error(
            "the int8 data-flow needs an InputNormalize on the input (uint8 pixels)", "input")
