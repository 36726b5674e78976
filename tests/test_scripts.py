"""scripts/_lib.sh installs the build requirements that pyproject.toml declares."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_build_requirements_match_pyproject():
    """`install_into_venv` builds with --no-build-isolation, so it must install exactly the
    [build-system] requires of pyproject.toml into .venv."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^\[build-system\]\nrequires = \[(.*?)\]", pyproject, flags=re.M)
    assert block is not None
    declared = re.findall(r'"([^"]+)"', block.group(1))
    lib = (ROOT / "scripts" / "_lib.sh").read_text()
    line = re.search(r"^\s*local reqs=\((.*)\)$", lib, flags=re.M)
    assert line is not None
    assert re.findall(r'"([^"]+)"', line.group(1)) == declared
