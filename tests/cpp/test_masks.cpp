#include <algorithm>
#include <array>
#include <cmath>

#include "check.h"
#include "fixture.h"
#include "ranker/masks.h"
#include "ranker/pipeline.h"
#include "ranker/score.h"
#include "ranker/validate.h"

using namespace ranker;
using ranker_test::Request;

TEST(masks, curfew_wraps_around_midnight) {
    // 22:00 -> 06:00
    CHECK(!in_curfew(1320, 360, 1319));
    CHECK(in_curfew(1320, 360, 1320));
    CHECK(in_curfew(1320, 360, 1439));
    CHECK(in_curfew(1320, 360, 0));
    CHECK(in_curfew(1320, 360, 359));
    CHECK(!in_curfew(1320, 360, 360));
    // 13:00 -> 14:00, no wrap
    CHECK(!in_curfew(780, 840, 779));
    CHECK(in_curfew(780, 840, 780));
    CHECK(!in_curfew(780, 840, 840));
    // start == end: never
    CHECK(!in_curfew(600, 600, 600));
}

TEST(masks, daily_limit_bands) {
    Policy p;
    p.daily_keys = {8, 16, 18};
    p.daily_minutes = {40, 60, 120};
    UserView u;
    u.minor_mode = true;
    u.local_minute = 12 * 60;
    u.age = 10;
    u.usage_minutes_today = 59;
    CHECK(request_status(u, p) == kStatusOk);
    u.usage_minutes_today = 60;
    CHECK(request_status(u, p) == kStatusDailyLimit);
    u.age = -1;  // unknown: strictest band (40)
    u.usage_minutes_today = 40;
    CHECK(request_status(u, p) == kStatusDailyLimit);
    u.age = 18;  // at or above every key: no limit
    u.usage_minutes_today = 100000;
    CHECK(request_status(u, p) == kStatusOk);
    u.local_minute = 23 * 60;  // curfew wins over the limit
    CHECK(request_status(u, p) == kStatusCurfew);
    u.minor_mode = false;
    CHECK(request_status(u, p) == kStatusOk);
}

namespace {
// A 12-year-old in minor mode at noon who deleted tag 42, and a policy with every rule of step 1
// on: fraud max_risk 0.5, price parity drop (abs_tol 0.1, rel_tol 0.01), deleted tags suppressed.
Policy every_rule_of_step_one(Request& r) {
    r.deleted = {42};
    r.user_flags.minor_mode = true;
    r.user_flags.age = 12;
    r.user_flags.local_minute = 12 * 60;
    r.user_flags.usage_minutes_today = 0;
    Policy p = ranker_test::prior_policy(5);
    p.max_risk = 0.5;
    p.price_action = PriceAction::kDrop;
    p.abs_tol = 0.1;
    p.rel_tol = 0.01;
    p.deletion_suppress = true;
    validate_policy(p);
    return p;
}
}  // namespace

// One item per rule, plus items that trip several rules (the first in pipeline order wins).
TEST(masks, drop_codes_follow_pipeline_order) {
    Request r;
    r.d = 1;
    r.add({1}, 1);                                          // 0 eligible
    r.add({1}, 1);                                          // 1 duplicate of 0 (set below)
    r.add({1}, 1, 0, kFlagBlocked | kFlagSynthetic);        // 2 blocked beats synthetic
    r.add({1}, 1, 0, kFlagSynthetic);                       // 3 unlabeled synthetic
    r.add({1}, 1, 0, kFlagSynthetic | kFlagSyntheticLabeled);  // 4 labeled: fine
    r.add({1}, 1, 0, kFlagHarmful);                         // 5 minor harmful (min_age below)
    r.add({1}, 1);                                          // 6 minor age (min_age 18) beats risk
    r.add({1}, 1);                                          // 7 fraud risk
    r.add({1}, 1);                                          // 8 price parity
    r.add({1}, 1);                                          // 9 deleted tag
    r.add({1}, 1);                                          // 10 seen
    r.add({1}, 1, 0, kFlagBlocked);                         // 11 duplicate of 10 beats blocked
    r.item_id[1] = r.item_id[0];
    r.item_id[11] = r.item_id[10];
    const std::size_t n = r.item_id.size();
    r.min_age.assign(n, 0);
    r.min_age[6] = 18;
    r.fraud_risk.assign(n, 0.1f);
    r.fraud_risk[6] = 0.9f;
    r.fraud_risk[7] = 0.9f;
    r.offered.assign(n, 10.0);
    r.reference.assign(n, 10.0);
    r.offered[8] = 10.5;
    r.offered[9] = std::nan("");  // no price: never a parity violation
    r.tag_indptr.assign(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
        r.tag_ids.push_back(i == 9 ? 42 : 1);
        r.tag_indptr[i + 1] = static_cast<std::int64_t>(r.tag_ids.size());
    }
    r.seen = {r.item_id[10], 999999};
    Policy p = every_rule_of_step_one(r);  // 10.5 vs 10: |0.5| > 0.1 + 0.01 * 10
    const RankOutput out = rank(r.candidates(), r.user(), p, 5, nullptr);
    const std::vector<std::uint8_t> expected = {kEligible,     kDropDuplicate,  kDropBlocked,     kDropUnlabeledSynthetic,
                                                kEligible,     kDropMinorHarmful, kDropMinorAge,  kDropFraudRisk,
                                                kDropPriceParity, kDropDeletedTag, kDropSeen,     kDropDuplicate};
    CHECK(out.drop_codes == expected);
    CHECK(out.counts[kEligible] == 2);
    CHECK(out.counts[kDropDuplicate] == 2);
    CHECK(out.counts[kDropSeen] == 1);
    CHECK(out.status == kStatusOk);
    CHECK(out.indices.size() == 2);

    // Opted out: deleted tags must not matter at all.
    r.user_flags.personalized = false;
    const RankOutput opted_out = rank(r.candidates(), r.user(), p, 5, nullptr);
    CHECK(opted_out.drop_codes[9] == kEligible);

    // Curfew: no slots, drop codes still recorded, pins NOT_SERVED.
    r.user_flags.local_minute = 23 * 60;
    p.pins = {{r.item_id[0], 0}};
    const RankOutput curfew = rank(r.candidates(), r.user(), p, 5, nullptr);
    CHECK(curfew.status == kStatusCurfew);
    CHECK(curfew.indices.empty());
    CHECK(curfew.drop_codes[2] == kDropBlocked);
    CHECK(curfew.pin_status.size() == 1 && curfew.pin_status[0] == kPinNotServed);
}

// Every combination of the eight rules of step 1, one item each: the code is always the first
// rule in pipeline order that the item trips, whichever others it trips too.
TEST(masks, every_combination_of_rules_gives_the_first_in_pipeline_order) {
    enum Rule { kDuplicate, kBlocked, kUnlabeled, kAge, kHarmful, kRisk, kParity, kDeleted, kRuleCount };
    const std::uint8_t code_of[kRuleCount] = {kDropDuplicate,   kDropBlocked,   kDropUnlabeledSynthetic,
                                              kDropMinorAge,    kDropMinorHarmful, kDropFraudRisk,
                                              kDropPriceParity, kDropDeletedTag};
    constexpr unsigned kCombinations = 1u << kRuleCount;
    Request r;
    r.d = 1;
    r.tag_indptr.push_back(0);
    std::vector<std::uint8_t> expected;
    auto add = [&](std::uint32_t flags, bool age, bool risk, bool parity, bool deleted, std::uint8_t code) {
        r.add({1}, 1, 0, flags);
        r.min_age.push_back(age ? 18 : 0);
        r.fraud_risk.push_back(risk ? 0.9f : 0.1f);
        r.offered.push_back(parity ? 20.0 : 10.0);
        r.reference.push_back(10.0);
        r.tag_ids.push_back(deleted ? 42 : 1);
        r.tag_indptr.push_back(static_cast<std::int64_t>(r.tag_ids.size()));
        expected.push_back(code);
    };
    // First one clean item per combination: the earlier holder of each id a duplicate repeats.
    for (unsigned combination = 0; combination < kCombinations; ++combination)
        add(0, false, false, false, false, kEligible);
    for (unsigned combination = 0; combination < kCombinations; ++combination) {
        auto trips = [&](Rule rule) { return ((combination >> rule) & 1u) != 0; };
        std::uint32_t flags = 0;
        if (trips(kBlocked)) flags |= kFlagBlocked;
        if (trips(kUnlabeled)) flags |= kFlagSynthetic;
        if (trips(kHarmful)) flags |= kFlagHarmful;
        std::uint8_t code = kEligible;
        for (int rule = kRuleCount - 1; rule >= 0; --rule)
            if (trips(static_cast<Rule>(rule))) code = code_of[rule];
        add(flags, trips(kAge), trips(kRisk), trips(kParity), trips(kDeleted), code);
        if (trips(kDuplicate)) r.item_id.back() = r.item_id[combination];
    }
    const Policy p = every_rule_of_step_one(r);  // 20 vs 10 violates parity, 10 vs 10 does not
    const RankOutput out = rank(r.candidates(), r.user(), p, 5, nullptr);
    CHECK(out.drop_codes == expected);
    for (int code = 0; code < kDropCodeCount; ++code)
        CHECK(out.counts[static_cast<std::size_t>(code)] ==
              std::count(expected.begin(), expected.end(), static_cast<std::uint8_t>(code)));
}

TEST(masks, price_parity_is_exact_double) {
    // 0.1 + 0.2 * 1.0 = 0.30000000000000004 in double; |1.3 - 1.0| = 0.30000000000000004 too.
    CHECK(!violates_parity(1.3, 1.0, 0.1, 0.2));
    CHECK(violates_parity(1.31, 1.0, 0.1, 0.2));
    CHECK(!violates_parity(5.0, 5.0, 0.0, 0.0));
    // No price on either side never violates (compute_drop_codes relies on it).
    CHECK(!violates_parity(std::nan(""), 1.0, 0.0, 0.0));
    CHECK(!violates_parity(1.0, std::nan(""), 0.0, 0.0));
    CHECK(!violates_parity(std::nan(""), std::nan(""), 0.0, 0.0));
}

// The stages after validation read the caller's arrays again, with the GIL released, so another
// thread may have rewritten tag_indptr in between. Whatever it holds then, the tag walks of the
// deleted-tag rule and of the tag sums stay inside tag_ids and the n items (ASan and UBSan check
// the reads in CI's sanitizer runs); here every item lists tag 42 at position i, and the bounds
// are the validated ones rewritten in three ways.
TEST(masks, tag_walks_stay_inside_the_arrays_whatever_tag_indptr_holds_after_validation) {
    Request r;
    r.d = 1;
    const std::size_t n = 6;
    for (std::size_t i = 0; i < n; ++i) r.add({1}, 1);
    r.tag_ids.assign(n, 42);
    r.tag_indptr.resize(n + 1);
    for (std::size_t i = 0; i <= n; ++i) r.tag_indptr[i] = static_cast<std::int64_t>(i);
    r.user_tags = {42};
    r.user_weights = {1.0};
    Policy p = ranker_test::prior_policy(5);
    p.w_tag = 1.0;
    p.deletion_suppress = true;
    validate_policy(p);
    const std::vector<std::vector<std::int64_t>> rewritten = {
        {0, 0, 0, 0, 0, 0, 0},                  // every item empty: the score walk must stop at item n - 1
        {0, 1, 1 << 30, 2, -5, 6, 1LL << 40},   // bounds far outside the tag list, and decreasing
        {3, 2, 1, 0, 6, 5, 4},
    };
    const std::vector<std::int64_t> validated = r.tag_indptr;
    for (const std::vector<std::int64_t>& indptr : rewritten) {
        for (const bool deleted : {false, true}) {
            r.deleted = deleted ? std::vector<std::int32_t>{42} : std::vector<std::int32_t>{};
            r.tag_indptr = validated;
            validate_request(r.candidates(), r.user(), p, 5, nullptr);
            r.tag_indptr = indptr;
            const CandidatesView c = r.candidates();
            const UserView u = r.user();
            FirstIndexTable first_index(c.item_id, c.n);
            std::vector<std::uint8_t> drop(n);
            std::array<std::int64_t, kDropCodeCount> counts{};
            compute_drop_codes(c, u, p, first_index, drop.data(), counts.data());
            for (const std::uint8_t code : drop) CHECK(code == kEligible || code == kDropDeletedTag);
            const std::vector<double> dot(n, 0.0);
            std::vector<double> scores(n);
            std::vector<std::uint8_t> tag_match(n);
            compute_scores(c, u, p, active_tags(u, p), drop.data(), dot.data(), scores.data(), tag_match.data());
            for (std::size_t i = 0; i < n; ++i) CHECK(std::isfinite(scores[i]) && tag_match[i] <= 1);
        }
    }
}
