"""The op manifest: plain, consistent data; the committed C++ header is generated from it and
up to date; the Python schemas, fixed-point rules and reference parameter order come from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bnnflow.graph import SCHEMAS, fixedpoint, gen_manifest, manifest
from bnnflow.graph.schema import INFER, Condition
from bnnflow.reference.interpreter import reference_table

OPS = {e["type"]: e for e in manifest.OPS}
#: The committed header, found from this checkout (the package may be installed elsewhere).
HEADER = Path(__file__).resolve().parents[2] / "csrc" / "engine" / "op_manifest.h"


def test_generated_header_is_up_to_date() -> None:
    """csrc/engine/op_manifest.h is what `python -m bnnflow.graph.gen_manifest` writes now:
    after editing the manifest, regenerate it (the C++ validator is built from it)."""
    assert HEADER.is_file(), HEADER
    assert HEADER.read_text(encoding="utf-8") == gen_manifest.render(), (
        "csrc/engine/op_manifest.h is out of date: run python -m bnnflow.graph.gen_manifest")


def test_check_mode_refuses_a_stale_header(tmp_path: Path, capsys: pytest.CaptureFixture
                                           ) -> None:
    out = tmp_path / "op_manifest.h"
    assert gen_manifest.main(["--check", "--output", str(out)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert gen_manifest.main(["--output", str(out)]) == 0
    assert gen_manifest.main(["--check", "--output", str(out)]) == 0
    out.write_text(out.read_text(encoding="utf-8").replace("kMaxKernel = 64", "kMaxKernel = 65"))
    assert gen_manifest.main(["--check", "--output", str(out)]) == 1


def test_manifest_is_plain_data() -> None:
    """JSON round-trips it unchanged: no code, no shared mutable surprises."""
    doc = {"limits": manifest.LIMITS, "accumulators": manifest.ACCUMULATORS,
           "ops": manifest.OPS}
    assert json.loads(json.dumps(doc)) == doc


def _check_cond(op: dict, when: dict | None) -> None:
    """A condition names a string attr of the op (unconditional itself) and some of its
    choices."""
    if when is None:
        return
    assert set(when) == {"attr", "in"}, op["type"]
    attr = next(a for a in op["attrs"] if a["name"] == when["attr"])
    assert attr["kind"] == "str" and "when" not in attr, op["type"]
    assert when["in"] and set(when["in"]) <= set(attr["choices"]), op["type"]


@pytest.mark.parametrize("op_type", list(OPS))
def test_entries_are_consistent(op_type: str) -> None:
    op = OPS[op_type]
    assert set(op) <= {"type", "kind", "inputs", "attrs", "params", "fixed_point", "doc",
                       "macs"}, op_type
    camel = "k" + "".join(part.capitalize() for part in op_type.split("_"))
    assert op["kind"] == camel and op["doc"], op_type
    assert op.get("macs", "none") in ("binary", "int8", "float", "none")
    assert isinstance(op["inputs"], int) or set(op["inputs"]) == {"min"}
    names = [a["name"] for a in op["attrs"]]
    roles = [p["role"] for p in op["params"]]
    assert len(set(names)) == len(names) and len(set(roles)) == len(roles), op_type
    for a in op["attrs"]:
        assert a["kind"] in ("int", "str"), op_type
        if a["kind"] == "int":
            assert a["lo"] <= a["hi"] and "choices" not in a, (op_type, a)
        else:
            assert a["choices"] and "lo" not in a, (op_type, a)
        _check_cond(op, a.get("when"))
    for p in op["params"]:
        assert p["dtypes"] and set(p["dtypes"]) <= set(gen_manifest._DTYPES), (op_type, p)
        _check_cond(op, p.get("when"))
    fp = op.get("fixed_point")
    if fp is not None:
        assert fp["accumulator"] in manifest.ACCUMULATORS
        _check_cond(op, fp.get("when"))
        for b in fp["branches"]:
            assert set(b["mults"]) | {b["bias"], "s"} <= set(roles), (op_type, b)


def test_kinds_and_types_are_unique() -> None:
    assert len({e["kind"] for e in manifest.OPS}) == len(manifest.OPS)
    assert list(SCHEMAS) == list(OPS) == list(INFER)


def test_conditions() -> None:
    cond = Condition("epilogue", ("int8", "float"))
    assert cond({"epilogue": "int8"}) and cond({"epilogue": "float"})
    assert not cond({"epilogue": "packed"}) and not cond({}) and not cond({"epilogue": 8})
    assert not cond({"epilogue": ["int8"]})
    assert SCHEMAS["bconv"].attrs["out_groups"].when == Condition("epilogue", ("packed",))
    assert SCHEMAS["pack"].attrs["groups"].when is None


def test_fixed_point_rules_come_from_the_manifest() -> None:
    assert set(fixedpoint.RULES) == {t for t, e in OPS.items() if "fixed_point" in e}
    assert fixedpoint.rule_for("requant32", {})[0] == fixedpoint.INT32_IN_INT64
    assert fixedpoint.rule_for("bdense", {"epilogue": "int8"})[0] == fixedpoint.INT8_IN_INT32
    assert fixedpoint.rule_for("bdense", {"epilogue": "packed"}) is None
    assert fixedpoint.rule_for("dequant", {}) is None
    pwl = fixedpoint.rule_for("pwl", {})[1]
    assert [(b.mults, b.bias) for b in pwl] == [(("Mp",), "Bp"), (("Mn",), "Bn")]


def test_reference_takes_params_in_manifest_order() -> None:
    """Every op has a reference function; the positional ones take the params in the
    manifest's order (checked through a recording function's arguments)."""
    assert set(reference_table()) == set(OPS)
    from bnnflow.reference import interpreter

    seen: list[tuple] = []
    fn = interpreter._positional(lambda *a: seen.append(a), interpreter._roles("pwl"))
    fn(None, ["x"], {r: r for r in ("s", "Bn", "Mn", "Bp", "Mp", "t")}, [])
    assert seen == [("x", "t", "Mp", "Bp", "Mn", "Bn", "s")]
