#include "ranker/masks.h"

#include <algorithm>
#include <cmath>

namespace ranker {

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
    const std::int64_t age_eff = u.age == -1 ? 0 : u.age;
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

    for (index_t i = 0; i < c.n; ++i) {
        std::uint8_t code = kEligible;
        const std::uint32_t f = c.flags != nullptr ? c.flags[i] : 0u;
        if (first_index.insert(static_cast<std::int32_t>(i)) != static_cast<std::int32_t>(i)) {
            code = kDropDuplicate;
        } else if (f & kFlagBlocked) {
            code = kDropBlocked;
        } else if ((f & kFlagSynthetic) && !(f & kFlagSyntheticLabeled)) {
            code = kDropUnlabeledSynthetic;
        } else if (age_gate && c.min_age != nullptr && static_cast<std::int64_t>(c.min_age[i]) > age_eff) {
            code = kDropMinorAge;  // min_age 0 never exceeds age_eff >= 0
        } else if (u.minor_mode && (f & kFlagHarmful)) {
            code = kDropMinorHarmful;
        } else if (risk_rule && static_cast<double>(c.fraud_risk[i]) > risk_threshold) {
            code = kDropFraudRisk;
        } else if (parity_rule && violates_parity(c.offered_price[i], c.reference_price[i], p.abs_tol, p.rel_tol)) {
            // No isnan() test first: a missing price never violates (masks.h), and that test was
            // a branch mispredicted on about one item in five.
            code = kDropPriceParity;
        } else if (deleted_rule) {
            for (std::int64_t j = c.tag_indptr[i]; j < c.tag_indptr[i + 1]; ++j)
                if (std::binary_search(deleted.begin(), deleted.end(), c.tag_ids[j])) {
                    code = kDropDeletedTag;
                    break;
                }
        }
        drop[i] = code;
    }
    // SEEN is the last rule: mark the first occurrence of each seen id if nothing removed it
    // earlier (later occurrences are already DUPLICATE).
    for (index_t s = 0; s < u.seen_count; ++s) {
        const std::int32_t i = first_index.find(u.seen[s]);
        if (i != FirstIndexTable::kAbsent && drop[i] == kEligible) drop[i] = kDropSeen;
    }
    // Most items are eligible: count those in a register (++counts[code] on one hot counter is a
    // store-to-load chain per item) and only the rare drops through memory.
    std::fill(counts, counts + kDropCodeCount, 0);
    std::int64_t eligible = 0;
    const index_t n = c.n;
    for (index_t i = 0; i < n; ++i) {
        const std::uint8_t code = drop[i];
        if (code == kEligible) {
            ++eligible;
        } else {
            ++counts[code];
        }
    }
    counts[kEligible] = eligible;
}

}  // namespace ranker
