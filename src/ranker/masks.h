// Step 0 (request gates of minor mode) and step 1 (eligibility: one drop code per candidate,
// the first rule in pipeline order that removes it). docs/semantics.md, "Step 0" and "Step 1".
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "ranker/id_table.h"
#include "ranker/types.h"

namespace ranker {

// Curfew first, then the daily limit; kStatusOk outside minor mode.
int request_status(const UserView& u, const Policy& p);

// True when minute m falls in the curfew [start, end), wrapping past midnight when start > end.
bool in_curfew(std::int64_t start, std::int64_t end, std::int64_t m);

// Fills drop[0..n) and counts. first_index receives item id -> lowest candidate index (used
// later to resolve pins); it must be built over c.item_id.
void compute_drop_codes(const CandidatesView& c, const UserView& u, const Policy& p, FirstIndexTable& first_index,
                        std::uint8_t* drop, std::int64_t* counts);

// The price-parity violation test, IEEE double, evaluated in exactly this order (the build
// uses -ffp-contract=off so no FMA is fused in). False when either price is NaN (no price):
// the final comparison is then with NaN.
inline bool violates_parity(double offered, double reference, double abs_tol, double rel_tol) {
    // The reference's expression, abs(o - r) > abs_tol + rel_tol * abs(r); fabs is one bit mask
    // per lane when the drop-code pass is vectorised.
    return std::fabs(offered - reference) > abs_tol + rel_tol * std::fabs(reference);
}

}  // namespace ranker
