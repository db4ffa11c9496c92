#include "ranker/pipeline.h"

#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <system_error>
#include <thread>

#include "ranker/id_table.h"
#include "ranker/kernels.h"
#include "ranker/masks.h"
#include "ranker/score.h"
#include "ranker/select.h"
#include "ranker/validate.h"

namespace ranker {

RankOutput rank(const CandidatesView& c, const UserView& u, const Policy& p, std::int64_t k,
                const HistoryView* history) {
    // 1. Validation, all of it, before anything else (embedding rows: in the pass below).
    validate_request(c, u, p, k, history);
    RankOutput out;
    const std::size_t n = static_cast<std::size_t>(c.n);
    out.drop_codes.resize(n);
    FirstIndexTable first_index(c.item_id, c.n);
    compute_drop_codes(c, u, p, first_index, out.drop_codes.data(), out.counts.data());

    // One pass over every embedding row: validation for all rows, dot for scored rows.
    const bool need_dot = u.personalized && p.w_rel != 0.0;
    std::unique_ptr<std::uint8_t[]> want_dot(new std::uint8_t[std::max<std::size_t>(1, n)]);
    const std::uint8_t* drop = out.drop_codes.data();
    for (std::size_t i = 0; i < n; ++i) want_dot[i] = static_cast<std::uint8_t>(need_dot & (drop[i] == kEligible));
    std::unique_ptr<double[]> dot(new double[std::max<std::size_t>(1, n)]);
    embedding_pass(c, u.embedding, want_dot.get(), dot.get());

    // Scores are validated too (an overflow is refused), so they precede the gates.
    std::unique_ptr<double[]> scores(new double[std::max<std::size_t>(1, n)]);
    std::unique_ptr<std::uint8_t[]> tag_match(new std::uint8_t[std::max<std::size_t>(1, n)]);
    const ActiveTags tags = active_tags(u, p);
    compute_scores(c, u, p, tags, out.drop_codes.data(), dot.get(), scores.get(), tag_match.get());

    // 2. Request gates (minor mode): no slots, but the record of drops stays.
    out.status = request_status(u, p);
    if (out.status != kStatusOk) {
        out.pin_status.assign(p.pins.size(), kPinNotServed);
        return out;
    }

    // 3. Selection.
    SelectionInput in;
    in.candidates = &c;
    in.policy = &p;
    in.k = k;
    in.history = history;
    in.drop = out.drop_codes.data();
    in.scores = scores.get();
    in.first_index = &first_index;
    SelectionResult sel;
    select_slots(in, sel);
    out.pin_status = std::move(sel.pin_status);

    // 4. Output and reasons.
    std::uint32_t base = 0;
    if (u.personalized) {
        if (p.w_rel != 0.0) base |= kReasonPersonal;
    } else {
        base |= kReasonNonPersonalized;
    }
    if (p.w_prior != 0.0) base |= kReasonPrior;
    const bool tag_reason = u.personalized && p.w_tag != 0.0;
    const std::size_t t = sel.slot_candidate.size();
    out.indices.resize(t);
    out.scores.resize(t);
    out.reasons.resize(t);
    out.prices.resize(t);
    for (std::size_t s = 0; s < t; ++s) {
        const std::int32_t i = sel.slot_candidate[s];
        std::uint32_t reason = base | sel.slot_reasons[s];
        if (tag_reason && tag_match[i]) reason |= kReasonTagMatch;
        if (c.flags != nullptr && (c.flags[i] & kFlagFeatured)) reason |= kReasonFeatured;
        double price = std::numeric_limits<double>::quiet_NaN();
        if (c.offered_price != nullptr && !std::isnan(c.offered_price[i]) && !std::isnan(c.reference_price[i])) {
            price = c.offered_price[i];
            if (p.price_action == PriceAction::kClamp || p.price_action == PriceAction::kFlag) {
                if (violates_parity(c.offered_price[i], c.reference_price[i], p.abs_tol, p.rel_tol)) {
                    if (p.price_action == PriceAction::kClamp) {
                        price = c.reference_price[i];
                        reason |= kReasonPriceClamped;
                    } else {
                        reason |= kReasonPriceFlagged;
                    }
                }
            }
        }
        out.indices[s] = i;
        out.scores[s] = scores[i];
        out.reasons[s] = reason;
        out.prices[s] = price;
    }
    return out;
}

namespace {

// Rebuilds the exception with "request {i}: " in front, keeping its class.
[[noreturn]] void rethrow_with_request(std::exception_ptr error, std::size_t index) {
    const std::string prefix = "request " + std::to_string(index) + ": ";
    try {
        std::rethrow_exception(error);
    } catch (const InvalidInput& e) {
        throw InvalidInput(prefix + e.what());
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(prefix + e.what());
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::logic_error& e) {
        throw std::logic_error(prefix + e.what());
    } catch (const std::exception& e) {
        throw std::runtime_error(prefix + e.what());
    }
}

}  // namespace

std::vector<RankOutput> rank_batch(const std::vector<BatchRequest>& requests, const Policy& policy, std::int64_t k,
                                   int threads) {
    const std::size_t count = requests.size();
    std::vector<RankOutput> results(count);
    std::vector<std::exception_ptr> errors(count);
    std::atomic<std::size_t> next{0};
    // Once a request fails, indices above it cannot change which failure is reported (the
    // lowest), and every index below it was already handed out, so workers stop taking more.
    std::atomic<bool> failed{false};
    auto work = [&]() {
        for (;;) {
            if (failed.load(std::memory_order_relaxed)) return;
            const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
            if (i >= count) return;
            try {
                results[i] = rank(requests[i].candidates, requests[i].user, policy, k, requests[i].history);
            } catch (...) {
                errors[i] = std::current_exception();
                failed.store(true, std::memory_order_relaxed);
            }
        }
    };
    const std::size_t workers = std::min<std::size_t>(threads < 1 ? 1 : static_cast<std::size_t>(threads), count);
    if (workers <= 1) {
        work();
    } else {
        std::vector<std::thread> pool;
        pool.reserve(workers - 1);
        try {
            for (std::size_t w = 0; w + 1 < workers; ++w) pool.emplace_back(work);
        } catch (const std::system_error&) {
            // Could not start another thread: the started ones and this one finish the work.
        }
        work();
        for (std::thread& th : pool) th.join();
    }
    for (std::size_t i = 0; i < count; ++i)
        if (errors[i]) rethrow_with_request(errors[i], i);
    return results;
}

}  // namespace ranker
