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
        // The counting sort runs as kStreams interleaved streams: the items are cut into
        // kStreams contiguous runs, each with its own counts and cursors, and every loop step
        // takes one item from each run. With one stream, an item landing in the same bucket as
        // the one before it (most neighbours do: scores bunch in a few buckets) waited for that
        // item's store to its count or cursor, about 5 cycles an item. A bucket lists run 0's
        // items, then run 1's, and so on, so its locals still ascend.
        const std::size_t run = n / kStreams;  // run s is [s * run, (s + 1) * run); the last run also takes the rest
        // slot[s][b]: run s's count in bucket b, then where its next item in b goes (n < 2^31).
        std::uint32_t slot[kStreams][kMaxBuckets];
        double best[kStreams][kMaxBuckets];
        for (std::size_t s = 0; s < kStreams; ++s) {
            std::fill(slot[s], slot[s] + buckets, std::uint32_t{0});
            std::fill(best[s], best[s] + buckets, -std::numeric_limits<double>::infinity());
        }
        // visit(s, l) for every item l of run s, one item of each run per step.
        auto interleaved = [run, n](auto&& visit) {
            for (std::size_t i = 0; i < run; ++i)
                for (std::size_t s = 0; s < kStreams; ++s) visit(s, s * run + i);
            for (std::size_t l = kStreams * run; l < n; ++l) visit(kStreams - 1, l);
        };
        interleaved([&](std::size_t s, std::size_t l) {
            const std::size_t b = bucket[l];
            ++slot[s][b];
            best[s][b] = keys[l] > best[s][b] ? keys[l] : best[s][b];
        });
        std::uint32_t at = 0;
        for (std::size_t b = 0; b < buckets; ++b) {
            const std::uint32_t first = at;
            double top = -std::numeric_limits<double>::infinity();
            for (std::size_t s = 0; s < kStreams; ++s) {
                const std::uint32_t items_here = slot[s][b];
                slot[s][b] = at;
                at += items_here;
                top = best[s][b] > top ? best[s][b] : top;
            }
            if (at > first) {  // empty buckets are left out
                end_[buckets_] = at;
                top_key_[buckets_++] = top;
            }
        }
        items_.resize(n);
        std::int32_t* items = items_.data();
        interleaved([&](std::size_t s, std::size_t l) { items[slot[s][bucket[l]]++] = static_cast<std::int32_t>(l); });
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
    static constexpr std::size_t kStreams = 4;  // interleaved runs of the counting sort (constructor)

    std::vector<std::int32_t> items_;      // bucket after bucket
    std::size_t buckets_ = 0;              // non-empty buckets
    std::size_t end_[kMaxBuckets];         // bucket b is items_[end_[b - 1] .. end_[b])
    double top_key_[kMaxBuckets];          // the largest key in bucket b
    std::size_t next_ = 0;                 // buckets before it are taken
};

}  // namespace ranker
