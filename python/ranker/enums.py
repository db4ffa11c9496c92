"""The enums of the data contract. Their integer values are shared with the C++ core
(src/ranker/types.h) and documented in docs/semantics.md; never renumber them."""

from __future__ import annotations

import enum


class Flag(enum.IntFlag):
    """Bits of ``Candidates.flags``."""

    BLOCKED = 1
    HARMFUL = 2
    SYNTHETIC = 4
    SYNTHETIC_LABELED = 8
    FEATURED = 16


#: Every bit the core knows; a flag word with any other bit set is refused.
KNOWN_FLAGS = int(Flag.BLOCKED | Flag.HARMFUL | Flag.SYNTHETIC | Flag.SYNTHETIC_LABELED | Flag.FEATURED)


class Drop(enum.IntEnum):
    """Per-candidate drop code: 0 = eligible, else the first rule (in pipeline order) that removed it."""

    ELIGIBLE = 0
    DUPLICATE = 1
    BLOCKED = 2
    UNLABELED_SYNTHETIC = 3
    MINOR_AGE = 4
    MINOR_HARMFUL = 5
    FRAUD_RISK = 6
    PRICE_PARITY = 7
    DELETED_TAG = 8
    SEEN = 9


class Reason(enum.IntFlag):
    """Why a slot holds its item (bits of ``RankResult.reasons``)."""

    PERSONAL = 1
    TAG_MATCH = 2
    PRIOR = 4
    NON_PERSONALIZED = 8
    EDITORIAL = 16
    FEATURED = 32
    DIVERSITY = 64
    SCATTER_RELAXED = 128
    PRICE_CLAMPED = 256
    PRICE_FLAGGED = 512
    SCORE_FILL = 1024


class Status(enum.IntEnum):
    """Request outcome. Anything but OK means no slots were served."""

    OK = 0
    CURFEW = 1
    DAILY_LIMIT = 2


class PinStatus(enum.IntEnum):
    """What happened to each editorial pin of the policy, in policy order."""

    PLACED = 0
    NOT_IN_CANDIDATES = 1
    INELIGIBLE = 2
    BEYOND_K = 3
    HARMFUL_IN_KEY_SLOT = 4
    UNREACHED = 5
    NOT_SERVED = 6


class Method(enum.IntEnum):
    """Selection objective (``[diversity] method``)."""

    NONE = 0
    MMR = 1
    DPP = 2


class PriceAction(enum.IntEnum):
    """What price parity does with a violating item (``[price] action``)."""

    OFF = 0
    DROP = 1
    CLAMP = 2
    FLAG = 3


#: DPP marginal gains at or below this end diversity selection (docs/semantics.md).
DPP_EPS = 1e-10
