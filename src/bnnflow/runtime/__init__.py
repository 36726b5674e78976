"""bnnflow.runtime: run ``.bnn`` models on the C++ engine. Never imports torch.

See docs/runtime.md.
"""

from __future__ import annotations

from bnnflow.runtime.interpreter import Interpreter
from bnnflow.runtime.summary import Summary, SummaryRow, summarize_file

__all__ = ["Interpreter", "Summary", "SummaryRow", "summarize_file"]
