"""What this CPU offers the engine: features, the ISAs it can run, the one in use."""

from __future__ import annotations

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
    """
    return _engine.active_isa()
