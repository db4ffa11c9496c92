#include "ranker/validate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "ranker/kernels.h"

namespace ranker {

std::string format_value(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    return buf;
}

void fail(const std::string& field, const std::string& detail) { throw InvalidInput(field + ": " + detail); }

namespace {

std::string at(index_t i) { return "value at index " + std::to_string(i); }

// The checks below first reduce a branch-free "bad" flag over the whole column (the compiler
// vectorises these loops), and only on failure look for the first offending index.
void check_finite_floats(const float* v, index_t len, const char* field, const char* what) {
    std::uint32_t bad = 0;
    for (index_t i = 0; i < len; ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, v + i, sizeof bits);
        bad |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (bad == 0) return;
    for (index_t i = 0; i < len; ++i)
        if (!std::isfinite(v[i]))
            fail(field, at(i) + " is " + format_value(v[i]) + "; " + what + " must be finite");
}

void check_candidates(const CandidatesView& c) {
    if (c.n < 0 || c.n > std::numeric_limits<std::int32_t>::max() - 1)
        fail("candidates.item_id", "at most 2147483646 candidates are supported, got " + std::to_string(c.n));
    if (c.d < 1) fail("candidates.embedding", "needs at least one column (d >= 1), got d=" + std::to_string(c.d));
    if (c.n > 0 && (c.item_id == nullptr || c.embedding == nullptr || c.prior == nullptr))
        throw std::logic_error("ranker: CandidatesView without item_id/embedding/prior");
    check_finite_floats(c.prior, c.n, "candidates.prior", "prior");
    if ((c.tag_indptr == nullptr && c.tag_ids != nullptr) || (c.tag_indptr != nullptr && c.tag_ids == nullptr && c.tag_count > 0))
        fail("candidates.tags", "tag_indptr and tag_ids must both be given or both be None");
    if (c.tag_indptr != nullptr) {
        if (c.tag_indptr[0] != 0)
            fail("candidates.tags", "tag_indptr must start at 0, got " + std::to_string(c.tag_indptr[0]));
        bool decreasing = false;
        for (index_t i = 0; i < c.n; ++i) decreasing |= c.tag_indptr[i + 1] < c.tag_indptr[i];
        for (index_t i = 0; decreasing && i < c.n; ++i)
            if (c.tag_indptr[i + 1] < c.tag_indptr[i])
                fail("candidates.tags", "tag_indptr must be non-decreasing, but tag_indptr[" + std::to_string(i + 1) +
                                            "] = " + std::to_string(c.tag_indptr[i + 1]) + " < tag_indptr[" +
                                            std::to_string(i) + "] = " + std::to_string(c.tag_indptr[i]));
        if (c.tag_indptr[c.n] != c.tag_count)
            fail("candidates.tags", "tag_indptr must end at len(tag_ids) = " + std::to_string(c.tag_count) + ", got " +
                                        std::to_string(c.tag_indptr[c.n]));
        std::int32_t any_negative = 0;
        for (index_t j = 0; j < c.tag_count; ++j) any_negative |= c.tag_ids[j];
        for (index_t j = 0; any_negative < 0 && j < c.tag_count; ++j)
            if (c.tag_ids[j] < 0)
                fail("candidates.tags", "tag id at position " + std::to_string(j) + " is " +
                                            std::to_string(c.tag_ids[j]) + "; tag ids must be >= 0");
    }
    std::uint32_t flag_bits = 0;
    if (c.flags != nullptr)
        for (index_t i = 0; i < c.n; ++i) flag_bits |= c.flags[i];
    if ((flag_bits & ~static_cast<std::uint32_t>(kKnownFlags)) != 0)
        for (index_t i = 0; i < c.n; ++i)
            if ((c.flags[i] & ~static_cast<std::uint32_t>(kKnownFlags)) != 0)
                fail("candidates.flags", at(i) + " is " + std::to_string(c.flags[i]) +
                                             ", which sets bits outside the known flags (mask 31); an unknown "
                                             "flag may be a rule this version cannot apply");
    // Bitwise & and |, not && and ||: short-circuit operators keep the compiler from
    // vectorising the loop.
    std::uint32_t risk_bad = 0;
    if (c.fraud_risk != nullptr)
        for (index_t i = 0; i < c.n; ++i)
            risk_bad |= static_cast<std::uint32_t>(!((c.fraud_risk[i] >= 0.0f) & (c.fraud_risk[i] <= 1.0f)));
    if (risk_bad)
        for (index_t i = 0; i < c.n; ++i) {
            const float r = c.fraud_risk[i];
            if (!(r >= 0.0f && r <= 1.0f))  // also refuses NaN
                fail("candidates.fraud_risk", at(i) + " is " + format_value(r) + "; fraud_risk must be in [0, 1]");
        }
    if ((c.offered_price == nullptr) != (c.reference_price == nullptr))
        fail(c.offered_price == nullptr ? "candidates.offered_price" : "candidates.reference_price",
             "offered_price and reference_price must both be given or both be None");
    const double* prices[2] = {c.offered_price, c.reference_price};
    const char* names[2] = {"candidates.offered_price", "candidates.reference_price"};
    for (int which = 0; which < 2; ++which) {
        if (prices[which] == nullptr) continue;
        // NaN (no price) passes; anything else must be in [0, max finite]. A kernel: the
        // baseline x86-64 build cannot vectorise double comparisons into a flag, and this scalar
        // loop was 6% of the instructions of a feed-1k-window request.
        if (active_kernels().valid_prices(prices[which], static_cast<std::size_t>(c.n))) continue;
        for (index_t i = 0; i < c.n; ++i) {
            const double x = prices[which][i];
            if (std::isnan(x)) continue;  // NaN = no price
            if (!std::isfinite(x) || x < 0.0)
                fail(names[which], at(i) + " is " + format_value(x) + "; prices must be finite and >= 0 (NaN = no price)");
        }
    }
}

void check_user(const UserView& u, const CandidatesView& c) {
    if (u.d != c.d)
        fail("user.embedding", "has " + std::to_string(u.d) + " entries but candidates.embedding has d=" +
                                   std::to_string(c.d) + " columns; both must use the same dimension");
    check_finite_floats(u.embedding, u.d, "user.embedding", "user.embedding");
    std::vector<std::int32_t> ids(u.tag_ids, u.tag_ids + u.tag_count);
    for (index_t i = 0; i < u.tag_count; ++i) {
        if (u.tag_ids[i] < 0)
            fail("user.tags", "tag id at position " + std::to_string(i) + " is " + std::to_string(u.tag_ids[i]) +
                                  "; tag ids must be >= 0");
        if (!std::isfinite(u.tag_weights[i]))
            fail("user.tags", "weight at position " + std::to_string(i) + " is " + format_value(u.tag_weights[i]) +
                                  "; tag weights must be finite");
    }
    std::sort(ids.begin(), ids.end());
    const auto dup = std::adjacent_find(ids.begin(), ids.end());
    if (dup != ids.end()) fail("user.tags", "tag id " + std::to_string(*dup) + " appears more than once");
    for (index_t i = 0; i < u.deleted_count; ++i)
        if (u.deleted_tags[i] < 0)
            fail("user.deleted_tags", "tag id at position " + std::to_string(i) + " is " +
                                          std::to_string(u.deleted_tags[i]) + "; tag ids must be >= 0");
    if (u.age != -1 && (u.age < 0 || u.age > 150))
        fail("user.age", "is " + std::to_string(u.age) + "; age must be in [0, 150] or None");
    if (u.local_minute != -1 && (u.local_minute < 0 || u.local_minute >= 1440))
        fail("user.local_minute", "is " + std::to_string(u.local_minute) + "; local_minute must be in [0, 1440) or None");
    if (u.usage_minutes_today != -1 && u.usage_minutes_today < 0)
        fail("user.usage_minutes_today",
             "is " + std::to_string(u.usage_minutes_today) + "; usage_minutes_today must be >= 0 or None");
}

void check_history(const HistoryView& h, const CandidatesView& c) {
    if (h.h < 0) throw std::logic_error("ranker: HistoryView with negative length");
    if (h.embeddings == nullptr) return;
    if (h.d != c.d)
        fail("history.embeddings", "has " + std::to_string(h.d) + " columns but candidates.embedding has d=" +
                                       std::to_string(c.d) + "; both must use the same dimension");
    for (index_t r = 0; r < h.h; ++r)
        for (index_t j = 0; j < h.d; ++j) {
            const float x = h.embeddings[r * h.d + j];
            if (!std::isfinite(x))
                fail("history.embeddings", "value at row " + std::to_string(r) + ", column " + std::to_string(j) +
                                               " is " + format_value(x) + "; embeddings must be finite");
        }
}

// Fail closed: a rule that applies to this request but whose input is missing.
void check_required_fields(const CandidatesView& c, const UserView& u, const Policy& p, const HistoryView* history) {
    if (u.minor_mode) {
        if (c.min_age == nullptr) fail("candidates.min_age", "is required in minor mode (the age gate cannot be applied without it)");
        if (u.local_minute == -1) fail("user.local_minute", "is required in minor mode (the curfew cannot be applied without it)");
        if (u.usage_minutes_today == -1)
            fail("user.usage_minutes_today", "is required in minor mode (the daily limit cannot be applied without it)");
    }
    const double threshold = u.elderly ? std::min(p.max_risk, p.elderly_max_risk) : p.max_risk;
    if (threshold < 1.0 && c.fraud_risk == nullptr)
        fail("candidates.fraud_risk", "is required when the fraud-risk threshold (" + format_value(threshold) + ") is below 1");
    if (u.personalized && p.deletion_suppress && u.deleted_count > 0 && c.tag_indptr == nullptr)
        fail("candidates.tags", "are required to suppress items carrying the user's deleted tags");
    const bool has_history = history != nullptr && history->h > 0;
    if (p.category_window > 0) {
        if (c.category == nullptr) fail("candidates.category", "is required by the category window (scatter.category_window > 0)");
        if (has_history && history->categories == nullptr)
            fail("history.categories", "are required by the category window (scatter.category_window > 0)");
    }
    if (p.author_window > 0) {
        if (c.author == nullptr) fail("candidates.author", "is required by the author window (scatter.author_window > 0)");
        if (has_history && history->authors == nullptr)
            fail("history.authors", "are required by the author window (scatter.author_window > 0)");
    }
    if (p.category_share < 1.0 && c.category == nullptr)
        fail("candidates.category", "is required by the category share cap (scatter.category_share < 1)");
}

}  // namespace

void validate_policy(Policy& p) {
    std::sort(p.forbidden_tags.begin(), p.forbidden_tags.end());
    p.forbidden_tags.erase(std::unique(p.forbidden_tags.begin(), p.forbidden_tags.end()), p.forbidden_tags.end());
    if (p.k < 0) fail("policy.k", "is " + std::to_string(p.k) + "; k must be >= 0");
    for (double w : {p.w_rel, p.w_tag, p.w_prior})
        if (!std::isfinite(w)) fail("policy.weights", "weights must be finite, got " + format_value(w));
    // Art. 16/17: every served slot has a reason; with neither weight, an item matching no
    // interest tag would have none (python/ranker/policy.py refuses the same policies).
    if (p.w_rel == 0.0 && p.w_prior == 0.0)
        fail("policy.weights", "relevance and prior are both 0, so an item matching no interest tag would be served "
                               "with no reason to show; give relevance or prior a non-zero weight");
    if (p.daily_keys.size() != p.daily_minutes.size())
        fail("policy.daily_minutes", "needs one entry per daily_keys entry");
    for (std::size_t i = 1; i < p.daily_keys.size(); ++i)
        if (p.daily_keys[i] <= p.daily_keys[i - 1]) fail("policy.daily_minutes", "age keys must be strictly ascending");
    if (p.curfew_start < 0 || p.curfew_start >= 1440 || p.curfew_end < 0 || p.curfew_end >= 1440)
        fail("policy.curfew", "curfew_start and curfew_end must be minutes in [0, 1440)");
    if (std::isnan(p.max_risk) || std::isnan(p.elderly_max_risk)) fail("policy.fraud", "thresholds must not be NaN");
    if (!std::isfinite(p.abs_tol) || !std::isfinite(p.rel_tol) || p.abs_tol < 0 || p.rel_tol < 0)
        fail("policy.price", "abs_tol and rel_tol must be finite and >= 0");
    if (p.key_count < 0 || p.featured_min < 0) fail("policy.key_slots", "count and featured_min must be >= 0");
    if (!(p.mmr_lambda >= 0.0 && p.mmr_lambda <= 1.0))
        fail("policy.diversity", "lambda must be in [0, 1], got " + format_value(p.mmr_lambda));
    if (!std::isfinite(p.dpp_alpha)) fail("policy.diversity", "alpha must be finite");
    if (p.candidates < 0) fail("policy.diversity", "candidates (M) must be >= 0");
    if (p.category_window < 0 || p.author_window < 0 || p.category_max < 0 || p.author_max < 0)
        fail("policy.scatter", "windows and maxima must be >= 0");
    if (!(p.category_share > 0.0) || std::isinf(p.category_share))
        fail("policy.scatter", "category_share must be a finite number > 0, got " + format_value(p.category_share));
    std::vector<std::int64_t> slots, ids;
    for (const Pin& pin : p.pins) {
        if (pin.slot < 0) fail("policy.pins", "slot " + std::to_string(pin.slot) + " is negative");
        slots.push_back(pin.slot);
        ids.push_back(pin.item_id);
    }
    std::sort(slots.begin(), slots.end());
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(slots.begin(), slots.end()) != slots.end()) fail("policy.pins", "two pins name the same slot");
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) fail("policy.pins", "two pins name the same item_id");
}

void validate_request(const CandidatesView& c, const UserView& u, const Policy& p, std::int64_t k,
                      const HistoryView* history) {
    if (k < 0) fail("k", "is " + std::to_string(k) + "; k must be >= 0");
    check_candidates(c);
    check_user(u, c);
    if (history != nullptr) check_history(*history, c);
    check_required_fields(c, u, p, history);
}

void fail_embedding_row(const CandidatesView& c, index_t row) {
    const float* e = c.embedding + row * c.d;
    for (index_t j = 0; j < c.d; ++j)
        if (!std::isfinite(e[j]))
            fail("candidates.embedding", "value at row " + std::to_string(row) + ", column " + std::to_string(j) +
                                             " is " + format_value(e[j]) + "; embeddings must be finite");
    // Finite entries whose double sums overflowed cannot happen (|x|^2 < 1.2e77 per entry).
    throw std::logic_error("ranker: embedding row " + std::to_string(row) + " reported non-finite but all entries are finite");
}

}  // namespace ranker
