#include "ranker/score.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <utility>

#include "ranker/kernels.h"
#include "ranker/validate.h"

namespace ranker {

ActiveTags active_tags(const UserView& u, const Policy& p) {
    std::vector<std::int32_t> deleted(u.deleted_tags, u.deleted_tags + u.deleted_count);
    std::sort(deleted.begin(), deleted.end());
    // Each id and weight is read from the caller's arrays once, into memory of this request:
    // the sort must not compare values that another thread may be writing meanwhile (the GIL is
    // released), since inconsistent comparisons let std::sort run past the end of its range.
    std::vector<std::pair<std::int32_t, double>> active;
    active.reserve(static_cast<std::size_t>(u.tag_count));
    for (index_t i = 0; i < u.tag_count; ++i) {
        const std::int32_t id = u.tag_ids[i];
        const double weight = u.tag_weights[i];
        if (weight == 0.0) continue;
        if (std::binary_search(deleted.begin(), deleted.end(), id)) continue;
        if (std::binary_search(p.forbidden_tags.begin(), p.forbidden_tags.end(), id)) continue;
        active.emplace_back(id, weight);
    }
    std::sort(active.begin(), active.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    ActiveTags out;
    out.ids.reserve(active.size());
    out.weights.reserve(active.size());
    for (const auto& [id, weight] : active) {
        out.ids.push_back(id);
        out.weights.push_back(weight);
        out.maybe[static_cast<std::uint32_t>(id) & 4095u] = 1;
    }
    return out;
}

void embedding_pass(const CandidatesView& c, const float* u, const std::uint8_t* want_dot, double* dot) {
    const KernelTable& kern = active_kernels();
    const std::size_t d = static_cast<std::size_t>(c.d);
    if (kern.score_dots(u, c.embedding, static_cast<std::size_t>(c.n), d, want_dot, dot)) return;
    // Some row has a non-finite entry (double sums of finite float products cannot overflow):
    // name the first.
    for (index_t i = 0; i < c.n; ++i)
        if (!std::isfinite(dot[i])) fail_embedding_row(c, i);
}

namespace {
[[noreturn]] void fail_score_overflow(index_t i) {
    // Inputs are finite, but their weighted sum overflowed double: refuse rather than rank by inf/NaN.
    fail("candidates.embedding", "the score of candidate " + std::to_string(i) +
                                     " overflows (not finite); rescale the embeddings, prior or policy weights");
}
}  // namespace

void compute_scores(const CandidatesView& c, const UserView& u, const Policy& p, const ActiveTags& tags,
                    const std::uint8_t* drop, const double* dot, double* scores, std::uint8_t* tag_match) {
    const std::size_t n = static_cast<std::size_t>(c.n);
    const bool use_tags = u.personalized && c.tag_indptr != nullptr && !tags.ids.empty();
    // T_i for every item, from one flat pass over the tag list rather than a loop per item: an
    // item's loop runs for its own (varying) tag count, and its exit branch was mispredicted
    // about once per item. Per item, weights are still added in tag order, so the sums are
    // the same.
    std::vector<double> tag_sum(u.personalized ? n : 0, 0.0);  // zeros where no tag counts
    std::fill(tag_match, tag_match + n, std::uint8_t{0});
    if (use_tags) {
        const std::size_t total = static_cast<std::size_t>(c.tag_count);
        // The positions whose tag passes the interest filter, appended branch-free: most item
        // tags are not interests, and the filter turns most of those away.
        // Written before read, so not zeroed: zeroing it wrote 4 bytes per item tag (about
        // 10 KB per feed-1k request) that were overwritten right away.
        std::unique_ptr<std::int32_t[]> hits(new std::int32_t[std::max<std::size_t>(1, total)]);
        // Four positions a step: the loop's own count and branch cost about as much as the
        // test of one position.
        std::size_t hit_count = 0, j = 0;
        auto test = [&](std::size_t at) {
            hits[hit_count] = static_cast<std::int32_t>(at);  // hit_count <= at < total
            hit_count += tags.maybe_contains(c.tag_ids[at]);
        };
        for (; j + 4 <= total; j += 4) {
            test(j);
            test(j + 1);
            test(j + 2);
            test(j + 3);
        }
        for (; j < total; ++j) test(j);
        // stamp[t] = last item that counted active tag t, so a tag listed twice on an item counts once.
        std::vector<std::int32_t> stamp(tags.ids.size(), -1);
        std::size_t i = 0;
        for (std::size_t h = 0; h < hit_count; ++h) {
            const std::int64_t j = hits[h];
            // The item that lists position j: hits ascend, so their items do too. tag_indptr was
            // validated non-decreasing, from 0 to tag_count > j, but it is the caller's memory and
            // may be written while we run: the walk is bounded by n itself, not by its values.
            while (i + 1 < n && c.tag_indptr[i + 1] <= j) ++i;
            if (drop[i] != kEligible) continue;
            const std::size_t t = tags.find(c.tag_ids[j]);
            if (t == ActiveTags::kAbsent) continue;
            const std::int32_t item = static_cast<std::int32_t>(i);
            if (stamp[t] == item) continue;
            stamp[t] = item;
            tag_sum[i] += tags.weights[t];
            tag_match[i] = 1;
        }
    }
    // Every row gets a score, eligible or not (a dropped row's score is never read), so the
    // loops have no branch on the drop code and vectorise; only an eligible row's overflow
    // fails the request. A term the request does not use is +0.0 (dot[i] where it was not
    // computed, tag_sum[i] where no tag counts, w_rel when zero, -0.0 included), exactly as when
    // such terms were left out of the sum.
    if (!u.personalized) {
        for (std::size_t i = 0; i < n; ++i) scores[i] = p.w_prior * static_cast<double>(c.prior[i]);
    } else {
        const double w_rel = p.w_rel != 0.0 ? p.w_rel : 0.0;
        for (std::size_t i = 0; i < n; ++i)
            scores[i] = w_rel * dot[i] + p.w_tag * tag_sum[i] + p.w_prior * static_cast<double>(c.prior[i]);
    }
    std::uint32_t overflow = 0;
    for (std::size_t i = 0; i < n; ++i)
        overflow |= static_cast<std::uint32_t>(drop[i] == kEligible) & static_cast<std::uint32_t>(!std::isfinite(scores[i]));
    if (overflow == 0) return;
    for (std::size_t i = 0; i < n; ++i)
        if (drop[i] == kEligible && !std::isfinite(scores[i])) fail_score_overflow(static_cast<index_t>(i));
}

}  // namespace ranker
