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

__all__ = [
    "Candidates", "Comparison", "Drop", "Flag", "History", "PinStatus", "Policy", "RankResult", "Reason",
    "Status", "User", "__version__", "certify", "compare", "rank", "rank_batch",
]
