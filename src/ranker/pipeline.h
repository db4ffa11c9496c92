// The whole request: validate every input, then the gates, then eligibility, scores,
// selection and output (docs/semantics.md). rank_batch runs requests on a pool of threads.
#pragma once

#include <vector>

#include "ranker/types.h"

namespace ranker {

// history may be null. Throws InvalidInput for bad input; nothing is returned partly.
RankOutput rank(const CandidatesView& candidates, const UserView& user, const Policy& policy, std::int64_t k,
                const HistoryView* history);

struct BatchRequest {
    CandidatesView candidates;
    UserView user;
    const HistoryView* history = nullptr;
};

// Results in request order. threads <= 1 runs on the calling thread. If any request throws,
// the exception of the lowest failing index is rethrown here with "request {i}: " prefixed,
// same exception class (InvalidInput, std::invalid_argument, std::logic_error, ...).
std::vector<RankOutput> rank_batch(const std::vector<BatchRequest>& requests, const Policy& policy, std::int64_t k,
                                   int threads);

}  // namespace ranker
