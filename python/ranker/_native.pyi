"""Type stub for ranker._native, the pybind11 binding of the C++ core (src/ranker).

Arrays must already have the exact dtype, be C-contiguous and aligned: the binding never
converts (TypeError for a wrong dtype, ValueError for shape/contiguity/length problems, each
naming the field). Values are validated at rank time (ValueError naming the field).
"""

from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

RankTuple = Tuple[
    int,                          # status (Status)
    npt.NDArray[np.int64],        # indices [t]
    npt.NDArray[np.float64],      # scores [t]
    npt.NDArray[np.uint32],       # reasons [t] (Reason bits)
    npt.NDArray[np.float64],      # prices [t] (NaN = no price)
    npt.NDArray[np.uint8],        # drop_codes [n] (Drop)
    npt.NDArray[np.int64],        # counts [10]
    npt.NDArray[np.uint8],        # pin_status [p] (PinStatus)
]

class CandidatesCore:
    def __init__(
        self,
        item_id: npt.NDArray[np.int64],
        embedding: npt.NDArray[np.float32],
        prior: npt.NDArray[np.float32],
        category: Optional[npt.NDArray[np.int32]] = None,
        author: Optional[npt.NDArray[np.int32]] = None,
        tag_indptr: Optional[npt.NDArray[np.int64]] = None,
        tag_ids: Optional[npt.NDArray[np.int32]] = None,
        flags: Optional[npt.NDArray[np.uint32]] = None,
        min_age: Optional[npt.NDArray[np.uint8]] = None,
        fraud_risk: Optional[npt.NDArray[np.float32]] = None,
        offered_price: Optional[npt.NDArray[np.float64]] = None,
        reference_price: Optional[npt.NDArray[np.float64]] = None,
    ) -> None: ...
    @property
    def n(self) -> int: ...
    @property
    def d(self) -> int: ...

class UserCore:
    def __init__(
        self,
        embedding: npt.NDArray[np.float32],
        tag_ids: Optional[npt.NDArray[np.int32]] = None,
        tag_weights: Optional[npt.NDArray[np.float64]] = None,
        personalized: bool = True,
        deleted_tags: Optional[npt.NDArray[np.int32]] = None,
        minor_mode: bool = False,
        age: int = -1,
        elderly: bool = False,
        local_minute: int = -1,
        usage_minutes_today: int = -1,
        seen: Optional[npt.NDArray[np.int64]] = None,
    ) -> None: ...
    @property
    def d(self) -> int: ...

class HistoryCore:
    def __init__(
        self,
        categories: Optional[npt.NDArray[np.int32]] = None,
        authors: Optional[npt.NDArray[np.int32]] = None,
        embeddings: Optional[npt.NDArray[np.float32]] = None,
    ) -> None: ...
    @property
    def h(self) -> int: ...

class PolicyCore:
    def __init__(
        self,
        k: int = 50,
        w_rel: float = 1.0,
        w_tag: float = 0.0,
        w_prior: float = 0.0,
        forbidden_tags: Optional[npt.NDArray[np.int32]] = None,
        deletion_suppress: bool = False,
        curfew_start: int = 1320,
        curfew_end: int = 360,
        daily_keys: Optional[npt.NDArray[np.int32]] = None,
        daily_minutes: Optional[npt.NDArray[np.int32]] = None,
        max_risk: float = 1.0,
        elderly_max_risk: float = 1.0,
        price_action: int = 1,
        abs_tol: float = 0.0,
        rel_tol: float = 0.0,
        key_count: int = 0,
        featured_min: int = 0,
        pin_item_ids: Optional[npt.NDArray[np.int64]] = None,
        pin_slots: Optional[npt.NDArray[np.int64]] = None,
        method: int = 0,
        mmr_lambda: float = 0.7,
        dpp_alpha: float = 1.0,
        candidates: int = 0,
        category_window: int = 0,
        category_max: int = 0,
        author_window: int = 0,
        author_max: int = 0,
        category_share: float = 1.0,
    ) -> None: ...
    @property
    def k(self) -> int: ...

def rank(
    cands: CandidatesCore,
    user: UserCore,
    policy: PolicyCore,
    k: int,
    history: Optional[HistoryCore] = None,
) -> RankTuple: ...

def rank_batch(
    requests: Sequence[Union[Tuple[CandidatesCore, UserCore], Tuple[CandidatesCore, UserCore, Optional[HistoryCore]]]],
    policy: PolicyCore,
    k: int,
    threads: int = 1,
) -> List[RankTuple]: ...

def simd_level() -> str: ...
