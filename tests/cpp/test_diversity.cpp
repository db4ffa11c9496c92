// MMR and DPP: tiny hand-computed cases, and lazy (library) == eager (here) on random inputs.
#include <algorithm>
#include <cmath>
#include <limits>

#include "check.h"
#include "fixture.h"
#include "ranker/diversity.h"
#include "ranker/kernels.h"
#include "ranker/pipeline.h"
#include "ranker/validate.h"

using namespace ranker;
using ranker_test::Request;

namespace {

// Every candidate row with its norm, the way the objectives see them (the pool is every
// candidate: `all` lists 0 .. n-1 and must outlive the rows); extra rows follow.
NormalizedRows rows_of(const Request& r, std::vector<std::int32_t>& all, const std::vector<const float*>& extra = {}) {
    const std::size_t n = r.item_id.size();
    all.resize(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = static_cast<std::int32_t>(i);
    RowSource source;
    source.embedding = r.embedding.data();
    source.pool = all.data();
    source.pool_size = n;
    source.extra = extra;
    return NormalizedRows(active_kernels(), static_cast<std::size_t>(r.d), std::move(source));
}

// The eager MMR loop: every slot recomputes every remaining gain against all of P.
std::vector<std::int64_t> eager_mmr(const Request& r, double lambda, std::int64_t k,
                                    const std::vector<const float*>& history) {
    const std::size_t n = r.item_id.size(), d = static_cast<std::size_t>(r.d);
    std::vector<std::int32_t> all;
    NormalizedRows rows = rows_of(r, all, history);
    UnitRowBlock placed(d, history.size() + static_cast<std::size_t>(k));
    for (std::size_t q = 0; q < history.size(); ++q) placed.add(rows.row(n + q), rows.inv_norm(n + q));
    std::vector<bool> used(n, false);
    std::vector<std::int64_t> out;
    for (std::int64_t t = 0; t < k && out.size() < n; ++t) {
        double best = -std::numeric_limits<double>::infinity();
        std::int64_t arg = -1;
        for (std::size_t i = 0; i < n; ++i) {
            if (used[i]) continue;
            const double s = r.prior[i];
            double gain = lambda * s;
            if (!placed.empty()) {
                double m = -std::numeric_limits<double>::infinity();
                for (std::size_t p = 0; p < placed.size(); ++p) {  // one cosine at a time
                    double c;
                    mmr_cosines(active_kernels(), rows.row(i), rows.inv_norm(i), placed, p, 1, d, &c);
                    m = std::max(m, c);
                }
                gain = lambda * s - (1.0 - lambda) * m;
            }
            if (gain > best) {
                best = gain;
                arg = static_cast<std::int64_t>(i);
            }
        }
        used[arg] = true;
        out.push_back(arg);
        placed.add(rows.row(static_cast<std::size_t>(arg)), rows.inv_norm(static_cast<std::size_t>(arg)));
    }
    return out;
}

// The eager DPP loop (Chen et al. 2018, every item updated at every slot, in the Gram-Schmidt
// form the library uses: e_i = r_i <q_b, u_i>), then fill by score once the best d2 <= EPS.
std::vector<std::int64_t> eager_dpp(const Request& r, double alpha, std::int64_t k, std::vector<bool>* fill_flags) {
    const KernelTable& kern = active_kernels();
    const std::size_t n = r.item_id.size(), d = static_cast<std::size_t>(r.d);
    std::vector<std::int32_t> all;
    NormalizedRows rows = rows_of(r, all);
    double s_max = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < n; ++i) s_max = std::max(s_max, static_cast<double>(r.prior[i]));
    std::vector<double> r2(n), d2(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double ri = std::exp(alpha * (static_cast<double>(r.prior[i]) - s_max));
        r2[i] = ri * ri;
        d2[i] = rows.inv_norm(i) > 0.0 ? r2[i] : 0.0;  // L_ii = r_i^2 cos(e_i, e_i): 0 for a zero row
    }
    std::vector<double> basis;  // orthonormal rows
    std::vector<bool> used(n, false);
    bool fill = false;
    std::vector<std::int64_t> out;
    for (std::int64_t t = 0; t < k && out.size() < n; ++t) {
        std::int64_t arg = -1;
        for (std::size_t i = 0; i < n; ++i)
            if (!used[i] && (arg < 0 || d2[i] > d2[arg])) arg = static_cast<std::int64_t>(i);
        if (!fill && d2[arg] <= kDppEps) fill = true;
        if (fill) {
            arg = -1;
            for (std::size_t i = 0; i < n; ++i)
                if (!used[i] && (arg < 0 || r.prior[i] > r.prior[arg])) arg = static_cast<std::int64_t>(i);
        }
        used[arg] = true;
        out.push_back(arg);
        fill_flags->push_back(fill);
        if (fill) continue;
        const std::size_t b = basis.size() / d;
        basis.resize((b + 1) * d);
        std::vector<double> unit(d);
        rows.unit_row(static_cast<std::size_t>(arg), unit.data());
        std::vector<double> coefficients(b);
        orthonormal_complement(kern, basis.data(), b, d, unit.data(), basis.data() + b * d, coefficients.data());
        for (std::size_t i = 0; i < n; ++i) {
            if (used[i]) continue;
            const double a = kern.dot_mixed(basis.data() + b * d, rows.row(i), d) * rows.inv_norm(i);
            d2[i] -= r2[i] * (a * a);
        }
    }
    return out;
}

// The library's DPP page equals the eager loop's, slot for slot, SCORE_FILL marks included.
void check_dpp_matches_eager(Request& r, const Policy& p, std::int64_t k) {
    const RankOutput out = rank(r.candidates(), r.user(), p, k, nullptr);
    std::vector<bool> fill;
    CHECK(out.indices == eager_dpp(r, p.dpp_alpha, k, &fill));
    for (std::size_t s = 0; s < std::min(out.reasons.size(), fill.size()); ++s)
        CHECK(((out.reasons[s] & kReasonScoreFill) != 0) == fill[s]);
}

// Appends `rows` random history embeddings to r; returns their rows, in order.
std::vector<const float*> add_random_history(Request& r, std::mt19937_64& rng, int rows) {
    std::normal_distribution<float> g;
    for (std::int64_t j = 0; j < rows * r.d; ++j) r.history_embeddings.push_back(g(rng));
    std::vector<const float*> out;
    for (int q = 0; q < rows; ++q) out.push_back(r.history_embeddings.data() + q * r.d);
    return out;
}

Policy diversity_policy(Method m, std::int64_t k) {
    Policy p = ranker_test::prior_policy(k);
    p.method = m;
    validate_policy(p);
    return p;
}

}  // namespace

TEST(mmr, tiny_hand_computed) {
    // a and b identical, c orthogonal. lambda 0.5: slot 0 takes a (score 1.0); then
    // b: 0.5*0.9 - 0.5*1 = -0.05; c: 0.5*0.5 - 0 = 0.25 -> c; then b.
    Request r;
    r.d = 2;
    r.add({1, 0}, 1.0f);
    r.add({1, 0}, 0.9f);
    r.add({0, 1}, 0.5f);
    Policy p = diversity_policy(Method::kMmr, 3);
    p.mmr_lambda = 0.5;
    const RankOutput out = rank(r.candidates(), r.user(), p, 3, nullptr);
    CHECK((out.indices == std::vector<std::int64_t>{0, 2, 1}));
    CHECK(out.reasons[0] & kReasonDiversity);
    // History holding c's direction penalises c from the start: after a, b gives
    // 0.45 - 0.5 * 1 = -0.05 and c gives 0.25 - 0.5 * 1 = -0.25, so b comes before c.
    r.history_embeddings = {0, 1};
    const HistoryView h = r.history();
    const RankOutput with_history = rank(r.candidates(), r.user(), p, 3, &h);
    CHECK((with_history.indices == std::vector<std::int64_t>{0, 1, 2}));
    // A negative cosine is a bonus: d opposite to a beats b after a is placed.
    Request s;
    s.d = 2;
    s.add({1, 0}, 1.0f);
    s.add({1, 0.1f}, 0.95f);
    s.add({-1, 0}, 0.2f);
    const RankOutput bonus = rank(s.candidates(), s.user(), p, 3, nullptr);
    CHECK((bonus.indices == std::vector<std::int64_t>{0, 2, 1}));
}

// Cosines do not depend on the scale of the rows. MMR sums float products for rows of
// ordinary norm; rows scaled far from 1 (products that would underflow or overflow float)
// must take the double path, so scaling every row by a power of two (exact in float, small
// integer entries) leaves the ranking as it is.
TEST(mmr, ranking_ignores_the_scale_of_the_rows) {
    std::mt19937_64 rng(21);
    std::uniform_real_distribution<float> score(0.0f, 1.0f);
    for (int round = 0; round < 20; ++round) {
        Request r;
        r.d = 16;
        for (int i = 0; i < 40; ++i) {
            std::vector<float> row(16);
            for (float& x : row) x = static_cast<float>(static_cast<int>(rng() % 15) - 7);
            r.add(row, score(rng));
        }
        Policy p = diversity_policy(Method::kMmr, 15);
        p.mmr_lambda = 0.3;
        const std::vector<std::int64_t> unscaled = rank(r.candidates(), r.user(), p, 15, nullptr).indices;
        for (const float scale : {0x1p-146f, 0x1p125f}) {
            Request scaled = r;
            for (float& x : scaled.embedding) x *= scale;
            CHECK(rank(scaled.candidates(), scaled.user(), p, 15, nullptr).indices == unscaled);
        }
    }
}

TEST(dpp, tiny_hand_computed) {
    // Two identical rows and one orthogonal; alpha 0 (r = 1): d2 = 1 for all; slot 0 takes the
    // lowest index 0; then the duplicate has d2 = 0, the orthogonal keeps 1 -> 2; then d2(1) = 0
    // <= EPS -> score fill picks 1.
    Request r;
    r.d = 2;
    r.add({1, 0}, 0.5f);
    r.add({1, 0}, 0.9f);
    r.add({0, 1}, 0.1f);
    Policy p = diversity_policy(Method::kDpp, 3);
    p.dpp_alpha = 0.0;
    const RankOutput out = rank(r.candidates(), r.user(), p, 3, nullptr);
    CHECK((out.indices == std::vector<std::int64_t>{0, 2, 1}));
    CHECK(out.reasons[0] & kReasonDiversity);
    CHECK(out.reasons[1] & kReasonDiversity);
    CHECK(out.reasons[2] & kReasonScoreFill);
    CHECK(!(out.reasons[2] & kReasonDiversity));
}

TEST(dpp, pins_enter_the_basis_first) {
    Request r;
    r.d = 2;
    r.add({1, 0}, 1.0f);  // 0 pinned at slot 1
    r.add({1, 0}, 0.9f);  // 1 same direction as the pin
    r.add({0, 1}, 0.5f);  // 2
    Policy p = diversity_policy(Method::kDpp, 3);
    p.dpp_alpha = 0.0;
    p.pins = {{r.item_id[0], 1}};
    validate_policy(p);
    const RankOutput out = rank(r.candidates(), r.user(), p, 3, nullptr);
    CHECK((out.indices == std::vector<std::int64_t>{2, 0, 1}));
    CHECK(out.reasons[1] & kReasonEditorial);
    CHECK(out.reasons[2] & kReasonScoreFill);
}

TEST(mmr, lazy_equals_eager_on_random_inputs) {
    std::mt19937_64 rng(11);
    for (int round = 0; round < 60; ++round) {
        const std::int64_t n = 1 + static_cast<std::int64_t>(rng() % 120);
        const std::int64_t d = 1 + static_cast<std::int64_t>(rng() % 20);
        Request r = ranker_test::random_request(rng, n, d, round % 3 == 0);
        const std::int64_t k = static_cast<std::int64_t>(rng() % (n + 3));
        Policy p = diversity_policy(Method::kMmr, k);
        p.mmr_lambda = std::vector<double>{0.0, 0.3, 0.7, 1.0}[rng() % 4];
        std::vector<const float*> history;
        HistoryView h;
        const bool with_history = round % 2 == 1;
        if (with_history) {
            history = add_random_history(r, rng, 3);
            h = r.history();
        }
        const RankOutput out = rank(r.candidates(), r.user(), p, k, with_history ? &h : nullptr);
        const std::vector<std::int64_t> eager = eager_mmr(r, p.mmr_lambda, k, history);
        CHECK(out.indices == eager);
    }
}

// Large pools, with history in P from the start (so no re-keying after the first slot) and
// novelty-first lambdas, so that the lazy scans reach deep into the pool.
TEST(mmr, lazy_equals_eager_on_large_pools_with_history) {
    std::mt19937_64 rng(29);
    for (int round = 0; round < 4; ++round) {
        const std::int64_t n = 1100 + 300 * round, d = 4 + 4 * round, k = 40;
        Request r = ranker_test::random_request(rng, n, d, round % 2 == 0);
        Policy p = diversity_policy(Method::kMmr, k);
        p.mmr_lambda = std::vector<double>{0.0, 0.1, 0.2, 0.5}[round];  // novelty first: deep scans
        const std::vector<const float*> history = add_random_history(r, rng, 3);
        const HistoryView h = r.history();
        const RankOutput out = rank(r.candidates(), r.user(), p, k, &h);
        CHECK(out.indices == eager_mmr(r, p.mmr_lambda, k, history));
    }
}

// Staged items join the queue a bucket at a time, when the bucket's bound (its largest key at
// cosine -1) reaches the best gain found. Here the winner of slot 1 is staged below an item it
// barely beats: lambda 0.5, so buckets 0.125 wide in score below item 0's 3; after item 0 is
// placed,
//  - item 1 (score 2, cosine 0.01 with item 0) has gain 0.995, bound 1.5005 (bucket 8);
//  - item 2 (score 1, cosine -1) has gain exactly 1.0 = its bound less 0.0005 (bucket 16),
//    shared with items 3..7 (cosine -1, gains 0.975 .. 0.985).
// A bucket bound 0.01 too low, or one that is not the largest key of its bucket, leaves item 2
// out of slot 1.
TEST(mmr, a_staged_bucket_joins_when_its_bound_reaches_the_best) {
    Request r;
    r.d = 3;
    r.add({1.0f, 0.0f, 0.0f}, 3.0f);                      // 0: slot 0 (gain 1.5 with P empty)
    r.add({0.01f, std::sqrt(1.0f - 1e-4f), 0.0f}, 2.0f);  // 1
    r.add({-1.0f, 0.0f, 0.0f}, 1.0f);                     // 2
    for (int i = 0; i < 5; ++i) r.add({-2.0f, 0.0f, 0.0f}, 0.95f + 0.005f * static_cast<float>(i));  // 3..7
    Policy p = diversity_policy(Method::kMmr, 3);
    p.mmr_lambda = 0.5;
    validate_policy(p);
    const RankOutput out = rank(r.candidates(), r.user(), p, 3, nullptr);
    // Slot 2: P holds -e1, so items 3..7 have cosine 1 and item 1 (0.995) wins.
    CHECK((out.indices == std::vector<std::int64_t>{0, 2, 1}));
    CHECK(out.indices == eager_mmr(r, p.mmr_lambda, 3, {}));
}

TEST(dpp, lazy_equals_eager_on_random_inputs) {
    std::mt19937_64 rng(12);
    for (int round = 0; round < 60; ++round) {
        const std::int64_t n = 1 + static_cast<std::int64_t>(rng() % 120);
        const std::int64_t d = 1 + static_cast<std::int64_t>(rng() % 12);
        Request r = ranker_test::random_request(rng, n, d, round % 3 == 0);
        const std::int64_t k = static_cast<std::int64_t>(rng() % (n + 3));
        Policy p = diversity_policy(Method::kDpp, k);
        p.dpp_alpha = std::vector<double>{0.0, 0.5, 1.0, 4.0, -2.0}[rng() % 5];  // negative: r falls with the score
        check_dpp_matches_eager(r, p, k);
    }
}

// The screening (float bounds, exact d2 only for the items that could win) must pick what the
// eager double loop picks where bounds overlap most: rows that are copies of a few directions
// up to tiny perturbations or a scale (exactly or nearly tied d2, residuals that reach EPS),
// tied scores, and rows too small or too large for float products (kept exact), zero rows too.
TEST(dpp, screening_picks_the_eager_items_on_near_ties_and_extreme_norms) {
    std::mt19937_64 rng(23);
    std::normal_distribution<float> g;
    for (int round = 0; round < 40; ++round) {
        const std::int64_t n = 20 + static_cast<std::int64_t>(rng() % 300);
        const std::int64_t d = std::vector<std::int64_t>{3, 8, 17, 64}[rng() % 4];
        const std::size_t directions = 2 + rng() % 5;
        std::vector<float> base(directions * static_cast<std::size_t>(d));
        for (float& x : base) x = g(rng);
        const float noise = std::vector<float>{0.0f, 1e-7f, 1e-4f, 0.05f}[rng() % 4];
        Request r;
        r.d = d;
        for (std::int64_t i = 0; i < n; ++i) {
            const std::size_t b = rng() % directions;
            const float scale = std::vector<float>{1.0f, 1.0f, 3.0f, 1e-12f, 1e12f}[rng() % 5];
            std::vector<float> row(static_cast<std::size_t>(d));
            for (std::int64_t j = 0; j < d; ++j) row[j] = scale * (base[b * d + j] + noise * g(rng));
            if (rng() % 40 == 0) row.assign(static_cast<std::size_t>(d), 0.0f);
            const float prior = round % 2 == 0 ? static_cast<float>(rng() % 3) : g(rng);
            r.add(row, prior, static_cast<std::int32_t>(rng() % 6));
        }
        const std::int64_t k = static_cast<std::int64_t>(rng() % (n + 3));
        Policy p = diversity_policy(Method::kDpp, k);
        p.dpp_alpha = std::vector<double>{0.0, 0.5, 4.0}[rng() % 3];
        check_dpp_matches_eager(r, p, k);
    }
}

// Large clustered pools, d = 64: most items are screened out, many are certified.
TEST(dpp, screening_picks_the_eager_items_on_large_pools) {
    std::mt19937_64 rng(29);
    for (int round = 0; round < 6; ++round) {
        const std::int64_t n = 400 + static_cast<std::int64_t>(rng() % 800);
        Request r = ranker_test::random_request(rng, n, 64, round % 2 == 0);
        const std::int64_t k = 20 + static_cast<std::int64_t>(rng() % 60);
        Policy p = diversity_policy(Method::kDpp, k);
        p.dpp_alpha = std::vector<double>{0.5, 1.0, 3.0}[round % 3];
        check_dpp_matches_eager(r, p, k);
    }
}
