"""Write the op manifest (:mod:`bnnflow.graph.manifest`) as the C++ header the native
validator is built from, ``csrc/engine/op_manifest.h``.

Run from a source checkout after editing the manifest::

    PYTHONPATH=src python -m bnnflow.graph.gen_manifest          # rewrite the header
    PYTHONPATH=src python -m bnnflow.graph.gen_manifest --check  # exit 1 if it is stale

The header is committed, so C++ builds need no Python; tests/graph/test_manifest.py fails
when it differs from what this module generates.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bnnflow.graph import manifest

_RELATIVE = Path("csrc") / "engine" / "op_manifest.h"
#: The header's place: in the source checkout this module runs from (src/bnnflow/graph ->
#: the repository root), else under the current directory (an installed package).
HEADER = (Path(__file__).resolve().parents[3] / _RELATIVE
          if (Path(__file__).resolve().parents[3] / "csrc").is_dir() else Path.cwd() / _RELATIVE)

_DTYPES = {"int8": "kInt8", "uint8": "kUint8", "int16": "kInt16", "int32": "kInt32",
           "int64": "kInt64", "uint32": "kUint32", "float32": "kFloat32"}

_PROLOGUE = """\
// GENERATED from src/bnnflow/graph/manifest.py by `python -m bnnflow.graph.gen_manifest`.
// Do not edit: change the manifest and regenerate (tests/graph/test_manifest.py fails when
// this file is out of date). The op manifest is the one declarative definition of every op:
// inputs, attrs, params, their conditions, MAC kind, doc and fixed-point rule (numerics §3);
// csrc/engine/validate.cc checks files against it, bnnflow.graph.schema builds SCHEMAS from it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/container.h"

namespace bnnflow::engine {

"""

_TYPES = """\
namespace manifest {

// When an attr / param / rule applies: always (attr empty), or when the string attr `attr`
// is one of `in`.
struct Cond {
  std::string attr;
  std::vector<std::string> in;
};

struct Attr {
  std::string name;
  bool is_int;
  std::int64_t lo, hi;               // ints, inclusive
  std::vector<std::string> choices;  // strings
  bool nullable;
  Cond when;
  bool sides;  // an int, or a list [top, left, bottom, right] of such ints (padding)
};

struct Param {
  std::string role;
  std::vector<DType> dtypes;
  bool ranged;
  std::int64_t lo, hi;  // every element within [lo, hi] when ranged
  Cond when;
};

// v = sum_i M_i[c]*x_i + B[c] + 2^(s-1) must fit `bits` signed bits for x_i in [in_lo, in_hi].
struct Branch {
  std::vector<std::string> mults;
  std::string bias, formula;
};
struct FixedPoint {
  bool present;
  int bits;
  std::int64_t in_lo, in_hi;
  std::vector<Branch> branches;
  Cond when;
};

struct Op {
  std::string type;
  OpKind kind;
  int inputs;     // exact count, or the minimum when variadic
  bool variadic;
  std::vector<Attr> attrs;
  std::vector<Param> params;
  FixedPoint fixed_point;
  std::string macs, doc;
};

"""


def _int(v: int) -> str:
    """A C++ int64 literal (INT64_C keeps large negatives well-formed)."""
    return f"INT64_C({v})" if abs(v) > 2**31 - 1 else str(v)


def _str(s: str) -> str:
    """A C++ string literal; non-ASCII as UTF-8 octal escapes."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode())
    return '"' + "".join(out) + '"'


def _strs(items: Sequence[str]) -> str:
    return "{" + ", ".join(_str(s) for s in items) + "}"


def _cond(when: Mapping[str, Any] | None) -> str:
    return "{}" if when is None else "{" + _str(when["attr"]) + ", " + _strs(when["in"]) + "}"


def _attr(a: Mapping[str, Any]) -> str:
    is_int = a["kind"] == "int"
    lo, hi = (a["lo"], a["hi"]) if is_int else (0, 0)
    return (f"{{{_str(a['name'])}, {str(is_int).lower()}, {_int(lo)}, {_int(hi)}, "
            f"{_strs(a.get('choices', []))}, {str(a.get('nullable', False)).lower()}, "
            f"{_cond(a.get('when'))}, {str(a.get('sides', False)).lower()}}}")


def _param(p: Mapping[str, Any]) -> str:
    dtypes = "{" + ", ".join(f"DType::{_DTYPES[d]}" for d in p["dtypes"]) + "}"
    lo, hi = p.get("range", (0, 0))
    return (f"{{{_str(p['role'])}, {dtypes}, {str('range' in p).lower()}, {_int(lo)}, "
            f"{_int(hi)}, {_cond(p.get('when'))}}}")


def _fixed_point(fp: Mapping[str, Any] | None) -> str:
    if fp is None:
        return "{false, 0, 0, 0, {}, {}}"
    acc = manifest.ACCUMULATORS[fp["accumulator"]]
    lo, hi = acc["input_range"]
    branches = ", ".join(f"{{{_strs(b['mults'])}, {_str(b['bias'])}, {_str(b['formula'])}}}"
                         for b in fp["branches"])
    return (f"{{true, {acc['bits']}, {_int(lo)}, {_int(hi)}, {{{branches}}}, "
            f"{_cond(fp.get('when'))}}}")


def _op(e: Mapping[str, Any]) -> str:
    n = e["inputs"]
    inputs, variadic = (n, "false") if isinstance(n, int) else (n["min"], "true")
    ind = "       "
    attrs = (",\n" + ind + " ").join(_attr(a) for a in e["attrs"])
    params = (",\n" + ind + " ").join(_param(p) for p in e["params"])
    return (f"      {{{_str(e['type'])}, OpKind::{e['kind']}, {inputs}, {variadic},\n"
            f"{ind}{{{attrs}}},\n"
            f"{ind}{{{params}}},\n"
            f"{ind}{_fixed_point(e.get('fixed_point'))},\n"
            f"{ind}{_str(e.get('macs', 'none'))}, {_str(e.get('doc', ''))}}}")


def _camel(name: str) -> str:
    return "k" + "".join(part.capitalize() for part in name.lower().split("_"))


def render() -> str:
    """The header's text for the current manifest."""
    limits = "".join(f"inline constexpr std::int64_t {_camel(k)} = {_int(v)};\n"
                     for k, v in manifest.LIMITS.items())
    enum = "// One per op, in catalogue order.\nenum class OpKind : std::uint8_t {\n"
    line = " "
    for e in manifest.OPS:
        if len(line) + len(e["kind"]) + 2 > 99:
            enum += line.rstrip() + "\n"
            line = " "
        line += f" {e['kind']},"
    enum += line + "\n};\n"
    ops = ",\n".join(_op(e) for e in manifest.OPS)
    table = ("// Every op, in catalogue order (OpKind order).\n"
             "inline const std::vector<Op>& ops() {\n"
             "  static const std::vector<Op> table = {\n"
             f"{ops},\n"
             "  };\n  return table;\n}\n\n}  // namespace manifest\n")
    return (_PROLOGUE + limits + "\n" + enum + "\n" + _TYPES + table
            + "\n}  // namespace bnnflow::engine\n")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bnnflow.graph.gen_manifest",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if the header differs from the manifest instead of writing it")
    ap.add_argument("--output", type=Path, default=HEADER, help=f"default: {HEADER}")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python -m bnnflow.graph.gen_manifest",
                  file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
