"""What this CPU offers the engine: features, the ISAs it can run, the one in use."""

from __future__ import annotations

import os

from bnnflow import _engine


def cpu_features() -> dict[str, bool]:
    """Features the engine dispatches on (AVX2, AVX-512 F/BW/VPOPCNTDQ/BITALG/VNNI, NEON)."""
    return dict(_engine.cpu_features())


def supported_isas() -> list[str]:
    """ISAs this CPU runs, scalar first (a subset of scalar, avx2, avx512, neon)."""
    return list(_engine.supported_isas())


def active_isa() -> str:
    """The ISA kernels run on: the best supported, or ``BNNFLOW_ISA`` if set.

    Raises:
        RuntimeError: ``BNNFLOW_ISA`` names an ISA this CPU cannot run.
        ValueError: ``BNNFLOW_ISA`` is not an ISA name.

    Both messages start with ``BNNFLOW_ISA=<value>:`` so that the cause is plain.
    """
    try:
        return _engine.active_isa()
    except (ValueError, RuntimeError) as err:
        value = os.environ.get("BNNFLOW_ISA")
        if value is None:
            raise
        # The engine may name the variable itself ("BNNFLOW_ISA=x is not supported ...").
        text = str(err).removeprefix(f"BNNFLOW_ISA={value} ").removeprefix("is ")
        raise type(err)(f"BNNFLOW_ISA={value}: {text}") from err
