import pytest

from bnnflow import cpu


def test_scalar_is_always_supported_and_first():
    isas = cpu.supported_isas()
    assert isas[0] == "scalar"
    assert set(isas) <= {"scalar", "avx2", "avx512", "neon"}


def test_features_are_booleans_and_consistent_with_isas():
    f = cpu.cpu_features()
    assert all(isinstance(v, bool) for v in f.values())
    assert ("avx2" in cpu.supported_isas()) == f["avx2"]
    if "avx512" in cpu.supported_isas():
        assert f["avx512vpopcntdq"] and f["avx512vnni"]


def test_active_isa_defaults_to_the_best(monkeypatch):
    monkeypatch.delenv("BNNFLOW_ISA", raising=False)
    assert cpu.active_isa() == cpu.supported_isas()[-1]


def test_forced_isa(monkeypatch):
    monkeypatch.setenv("BNNFLOW_ISA", "scalar")
    assert cpu.active_isa() == "scalar"


def test_forced_unknown_isa_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("BNNFLOW_ISA", "sse9")
    with pytest.raises(ValueError, match=r"^BNNFLOW_ISA=sse9: .*unknown ISA 'sse9'"):
        cpu.active_isa()


def test_forced_unsupported_isa_is_a_clear_error(monkeypatch):
    missing = [i for i in ("avx2", "avx512", "neon") if i not in cpu.supported_isas()]
    monkeypatch.setenv("BNNFLOW_ISA", missing[0])
    with pytest.raises(RuntimeError, match=rf"^BNNFLOW_ISA={missing[0]}: .*not supported by "
                       "this CPU"):
        cpu.active_isa()
