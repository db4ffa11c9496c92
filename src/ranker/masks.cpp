#include "ranker/masks.h"

#include <algorithm>
#include <cmath>

namespace ranker {

// compute_drop_codes takes the smallest code among the rules that fire as the first in
// pipeline order, so the codes must be numbered in that order.
static_assert(kDropDuplicate < kDropBlocked && kDropBlocked < kDropUnlabeledSynthetic &&
                  kDropUnlabeledSynthetic < kDropMinorAge && kDropMinorAge < kDropMinorHarmful &&
                  kDropMinorHarmful < kDropFraudRisk && kDropFraudRisk < kDropPriceParity &&
                  kDropPriceParity < kDropDeletedTag,
              "drop codes follow the pipeline order of step 1");

bool in_curfew(std::int64_t start, std::int64_t end, std::int64_t m) {
    if (start < end) return start <= m && m < end;
    if (start > end) return m >= start || m < end;
    return false;  // start == end: no curfew
}

int request_status(const UserView& u, const Policy& p) {
    if (!u.minor_mode) return kStatusOk;
    if (in_curfew(p.curfew_start, p.curfew_end, u.local_minute)) return kStatusCurfew;
    // Band = smallest key K with age < K; unknown age takes the smallest key (strictest band).
    for (std::size_t b = 0; b < p.daily_keys.size(); ++b) {
        if (u.age == -1 || u.age < p.daily_keys[b]) {
            return u.usage_minutes_today >= p.daily_minutes[b] ? kStatusDailyLimit : kStatusOk;
        }
    }
    return kStatusOk;  // at or above every key: no daily limit
}

void compute_drop_codes(const CandidatesView& c, const UserView& u, const Policy& p, FirstIndexTable& first_index,
                        std::uint8_t* drop, std::int64_t* counts) {
    const bool age_gate = u.minor_mode || u.age != -1;
    // int, not int64: SSE2 has no 64-bit compare, so the age pass would not vectorise.
    const int age_eff = u.age == -1 ? 0 : static_cast<int>(u.age);  // validated: [0, 150]
    const double risk_threshold = u.elderly ? std::min(p.max_risk, p.elderly_max_risk) : p.max_risk;
    const bool risk_rule = risk_threshold < 1.0;
    const bool parity_rule = p.price_action == PriceAction::kDrop && c.offered_price != nullptr;
    // Opted-out requests must not depend on deleted tags at all (Art. 17).
    const bool deleted_rule = u.personalized && p.deletion_suppress && u.deleted_count > 0;
    std::vector<std::int32_t> deleted;
    if (deleted_rule) {
        deleted.assign(u.deleted_tags, u.deleted_tags + u.deleted_count);
        std::sort(deleted.begin(), deleted.end());
    }

    // Drop codes are numbered in pipeline order, so "the first rule that removes an item" is the
    // smallest code among the rules that fire. Each rule is one branch-free pass that lowers
    // drop[i] to its code (the compiler vectorises most of them); the if/else-if chain they replace
    // cost a mispredicted branch about every other item. kNone stands for "no rule yet".
    const std::size_t n = static_cast<std::size_t>(c.n);
    constexpr std::uint8_t kNone = 0xff;
    auto lower_to = [&](std::uint8_t code, auto&& fires) {
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint8_t candidate = fires(i) ? code : kNone;
            drop[i] = candidate < drop[i] ? candidate : drop[i];
        }
    };
    if (c.flags != nullptr) {
        // The three rules on the flags come first in pipeline order, so one pass over the flags
        // writes the first codes: blocked, else unlabeled synthetic, else (minor mode) harmful.
        // One pass instead of a fill and three passes of lower_to over the same column.
        const std::uint32_t* flags = c.flags;
        const std::uint32_t harmful_rule = u.minor_mode ? static_cast<std::uint32_t>(kFlagHarmful) : 0u;
        // Bit 0 shifted to the top and tested there: GCC 12 turns "(flags & 1) != 0" into a bool
        // conversion it does not vectorise.
        static_assert(kFlagBlocked == 1, "the blocked test reads bit 0");
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t f = flags[i];
            const std::uint8_t harmful = (f & harmful_rule) != 0u ? std::uint8_t{kDropMinorHarmful} : kNone;
            const std::uint8_t synthetic = (f & (kFlagSynthetic | kFlagSyntheticLabeled)) == kFlagSynthetic
                                               ? std::uint8_t{kDropUnlabeledSynthetic}
                                               : harmful;
            drop[i] = (f << 31) != 0u ? std::uint8_t{kDropBlocked} : synthetic;
        }
    } else {
        std::fill(drop, drop + n, kNone);
    }
    if (age_gate && c.min_age != nullptr) {
        const std::uint8_t* min_age = c.min_age;  // min_age 0 never exceeds age_eff >= 0
        lower_to(kDropMinorAge, [&](std::size_t i) { return static_cast<int>(min_age[i]) > age_eff; });
    }
    if (risk_rule) {
        const float* risk = c.fraud_risk;
        lower_to(kDropFraudRisk, [&](std::size_t i) { return static_cast<double>(risk[i]) > risk_threshold; });
    }
    if (parity_rule) {
        // A missing price (NaN) never violates (masks.h).
        // Everything the test reads is copied into locals: drop is a byte array, so the
        // compiler must assume a store to it can change p.abs_tol, and would not vectorise.
        const double* offered = c.offered_price;
        const double* reference = c.reference_price;
        const double abs_tol = p.abs_tol, rel_tol = p.rel_tol;
        lower_to(kDropPriceParity,
                 [&](std::size_t i) { return violates_parity(offered[i], reference[i], abs_tol, rel_tol); });
    }
    // Duplicates come first in pipeline order; every item is inserted, in index order, so the
    // table maps each id to its lowest index.
    for (std::size_t i = 0; i < n; ++i)
        if (first_index.insert(static_cast<std::int32_t>(i)) != static_cast<std::int32_t>(i)) drop[i] = kDropDuplicate;
    // Deleted tags last of step 1 and the costliest test: only for items no rule has removed.
    if (deleted_rule) {
        for (std::size_t i = 0; i < n; ++i) {
            if (drop[i] != kNone) continue;
            // Each bound read once and clamped to the tag list: validated, but the caller's
            // memory, which another thread may write while we run.
            const std::int64_t begin = std::max<std::int64_t>(c.tag_indptr[i], 0);
            const std::int64_t end = std::min<std::int64_t>(c.tag_indptr[i + 1], c.tag_count);
            for (std::int64_t j = begin; j < end; ++j)
                if (std::binary_search(deleted.begin(), deleted.end(), c.tag_ids[j])) {
                    drop[i] = kDropDeletedTag;
                    break;
                }
        }
    }
    for (std::size_t i = 0; i < n; ++i) drop[i] = drop[i] == kNone ? std::uint8_t{kEligible} : drop[i];
    // SEEN is the last rule: mark the first occurrence of each seen id if nothing removed it
    // earlier (later occurrences are already DUPLICATE).
    for (index_t s = 0; s < u.seen_count; ++s) {
        const std::int32_t i = first_index.find(u.seen[s]);
        if (i != FirstIndexTable::kAbsent && drop[i] == kEligible) drop[i] = kDropSeen;
    }
    // Four histograms, item i counted in histogram i % 4, summed at the end: with one, most
    // items increment the same (eligible) counter and wait on the item before's store, and a
    // branch around that counter was mispredicted at every dropped item. Every drop[i] is one
    // of the codes set above, all below kDropCodeCount (kNone was replaced).
    std::int64_t histogram[4][kDropCodeCount] = {};
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        ++histogram[0][drop[i]];
        ++histogram[1][drop[i + 1]];
        ++histogram[2][drop[i + 2]];
        ++histogram[3][drop[i + 3]];
    }
    for (; i < n; ++i) ++histogram[0][drop[i]];
    for (int code = 0; code < kDropCodeCount; ++code)
        counts[code] = histogram[0][code] + histogram[1][code] + histogram[2][code] + histogram[3][code];
}

}  // namespace ranker
