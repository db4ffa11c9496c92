#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "check.h"
#include "fixture.h"
#include "ranker/item_heap.h"
#include "ranker/pipeline.h"
#include "ranker/score_buckets.h"
#include "ranker/validate.h"

using namespace ranker;
using ranker_test::Request;

namespace {
std::vector<std::int64_t> ranked(Request& r, Policy p, std::int64_t k, const HistoryView* h = nullptr) {
    validate_policy(p);
    return rank(r.candidates(), r.user(), p, k, h).indices;
}
}  // namespace

TEST(select, category_window_interleaves) {
    Request r;
    r.d = 1;
    r.add({1}, 4, 7);
    r.add({1}, 3, 7);
    r.add({1}, 2, 8);
    r.add({1}, 1, 8);
    Policy p = ranker_test::prior_policy(4);
    p.category_window = 2;
    p.category_max = 1;
    CHECK((ranked(r, p, 4) == std::vector<std::int64_t>{0, 2, 1, 3}));
}

TEST(select, window_relaxes_when_nothing_fits) {
    Request r;
    r.d = 1;
    r.add({1}, 3, 7);
    r.add({1}, 2, 7);
    r.add({1}, 1, 7);
    Policy p = ranker_test::prior_policy(3);
    p.category_window = 2;
    p.category_max = 1;
    validate_policy(p);
    const RankOutput out = rank(r.candidates(), r.user(), p, 3, nullptr);
    CHECK((out.indices == std::vector<std::int64_t>{0, 1, 2}));
    CHECK(!(out.reasons[0] & kReasonScatterRelaxed));
    CHECK(out.reasons[1] & kReasonScatterRelaxed);
    CHECK(out.reasons[2] & kReasonScatterRelaxed);
}

TEST(select, window_continues_from_history_and_sees_pins_ahead) {
    Request r;
    r.d = 1;
    r.add({1}, 5, 7);  // 0
    r.add({1}, 4, 8);  // 1
    r.add({1}, 3, 9);  // 2
    r.add({1}, 2, 8);  // 3: pinned at slot 1
    Policy p = ranker_test::prior_policy(3);
    p.category_window = 2;
    p.category_max = 1;
    p.pins = {{r.item_id[3], 1}};
    r.history_categories = {7};  // the previous page ended with category 7
    r.history_authors = {0};
    const HistoryView h = r.history();
    // slot 0: item 0 (cat 7) collides with history; item 1 (cat 8) collides with the pin at slot 1
    // -> item 2. slot 1: pin. slot 2: item 0 (cat 7; window [1,2] holds cat 8 only).
    CHECK((ranked(r, p, 3, &h) == std::vector<std::int64_t>{2, 3, 0}));
}

TEST(select, author_window_and_share_cap) {
    Request r;
    r.d = 1;
    for (int i = 0; i < 6; ++i) r.add({1}, static_cast<float>(10 - i), i < 4 ? 1 : 2);
    Policy p = ranker_test::prior_policy(4);
    p.category_share = 0.5;  // cap = floor(0.5 * 4) = 2 per category
    CHECK((ranked(r, p, 4) == std::vector<std::int64_t>{0, 1, 4, 5}));
    r.author = {3, 3, 4, 4, 5, 5};
    Policy q = ranker_test::prior_policy(4);
    q.author_window = 2;
    q.author_max = 1;
    CHECK((ranked(r, q, 4) == std::vector<std::int64_t>{0, 2, 1, 3}));
}

TEST(select, harmful_out_of_key_slots_and_featured_quota) {
    Request r;
    r.d = 1;
    r.add({1}, 9, 0, kFlagHarmful);   // 0
    r.add({1}, 8);                    // 1
    r.add({1}, 7);                    // 2
    r.add({1}, 6, 0, kFlagFeatured);  // 3
    r.add({1}, 5);                    // 4
    Policy p = ranker_test::prior_policy(5);
    p.key_count = 3;
    p.featured_min = 1;
    // slot 0: 1 (0 is harmful). slot 1: 2 (quota: need 1, open 2). slot 2: only featured (3).
    // slot 3: harmful 0 allowed now. slot 4: 4.
    validate_policy(p);
    const RankOutput out = rank(r.candidates(), r.user(), p, 5, nullptr);
    CHECK((out.indices == std::vector<std::int64_t>{1, 2, 3, 0, 4}));
    CHECK(out.reasons[2] & kReasonFeatured);
}

TEST(select, pins_statuses_and_unreached) {
    Request r;
    r.d = 1;
    r.add({1}, 5);                    // 0
    r.add({1}, 4, 0, kFlagBlocked);   // 1 ineligible
    r.add({1}, 3, 0, kFlagHarmful);   // 2 harmful
    r.add({1}, 2);                    // 3
    Policy p = ranker_test::prior_policy(4);
    p.key_count = 1;
    p.pins = {{r.item_id[3], 0}, {r.item_id[1], 1}, {12345, 2}, {r.item_id[2], 0 + 9}, {r.item_id[0], 3}};
    validate_policy(p);
    RankOutput out = rank(r.candidates(), r.user(), p, 4, nullptr);
    // item 2 is pinned beyond k, so it stays out of open slots; the pool is empty, so slot 1 ends
    // the page and the pin at slot 3 is unreached.
    CHECK((out.indices == std::vector<std::int64_t>{3}));
    CHECK(out.reasons[0] & kReasonEditorial);
    CHECK((out.pin_status == std::vector<std::uint8_t>{kPinPlaced, kPinIneligible, kPinNotInCandidates, kPinBeyondK,
                                                        kPinUnreached}));
    p.pins = {{r.item_id[2], 0}};
    validate_policy(p);
    out = rank(r.candidates(), r.user(), p, 4, nullptr);
    CHECK(out.pin_status[0] == kPinHarmfulInKeySlot);
    CHECK((out.indices == std::vector<std::int64_t>{0, 3}));  // harmful pinned item stays out entirely
}

TEST(select, ties_go_to_lower_index_and_pretruncation) {
    Request r;
    r.d = 1;
    for (int i = 0; i < 6; ++i) r.add({1}, i % 2 == 0 ? 1.0f : 2.0f);
    Policy p = ranker_test::prior_policy(6);
    CHECK((ranked(r, p, 6) == std::vector<std::int64_t>{1, 3, 5, 0, 2, 4}));
    p.candidates = 4;  // best 4 by (score desc, index asc): 1, 3, 5, 0
    CHECK((ranked(r, p, 6) == std::vector<std::int64_t>{1, 3, 5, 0}));
}

TEST(select, item_heap_pops_in_selection_order) {
    // Random keys with many exact ties, pushes interleaved with pops, against a sorted copy.
    std::mt19937_64 rng(5);
    for (int round = 0; round < 40; ++round) {
        ItemHeap heap;
        std::vector<HeapEntry> live;
        const int n = 1 + static_cast<int>(rng() % 300);
        for (int l = 0; l < n; ++l) heap.entries().push_back({static_cast<double>(rng() % 17), l});
        live = heap.entries();
        heap.rebuild();
        int next_local = n;
        while (!heap.empty()) {
            if (rng() % 3 == 0) {
                const HeapEntry e{static_cast<double>(rng() % 17), next_local++};
                heap.push(e);
                live.push_back(e);
            }
            const auto best = std::max_element(live.begin(), live.end(), ranks_below);
            CHECK(heap.top().key == best->key);
            CHECK(heap.top().local == best->local);
            live.erase(best);
            heap.pop();
        }
        CHECK(live.empty());
    }
}

namespace {

// Takes every bucket; checks that each lists its locals ascending, that the buckets fall in
// score (every score in a bucket above every score in a later one; equal scores together), that
// each bucket's top score is its largest, and that every local comes out exactly once.
std::size_t take_all_buckets(ScoreBuckets& buckets, const std::vector<double>& scores) {
    std::vector<int> seen(scores.size(), 0);
    double previous_lowest = std::numeric_limits<double>::infinity();
    std::size_t count = 0;
    while (!buckets.empty()) {
        const double top = buckets.next_top_key();
        const std::int32_t *begin, *end;
        buckets.take(&begin, &end);
        CHECK(begin != end);
        double largest = -std::numeric_limits<double>::infinity(), lowest = -largest;
        for (const std::int32_t* l = begin; l != end; ++l) {
            if (l != begin) CHECK(*(l - 1) < *l);
            ++seen[static_cast<std::size_t>(*l)];
            largest = std::max(largest, scores[*l]);
            lowest = std::min(lowest, scores[*l]);
        }
        CHECK(top == largest);
        CHECK(largest < previous_lowest);
        previous_lowest = lowest;
        ++count;
    }
    CHECK(std::all_of(seen.begin(), seen.end(), [](int times) { return times == 1; }));
    return count;
}

}  // namespace

TEST(select, score_buckets_fall_in_score_and_hold_every_item_once) {
    std::mt19937_64 rng(31);
    for (int round = 0; round < 60; ++round) {
        const std::size_t n = rng() % (round < 30 ? 400 : 3000);  // any n mod 4 (four interleaved runs)
        std::vector<double> scores(n);
        // Few distinct values (many ties), a wide spread, or huge magnitudes.
        for (double& s : scores) {
            switch (round % 3) {
                case 0: s = static_cast<double>(rng() % 9) * 0.25; break;
                case 1: s = std::ldexp(static_cast<double>(rng() % 100000) - 50000.0, -10); break;
                default: s = (rng() % 2 ? 1.0 : -1.0) * 1e300 * static_cast<double>(rng() % 100); break;
            }
        }
        const auto [lo, hi] = std::minmax_element(scores.begin(), scores.end());
        const double lowest = n > 0 ? *lo : std::numeric_limits<double>::infinity();
        const double highest = n > 0 ? *hi : -std::numeric_limits<double>::infinity();
        const double finest = std::vector<double>{0.0, 0.5, 8.0, 1e6, std::numeric_limits<double>::infinity()}[rng() % 5];
        const std::size_t limit = std::vector<std::size_t>{1, 2, 64, 256}[rng() % 4];
        ScoreBuckets buckets(scores.data(), static_cast<std::int32_t>(n), lowest, highest, finest, limit);
        const std::size_t count = take_all_buckets(buckets, scores);
        CHECK(count <= limit);
        // Range 2^-10 * 1e5 ~ 98 at 8 per unit: more than one bucket, none of them left empty.
        if (round % 3 == 1 && finest == 8.0 && n > 100 && limit >= 64) CHECK(count > 1);
        if (finest == 0.0) CHECK(count == (n > 0 ? 1u : 0u));
    }
}

// A spread too wide for double (highest - lowest overflows) or no spread at all: one bucket.
TEST(select, score_buckets_of_an_overflowing_or_empty_range_are_one_bucket) {
    const double max = std::numeric_limits<double>::max();
    for (const std::vector<double>& scores : {std::vector<double>{max, -max, 0.0}, std::vector<double>{2.5, 2.5, 2.5}}) {
        ScoreBuckets buckets(scores.data(), 3, *std::min_element(scores.begin(), scores.end()),
                             *std::max_element(scores.begin(), scores.end()), 8.0, 64);
        CHECK(take_all_buckets(buckets, scores) == 1u);
    }
}

// A window that refuses one dominant category at most slots sends the scan deep into a large
// pool, past a thousand refused items; the selection must still be the plain greedy one
// (here: the best allowed score, else the best score with the window relaxed).
TEST(select, large_pool_with_a_dominant_category) {
    std::mt19937_64 rng(23);
    for (int round = 0; round < 6; ++round) {
        const int n = 1200 + 400 * round;
        const std::int64_t k = 60;
        Request r;
        r.d = 1;
        std::uniform_real_distribution<float> score(0.0f, 1.0f);
        for (int i = 0; i < n; ++i) r.add({1}, score(rng), 0);
        std::vector<int> order(n);  // selection order: score desc, index asc
        for (int i = 0; i < n; ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](int a, int b) { return r.prior[a] > r.prior[b] || (r.prior[a] == r.prior[b] && a < b); });
        // The best-scored 90% share category 0; the rest have a category each.
        for (int j = n * 9 / 10; j < n; ++j) r.category[order[j]] = 1 + j;
        Policy p = ranker_test::prior_policy(k);
        p.category_window = 8;
        p.category_max = 1;

        std::vector<std::int64_t> expected;
        std::vector<bool> used(n, false);
        for (std::int64_t t = 0; t < k; ++t) {
            auto window_allows = [&](int i) {
                for (std::int64_t s = std::max<std::int64_t>(0, t - p.category_window + 1); s < t; ++s)
                    if (r.category[expected[s]] == r.category[i]) return false;
                return true;
            };
            int pick = -1;
            for (const int i : order)
                if (!used[i] && window_allows(i)) {
                    pick = i;
                    break;
                }
            if (pick < 0)
                for (const int i : order)
                    if (!used[i]) {
                        pick = i;
                        break;
                    }
            used[pick] = true;
            expected.push_back(pick);
        }
        CHECK(ranked(r, p, k) == expected);
    }
}
