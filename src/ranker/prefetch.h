// Asking the memory system for data ahead of its use, one request per 64-byte cache line.
// Used where the loads that follow cannot be predicted by the hardware prefetcher (rows or
// columns read in an order it does not see coming).
#pragma once

#include <cstddef>

namespace ranker {

// Requests every cache line of [p, p + bytes) into the caches; no effect on the program's
// results, and safe for any address (a prefetch never faults).
inline void request_lines(const void* p, std::size_t bytes) {
    const char* first = static_cast<const char*>(p);
    for (std::size_t at = 0; at < bytes; at += 64) __builtin_prefetch(first + at);
}

}  // namespace ranker
