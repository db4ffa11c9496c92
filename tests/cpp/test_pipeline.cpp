#include <atomic>
#include <thread>

#include "check.h"
#include "fixture.h"
#include "ranker/pipeline.h"
#include "ranker/validate.h"

using namespace ranker;
using ranker_test::Request;

namespace {
Request small_request() {
    Request r;
    r.d = 3;
    r.add({1, 0, 0}, 0.5f, 1);
    r.add({0, 1, 0}, 0.4f, 2);
    r.add({0, 0, 1}, 0.3f, 3);
    r.user_embedding = {1, 0.5f, 0};
    return r;
}
}  // namespace

TEST(pipeline, validation_names_the_field) {
    Policy p = ranker_test::prior_policy(2);
    validate_policy(p);
    {
        Policy no_reason = p;  // tag weight only: an item matching no tag would have no reason
        no_reason.w_prior = 0.0;
        no_reason.w_tag = 1.0;
        CHECK_THROWS(InvalidInput, "policy.weights: relevance and prior are both 0", validate_policy(no_reason));
    }
    {
        Request r = small_request();
        CHECK_THROWS(InvalidInput, "k:", rank(r.candidates(), r.user(), p, -1, nullptr));
    }
    {
        Request r = small_request();
        r.embedding[7] = std::nanf("");  // row 2, column 1, an item no rule drops
        CHECK_THROWS(InvalidInput, "candidates.embedding: value at row 2, column 1", rank(r.candidates(), r.user(), p, 2, nullptr));
        r.flags = {kFlagBlocked, kFlagBlocked, kFlagBlocked};  // ineligible rows are validated too
        CHECK_THROWS(InvalidInput, "candidates.embedding:", rank(r.candidates(), r.user(), p, 2, nullptr));
    }
    {
        Request r = small_request();
        r.prior[1] = INFINITY;
        CHECK_THROWS(InvalidInput, "candidates.prior:", rank(r.candidates(), r.user(), p, 2, nullptr));
    }
    {
        Request r = small_request();
        r.fraud_risk = {0.1f, 1.5f, 0.2f};
        CHECK_THROWS(InvalidInput, "candidates.fraud_risk: value at index 1 is 1.5", rank(r.candidates(), r.user(), p, 2, nullptr));
        r.fraud_risk = {0.1f, std::nanf(""), 0.2f};
        CHECK_THROWS(InvalidInput, "candidates.fraud_risk:", rank(r.candidates(), r.user(), p, 2, nullptr));
    }
    {
        Request r = small_request();
        r.flags = {0, 32, 0};
        CHECK_THROWS(InvalidInput, "candidates.flags:", rank(r.candidates(), r.user(), p, 2, nullptr));
    }
    {
        Request r = small_request();
        r.offered = {1.0, -2.0, std::nan("")};
        r.reference = {1.0, 1.0, 1.0};
        CHECK_THROWS(InvalidInput, "candidates.offered_price:", rank(r.candidates(), r.user(), p, 2, nullptr));
        r.offered = {1.0, 2.0, std::nan("")};
        r.reference = {1.0, INFINITY, 1.0};
        CHECK_THROWS(InvalidInput, "candidates.reference_price:", rank(r.candidates(), r.user(), p, 2, nullptr));
    }
    {
        Request r = small_request();
        r.tag_indptr = {0, 1, 0, 1};
        r.tag_ids = {1};
        CHECK_THROWS(InvalidInput, "candidates.tags:", rank(r.candidates(), r.user(), p, 2, nullptr));
        r.tag_indptr = {0, 1, 1, 2};
        r.tag_ids = {1, -3};
        CHECK_THROWS(InvalidInput, "candidates.tags:", rank(r.candidates(), r.user(), p, 2, nullptr));
        r.tag_indptr = {1, 1, 1, 2};
        CHECK_THROWS(InvalidInput, "candidates.tags:", rank(r.candidates(), r.user(), p, 2, nullptr));
    }
    {
        Request r = small_request();
        r.user_embedding = {1, 2};
        CHECK_THROWS(InvalidInput, "user.embedding:", rank(r.candidates(), r.user(), p, 2, nullptr));
        r.user_embedding = {1, 2, std::nanf("")};
        CHECK_THROWS(InvalidInput, "user.embedding:", rank(r.candidates(), r.user(), p, 2, nullptr));
    }
    {
        Request r = small_request();
        r.user_tags = {1, 2};
        r.user_weights = {1.0, std::nan("")};
        CHECK_THROWS(InvalidInput, "user.tags:", rank(r.candidates(), r.user(), p, 2, nullptr));
        r.user_flags.age = 151;
        r.user_weights = {1.0, 2.0};
        CHECK_THROWS(InvalidInput, "user.age:", rank(r.candidates(), r.user(), p, 2, nullptr));
        r.user_flags.age = -1;
        r.user_flags.local_minute = 1440;
        CHECK_THROWS(InvalidInput, "user.local_minute:", rank(r.candidates(), r.user(), p, 2, nullptr));
    }
    {
        Request r = small_request();
        r.history_embeddings = {1, 2};  // d = 3 expected
        HistoryView h = r.history();
        h.d = 2;
        h.h = 1;
        CHECK_THROWS(InvalidInput, "history.embeddings:", rank(r.candidates(), r.user(), p, 2, &h));
    }
}

TEST(pipeline, missing_fields_fail_closed) {
    Request r = small_request();
    r.user_flags.minor_mode = true;
    r.user_flags.local_minute = 600;
    r.user_flags.usage_minutes_today = 0;
    Policy p = ranker_test::prior_policy(2);
    validate_policy(p);
    CHECK_THROWS(InvalidInput, "candidates.min_age:", rank(r.candidates(), r.user(), p, 2, nullptr));
    r.min_age = {0, 0, 0};
    r.user_flags.local_minute = -1;
    CHECK_THROWS(InvalidInput, "user.local_minute:", rank(r.candidates(), r.user(), p, 2, nullptr));
    r.user_flags = UserView{};
    Policy risky = p;
    risky.elderly_max_risk = 0.5;
    r.user_flags.elderly = true;
    CHECK_THROWS(InvalidInput, "candidates.fraud_risk:", rank(r.candidates(), r.user(), risky, 2, nullptr));
    r.user_flags = UserView{};
    Policy window = p;
    window.author_window = 2;
    window.author_max = 1;
    r.author.clear();
    CHECK_THROWS(InvalidInput, "candidates.author:", rank(r.candidates(), r.user(), window, 2, nullptr));
    Policy share = p;
    share.category_share = 0.5;
    r.category.clear();
    CHECK_THROWS(InvalidInput, "candidates.category:", rank(r.candidates(), r.user(), share, 2, nullptr));
    Policy suppress = p;
    suppress.deletion_suppress = true;
    r.deleted = {4};
    CHECK_THROWS(InvalidInput, "candidates.tags:", rank(r.candidates(), r.user(), suppress, 2, nullptr));
}

TEST(pipeline, scores_reasons_and_prices) {
    Request r = small_request();
    r.tag_indptr = {0, 2, 3, 3};
    r.tag_ids = {5, 5, 6};  // tag 5 listed twice on item 0: counts once
    r.user_tags = {5, 6, 7};
    r.user_weights = {0.5, 0.25, 1.0};
    r.deleted = {6};
    r.offered = {10.0, 10.0, std::nan("")};
    r.reference = {12.0, 10.0, 10.0};
    Policy p;
    p.k = 3;
    p.w_rel = 1.0;
    p.w_tag = 2.0;
    p.w_prior = 0.5;
    p.price_action = PriceAction::kClamp;
    validate_policy(p);
    const RankOutput out = rank(r.candidates(), r.user(), p, 3, nullptr);
    CHECK((out.indices == std::vector<std::int64_t>{0, 1, 2}));
    CHECK_NEAR(out.scores[0], 1.0 + 2.0 * 0.5 + 0.5 * 0.5, 1e-12);
    CHECK_NEAR(out.scores[1], 0.5 + 0.0 + 0.5 * 0.4f, 1e-7);  // tag 6 deleted: no weight
    CHECK(out.reasons[0] == (kReasonPersonal | kReasonTagMatch | kReasonPrior | kReasonPriceClamped));
    CHECK(out.reasons[1] == (kReasonPersonal | kReasonPrior));
    CHECK(out.prices[0] == 12.0);
    CHECK(out.prices[1] == 10.0);
    CHECK(std::isnan(out.prices[2]));
    r.user_flags.personalized = false;
    const RankOutput opted_out = rank(r.candidates(), r.user(), p, 3, nullptr);
    CHECK(opted_out.reasons[0] == (kReasonNonPersonalized | kReasonPrior | kReasonPriceClamped));
    CHECK_NEAR(opted_out.scores[0], 0.25, 1e-12);
}

TEST(pipeline, empty_and_edge_sizes) {
    Request r;
    r.d = 4;
    Policy p = ranker_test::prior_policy(5);
    validate_policy(p);
    RankOutput out = rank(r.candidates(), r.user(), p, 5, nullptr);
    CHECK(out.indices.empty() && out.drop_codes.empty() && out.counts[0] == 0);
    r.add({1, 2, 3, 4}, 1.0f);
    out = rank(r.candidates(), r.user(), p, 0, nullptr);
    CHECK(out.indices.empty() && out.counts[0] == 1);
    out = rank(r.candidates(), r.user(), p, 1000000000000LL, nullptr);  // huge k: no huge buffers
    CHECK(out.indices.size() == 1);
    for (Method m : {Method::kMmr, Method::kDpp}) {
        Policy q = p;
        q.method = m;
        out = rank(r.candidates(), r.user(), q, 1000000000000LL, nullptr);
        CHECK(out.indices.size() == 1);
    }
}

namespace {
std::vector<Request> batch_requests(int count) {
    std::mt19937_64 rng(5);
    std::vector<Request> requests;
    for (int i = 0; i < count; ++i) requests.push_back(ranker_test::random_request(rng, 50 + i, 8, i % 2 == 0));
    return requests;
}
}  // namespace

TEST(batch, threads_match_single_thread) {
    std::vector<Request> requests = batch_requests(24);
    for (Method m : {Method::kNone, Method::kMmr, Method::kDpp}) {
        Policy p = ranker_test::prior_policy(10);
        p.method = m;
        p.category_window = 3;
        p.category_max = 1;
        validate_policy(p);
        std::vector<BatchRequest> batch;
        for (Request& r : requests) batch.push_back({r.candidates(), r.user(), nullptr});
        const std::vector<RankOutput> single = rank_batch(batch, p, 10, 1);
        const std::vector<RankOutput> threaded = rank_batch(batch, p, 10, 4);
        CHECK(single.size() == batch.size() && threaded.size() == batch.size());
        for (std::size_t i = 0; i < batch.size(); ++i) {
            CHECK(single[i].indices == threaded[i].indices);
            CHECK(single[i].scores == threaded[i].scores);
            CHECK(single[i].drop_codes == threaded[i].drop_codes);
        }
    }
}

TEST(batch, concurrent_callers_share_inputs) {
    // Many threads start together on the same views: results must equal the single-thread ones.
    std::vector<Request> requests = batch_requests(8);
    Policy p = ranker_test::prior_policy(10);
    p.method = Method::kMmr;
    validate_policy(p);
    std::vector<BatchRequest> batch;
    for (Request& r : requests) batch.push_back({r.candidates(), r.user(), nullptr});
    const std::vector<RankOutput> expected = rank_batch(batch, p, 10, 1);
    std::atomic<int> ready{0};
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            ready.fetch_add(1);
            while (ready.load() < 4) {
            }
            for (int rep = 0; rep < 5; ++rep) {
                const std::vector<RankOutput> got = rank_batch(batch, p, 10, 2);
                for (std::size_t i = 0; i < got.size(); ++i)
                    if (got[i].indices != expected[i].indices) mismatches.fetch_add(1);
            }
        });
    }
    for (std::thread& th : threads) th.join();
    CHECK(mismatches.load() == 0);
}

TEST(batch, lowest_failing_request_is_reported) {
    std::vector<Request> requests = batch_requests(12);
    requests[7].prior[0] = std::nanf("");
    requests[3].embedding[5] = INFINITY;
    requests[10].prior[1] = std::nanf("");
    Policy p = ranker_test::prior_policy(5);
    validate_policy(p);
    std::vector<BatchRequest> batch;
    for (Request& r : requests) batch.push_back({r.candidates(), r.user(), nullptr});
    for (int threads : {1, 2, 4}) {
        CHECK_THROWS(InvalidInput, "request 3: candidates.embedding:", rank_batch(batch, p, 5, threads));
    }
    CHECK_THROWS(InvalidInput, "request 0: k:", rank_batch(batch, p, -1, 2));
}
