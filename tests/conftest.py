"""Hypothesis profiles: `ci` (derandomized: the same examples on every run, so a landing never
fails on a newly drawn example; `.ci/run` selects it) and the default, random, for development.
Select with HYPOTHESIS_PROFILE=ci."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
