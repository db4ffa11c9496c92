// Step 2: scores of eligible items, and the one pass over every embedding row that both
// validates it (a double sum of float products is finite iff every entry is finite) and
// computes what later steps need (dot with the user, squared norm).
#pragma once

#include <cstdint>
#include <vector>

#include "ranker/types.h"

namespace ranker {

// The user's interest tags that may reach a score: minus deleted tags, minus the policy's
// forbidden tags, minus zero weights; sorted by id.
struct ActiveTags {
    std::vector<std::int32_t> ids;
    std::vector<double> weights;
    // maybe[id mod 4096] = 1 for every active id: most item tags are not interests, and one
    // table lookup rejects them before the branchy binary search. Bytes, not bits: the scoring
    // pass tests every item tag (about 12,000 per feed-5k request), and a byte load takes three
    // fewer instructions per tag than a bit test (word index, shift, mask).
    std::uint8_t maybe[4096] = {};

    std::uint8_t maybe_contains(std::int32_t id) const { return maybe[static_cast<std::uint32_t>(id) & 4095u]; }

    static constexpr std::size_t kAbsent = static_cast<std::size_t>(-1);

    // The position of id in ids, or kAbsent. A binary search whose steps are conditional moves:
    // std::lower_bound's branch on each comparison is a coin flip, mispredicted about every
    // other step for the item tags that pass the filter.
    std::size_t find(std::int32_t id) const {
        std::size_t base = 0, length = ids.size();
        if (length == 0) return kAbsent;
        while (length > 1) {  // the last id <= the one sought, if any, lies in [base, base + length)
            const std::size_t half = length / 2;
            base = ids[base + half] <= id ? base + half : base;
            length -= half;
        }
        return ids[base] == id ? base : kAbsent;
    }
};
ActiveTags active_tags(const UserView& u, const Policy& p);

// One pass over all n rows: validates every row (throws InvalidInput naming
// candidates.embedding for the first row holding a non-finite value, whatever its drop code)
// and stores dot[i] = <u, e_i> for rows with want_dot[i] != 0. Norms are not computed here:
// the diversity objectives compute them for the few rows they evaluate.
void embedding_pass(const CandidatesView& c, const float* u, const std::uint8_t* want_dot, double* dot);

// scores[i] for every row, meaningful for eligible rows (drop[i] == 0) only; throws InvalidInput
// when an eligible row's score is not finite. tag_match[i] = 1 when the item carries an active
// tag (only meaningful when personalized). dot: from embedding_pass (read when personalized).
void compute_scores(const CandidatesView& c, const UserView& u, const Policy& p, const ActiveTags& tags,
                    const std::uint8_t* drop, const double* dot, double* scores, std::uint8_t* tag_match);

}  // namespace ranker
