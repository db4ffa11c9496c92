"""ranker: a compliant ranking core.

``rank()`` returns the top k of one request with every rule of the recommendation regulation
applied, on native C++ kernels (``backend="native"``) or on the pure-Python reference that is the
executable specification (``backend="reference"``); ``compare()`` checks one against the other.
See README.md, DESIGN.md and docs/semantics.md.
"""

from __future__ import annotations

from .api import rank, rank_batch
from .compare import Comparison, certify, compare
from .data import Candidates, History, User
from .enums import Drop, Flag, PinStatus, Reason, Status
from .policy import Policy
from .result import RankResult

__version__ = "0.1.0"

# Submodules a caller may reach as attributes after a plain ``import ranker``
# (``ranker.synthetic.make_request``, ``ranker.audit.AuditLog``), as the README writes them.
# Imported on first use (PEP 562), so ``import ranker`` does not load SQLite or the CLI's code.
_SUBMODULES = frozenset({"audit", "benchmark", "describe", "explain", "record", "reference", "synthetic"})


def __getattr__(name: str):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Candidates", "Comparison", "Drop", "Flag", "History", "PinStatus", "Policy", "RankResult", "Reason",
    "Status", "User", "__version__", "certify", "compare", "rank", "rank_batch",
]
