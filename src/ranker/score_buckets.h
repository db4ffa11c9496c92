// Items in buckets of descending key, each bucket's largest key kept, for the objectives that
// take their items best first. The lazy objectives bucket the pool by score: an item's key in
// the slot loop's queue (select.cpp) is bounded by an increasing function of its score (MMR:
// lambda * s plus the largest penalty bonus; no diversity: s itself), so a bucket's largest
// score bounds every key in it, and the queue takes a bucket in only once that bound could
// reach the slot's winner. Selection visits the best few dozen of a pool of thousands: building
// a heap over all of them was most of the queue's cost, and the items far below every winner
// are never touched. DPP buckets its dormant items by log r, the same way (diversity.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace ranker {

class ScoreBuckets {
  public:
    static constexpr std::size_t kMaxBuckets = 256;  // bucket indices fit a byte

    // keys[0 .. count) by local, from lowest to highest. Bucket b holds the keys in
    // (highest - (b + 1) / per_unit, highest - b / per_unit], the last of `buckets` (at most
    // kMaxBuckets) everything below it, with per_unit = finest_per_unit coarsened where needed
    // for the buckets to span every key (so the open-ended last bucket holds few items); one
    // bucket when finest_per_unit is 0 or the range is 0 or not finite. Each bucket lists its
    // locals in ascending order (a counting sort: no comparisons, and a bucket's rows are then
    // read in memory order).
    ScoreBuckets(const double* keys, std::int32_t count, double lowest, double highest, double finest_per_unit,
                 std::size_t buckets) {
        const std::size_t n = static_cast<std::size_t>(count);
        buckets = std::min(std::max<std::size_t>(buckets, 1), kMaxBuckets);
        const double range = highest - lowest;
        std::vector<std::uint8_t> bucket(n);
        if (range > 0.0 && std::isfinite(range) && finest_per_unit > 0.0) {
            const double last = static_cast<double>(buckets - 1);
            const double spanning = last / range;
            const double per_unit = finest_per_unit < spanning ? finest_per_unit : spanning;
            // (highest - key) * per_unit lies in [0, buckets - 1]; the min only catches rounding.
            // Through int, not size_t: the loop vectorises.
            for (std::size_t l = 0; l < n; ++l)
                bucket[l] = static_cast<std::uint8_t>(static_cast<int>(std::min((highest - keys[l]) * per_unit, last)));
        }
        std::size_t size[kMaxBuckets];
        double best[kMaxBuckets];
        std::fill(size, size + buckets, std::size_t{0});
        std::fill(best, best + buckets, -std::numeric_limits<double>::infinity());
        for (std::size_t l = 0; l < n; ++l) {
            const std::size_t b = bucket[l];
            ++size[b];
            best[b] = keys[l] > best[b] ? keys[l] : best[b];
        }
        std::size_t start[kMaxBuckets];
        std::size_t at = 0;
        for (std::size_t b = 0; b < buckets; ++b) {
            start[b] = at;
            at += size[b];
            if (size[b] > 0) {  // empty buckets are left out
                end_[buckets_] = at;
                top_key_[buckets_++] = best[b];
            }
        }
        items_.resize(n);
        for (std::size_t l = 0; l < n; ++l) items_[start[bucket[l]]++] = static_cast<std::int32_t>(l);
    }

    bool empty() const { return next_ == buckets_; }
    // The largest key in the next bucket (not empty()).
    double next_top_key() const { return top_key_[next_]; }
    // The next bucket's locals, ascending: [*begin, *end). Advances to the bucket after it.
    void take(const std::int32_t** begin, const std::int32_t** end) {
        const std::size_t first = next_ == 0 ? 0 : end_[next_ - 1];
        *begin = items_.data() + first;
        *end = items_.data() + end_[next_++];
    }
    // The largest bucket (scratch size for a caller that processes one bucket at a time).
    std::size_t largest() const {
        std::size_t most = 0, from = 0;
        for (std::size_t b = 0; b < buckets_; ++b) {
            most = end_[b] - from > most ? end_[b] - from : most;
            from = end_[b];
        }
        return most;
    }

  private:
    std::vector<std::int32_t> items_;      // bucket after bucket
    std::size_t buckets_ = 0;              // non-empty buckets
    std::size_t end_[kMaxBuckets];         // bucket b is items_[end_[b - 1] .. end_[b])
    double top_key_[kMaxBuckets];          // the largest key in bucket b
    std::size_t next_ = 0;                 // buckets before it are taken
};

}  // namespace ranker
