// Value checks on user input. Every failure throws InvalidInput whose message starts with the
// field name, says what was expected and what was found. Everything here runs before any
// result exists, so a request either fails whole or is served whole.
#pragma once

#include <string>

#include "ranker/types.h"

namespace ranker {

// Formats a double for messages ("nan", "inf", "1.5").
std::string format_value(double x);

[[noreturn]] void fail(const std::string& field, const std::string& detail);

// Checks what the core relies on and normalises (sorts forbidden tags). Called once when a
// PolicyCore is built; the Python Policy has usually validated all of it already.
void validate_policy(Policy& policy);

// Checks k, dimensions, every user, history and candidate value except the candidate
// embedding rows (validated in the scoring pass, see score.h), and the fields a rule of this
// request needs (fail closed when one is missing).
void validate_request(const CandidatesView& c, const UserView& u, const Policy& p, std::int64_t k,
                      const HistoryView* history);

// Throws the error for a candidate embedding row whose accumulated dot/norm was not finite:
// finds the first non-finite entry of that row for the message.
[[noreturn]] void fail_embedding_row(const CandidatesView& c, index_t row);

}  // namespace ranker
