// Step 3: pins, the pool, and slot-by-slot selection under the hard constraints (HARMFUL out
// of key slots, featured quota, category/author windows, category share cap).
//
// Selection never sorts the pool: it waits in buckets of scores (score_buckets.h), a bucket
// joins a binary heap keyed (objective desc, index asc) once its bound could reach the slot's
// winner, and the heap yields items best first; an item not allowed at the current slot is set
// aside and offered again at the next slot. With a lazy objective (diversity.h) a stale item
// popped from the top is updated and pushed back, so only the items that get near the top are
// ever evaluated.
#pragma once

#include <cstdint>
#include <vector>

#include "ranker/id_table.h"
#include "ranker/types.h"

namespace ranker {

struct SelectionInput {
    const CandidatesView* candidates = nullptr;
    const Policy* policy = nullptr;
    std::int64_t k = 0;
    const HistoryView* history = nullptr;  // may be null
    const std::uint8_t* drop = nullptr;    // [n]
    const double* scores = nullptr;        // [n], read for eligible items only
    const FirstIndexTable* first_index = nullptr;  // item id -> lowest candidate index
};

struct SelectionResult {
    std::vector<std::int32_t> slot_candidate;  // one per filled slot, slots 0..t-1
    // Selection's own reason bits per slot: EDITORIAL, DIVERSITY, SCATTER_RELAXED, SCORE_FILL.
    std::vector<std::uint32_t> slot_reasons;
    std::vector<std::uint8_t> pin_status;  // one per policy pin, policy order
};

void select_slots(const SelectionInput& in, SelectionResult& out);

}  // namespace ranker
