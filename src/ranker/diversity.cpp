#include "ranker/diversity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

namespace ranker {

// ---- MMR ----

MmrObjective::MmrObjective(double lambda, std::size_t d, const double* pool_scores, std::int32_t pool_size,
                           std::vector<const float*> rows, std::size_t placed_capacity)
    : lambda_(lambda),
      scores_(pool_scores),
      kern_(active_kernels()),
      d_(d),
      rows_(kern_, d, std::move(rows)),
      placed_(d, placed_capacity),
      max_cos_(static_cast<std::size_t>(pool_size), -std::numeric_limits<double>::infinity()),
      compared_(static_cast<std::size_t>(pool_size), 0) {
    for (std::size_t row = static_cast<std::size_t>(pool_size); row < rows_.size(); ++row)
        placed_.add(rows_.row(row), rows_.inv_norm(row));
}

void MmrObjective::stage(std::vector<HeapEntry>& entries) {
    if (placed_.empty() || entries.empty()) return;
    RANKER_INVARIANT(!has_staged(), "items are staged once, when P gets its first member");
    // Buckets of width (1 - lambda) / 8 below the largest bound (a sixteenth of the penalty's
    // range), the last one open-ended: fine enough that a release primes few items the queue
    // would not have reached, coarse enough that it primes many at a time.
    constexpr std::size_t kBuckets = 64;  // < kNotStaged
    // Each item's bound, computed once, replaces its key: `entries` is consumed here.
    double top = -std::numeric_limits<double>::infinity();
    for (HeapEntry& e : entries) {
        e.key = never_compared_bound(e.local);
        top = std::max(top, e.key);
    }
    const double buckets_per_unit = 8.0 / (1.0 - lambda_);  // inf when lambda is 1
    auto bucket_of = [&](double bound) -> std::size_t {
        const double steps = (top - bound) * buckets_per_unit;  // >= 0; NaN or inf when lambda is 1
        return steps < static_cast<double>(kBuckets - 1) ? static_cast<std::size_t>(steps) : (steps >= 0.0 ? kBuckets - 1 : 0);
    };
    // Counting sort by bucket; the bound of a bucket is its largest key (the bucket index only
    // falls as the key falls, so the bounds fall bucket after bucket). Each bucket lists its
    // items in ascending local order, so a release reads their rows in memory order.
    constexpr std::uint8_t kNotStaged = 0xff;
    std::vector<std::uint8_t> bucket_by_local(max_cos_.size(), kNotStaged);
    std::size_t count[kBuckets] = {};
    double bound[kBuckets];
    std::fill(bound, bound + kBuckets, -std::numeric_limits<double>::infinity());
    for (const HeapEntry& e : entries) {
        const std::size_t b = bucket_of(e.key);
        bucket_by_local[static_cast<std::size_t>(e.local)] = static_cast<std::uint8_t>(b);
        ++count[b];
        bound[b] = std::max(bound[b], e.key);
    }
    std::size_t start[kBuckets];
    std::size_t at = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
        start[b] = at;
        at += count[b];
        if (count[b] > 0) {  // empty buckets are left out
            bucket_end_.push_back(at);
            bucket_bound_.push_back(bound[b]);
        }
    }
    staged_.resize(entries.size());
    for (std::size_t l = 0; l < bucket_by_local.size(); ++l)
        if (bucket_by_local[l] != kNotStaged) staged_[start[bucket_by_local[l]]++] = static_cast<std::int32_t>(l);
    entries.clear();
    next_bucket_ = 0;
    scratch_rows_.resize(staged_.size());
    scratch_norm2_.resize(staged_.size());
    scratch_dots_.resize(staged_.size());
}

void MmrObjective::compare_with_first_placed(const std::int32_t* locals, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) scratch_rows_[i] = rows_.row(static_cast<std::size_t>(locals[i]));
    kern_.norm2_dot_rows(scratch_rows_.data(), count, placed_.row(0), d_, scratch_norm2_.data(), scratch_dots_.data());
    for (std::size_t i = 0; i < count; ++i) {
        const std::int32_t l = locals[i];
        const double inv = rows_.set_norm2(static_cast<std::size_t>(l), scratch_norm2_[i]);
        double c = scratch_dots_[i] * inv;  // mmr_cosines' float path
        if (!float_products_safe(inv)) mmr_cosines(kern_, rows_.row(static_cast<std::size_t>(l)), inv, placed_, 0, 1, d_, &c);
        max_cos_[l] = c;
        compared_[l] = 1;
    }
}

void MmrObjective::refresh(std::int32_t l, double threshold) {
    // Placed items are compared a block at a time (one dot_block call); the early stop is
    // checked between blocks. A block may go past the point where a one-by-one loop would have
    // stopped: max_cos_ then covers more of P, which only tightens the key.
    constexpr std::size_t kBlock = 4;
    double m = max_cos_[l];
    const std::size_t total = placed_.size();
    const std::size_t row = static_cast<std::size_t>(l);
    const float* e = rows_.row(row);
    const double inv = rows_.inv_norm(row);
    // Gain below threshold <=> m above this cutoff (lambda < 1; with lambda = 1 there is no penalty).
    const double relevance = lambda_ * scores_[l];
    std::size_t q = static_cast<std::size_t>(compared_[l]);
    double cos[kBlock];
    while (q < total) {
        const std::size_t count = std::min(kBlock, total - q);
        mmr_cosines(kern_, e, inv, placed_, q, count, d_, cos);
        q += count;
        // c > m ? c : m is one maxsd; std::max(m, c) compiled to a branch here. The early stop
        // is tested after every block: the gain only falls below threshold when m grew (the
        // item was visited because its gain was at least threshold).
        for (std::size_t i = 0; i < count; ++i) {
            const double c = cos[i];
            m = c > m ? c : m;
        }
        if (relevance - (1.0 - lambda_) * m < threshold) break;
    }
    max_cos_[l] = m;
    compared_[l] = static_cast<std::int32_t>(q);
}

bool MmrObjective::on_selected(std::int32_t l) {
    const bool was_empty = placed_.empty();
    const std::size_t row = static_cast<std::size_t>(l);
    placed_.add(rows_.row(row), rows_.inv_norm(row));
    return was_empty;
}

// ---- DPP ----

void orthonormal_complement(const KernelTable& kern, const double* q, std::size_t b, std::size_t d, const double* u,
                            double* out) {
    std::copy(u, u + d, out);
    for (int pass = 0; pass < 2; ++pass) {
        for (std::size_t p = 0; p < b; ++p) {
            const double* qp = q + p * d;
            kern.axpy_f64(-kern.dot_f64(qp, out, d), qp, out, d);
        }
    }
    const double norm = std::sqrt(kern.dot_f64(out, out, d));
    const double inv = norm > 0.0 ? 1.0 / norm : 0.0;
    for (std::size_t j = 0; j < d; ++j) out[j] *= inv;
}

DppObjective::DppObjective(double alpha, std::size_t d, const double* pool_scores, std::int32_t pool_size,
                           std::vector<const float*> rows, const std::vector<double>& pin_scores,
                           std::int64_t basis_capacity)
    : scores_(pool_scores), kern_(active_kernels()), d_(d), rows_(kern_, d, std::move(rows)) {
    const std::size_t total = rows_.size();
    RANKER_INVARIANT(total == static_cast<std::size_t>(pool_size) + pin_scores.size(), "one row per pool item and pin");
    double s_max = -std::numeric_limits<double>::infinity();
    for (std::int32_t l = 0; l < pool_size; ++l) s_max = std::max(s_max, pool_scores[l]);
    for (double s : pin_scores) s_max = std::max(s_max, s);
    r2_.resize(total);
    d2_.resize(total);
    for (std::size_t row = 0; row < total; ++row) {
        const double s = row < static_cast<std::size_t>(pool_size) ? pool_scores[row] : pin_scores[row - pool_size];
        const double r = std::exp(alpha * (s - s_max));
        r2_[row] = r * r;
        d2_[row] = r2_[row];  // L_ii = r_i^2
    }
    dormant_.resize(static_cast<std::size_t>(pool_size));
    for (std::int32_t l = 0; l < pool_size; ++l) dormant_[static_cast<std::size_t>(l)] = l;
    std::sort(dormant_.begin(), dormant_.end(), [this](std::int32_t a, std::int32_t b) { return r2_[a] > r2_[b]; });
    active_.reserve(static_cast<std::size_t>(pool_size));
    unit_.resize(d_);
    capacity_ = static_cast<std::size_t>(std::max<std::int64_t>(0, std::min<std::int64_t>(basis_capacity, total)));
    basis_.reset(new double[std::max<std::size_t>(1, capacity_ * d_)]);
    catch_up_dots_.resize(capacity_);
    // Placed pins enter the basis first, in slot order; each folds in the pins before it.
    for (std::size_t q = 0; q < pin_scores.size(); ++q) {
        const std::int32_t row = static_cast<std::int32_t>(pool_size + q);
        catch_up(row);
        if (d2_[row] > kDppEps) add_to_basis(row);
    }
}

// The same operations, in the same order, as the updates of add_to_basis: a row caught up
// late has exactly the d2 it would have had if it had been live all along.
// All projections come from one dot_mixed_basis call; the few computed past the point where
// d2 reaches EPS are not applied.
void DppObjective::catch_up(std::int32_t row) {
    const float* e = rows_.row(static_cast<std::size_t>(row));
    const double inv = rows_.inv_norm(static_cast<std::size_t>(row));
    const double r2 = r2_[row];
    double d2 = d2_[row];
    const std::size_t count = static_cast<std::size_t>(basis_size_);
    kern_.dot_mixed_basis(basis_.get(), count, e, d_, catch_up_dots_.data());
    for (std::size_t b = 0; b < count && d2 > kDppEps; ++b) {
        const double a = catch_up_dots_[b] * inv;
        d2 = d2 - r2 * (a * a);
    }
    d2_[row] = d2;
}

std::int32_t DppObjective::activate_next() {
    const std::int32_t l = dormant_[next_dormant_++];
    catch_up(l);
    active_.push_back(l);
    if (d2_[l] > kDppEps) {
        live_.push_back(l);
        live_rows_.push_back(rows_.row(static_cast<std::size_t>(l)));
        live_inv_norm_.push_back(rows_.inv_norm(static_cast<std::size_t>(l)));
        live_r2_.push_back(r2_[l]);
        live_d2_.push_back(d2_[l]);
    }
    return l;
}

void DppObjective::start_fill() {
    fill_ = true;
    // Scores are exact for every item: the dormant ones join the scan.
    active_.insert(active_.end(), dormant_.begin() + static_cast<std::ptrdiff_t>(next_dormant_), dormant_.end());
    next_dormant_ = dormant_.size();
}

void DppObjective::add_to_basis(std::int32_t row) {
    RANKER_INVARIANT(static_cast<std::size_t>(basis_size_) < capacity_, "DPP basis exceeds its capacity");
    double* q = basis_.get() + static_cast<std::size_t>(basis_size_) * d_;
    rows_.unit_row(static_cast<std::size_t>(row), unit_.data());
    orthonormal_complement(kern_, basis_.get(), static_cast<std::size_t>(basis_size_), d_, unit_.data(), q);
    ++basis_size_;
    // The selected item leaves the live set (the order of the live set does not matter).
    const auto selected = std::find(live_.begin(), live_.end(), row);
    if (selected != live_.end()) {
        const std::size_t last = live_.size() - 1;
        move_live(last, static_cast<std::size_t>(selected - live_.begin()));
        truncate_live(last);
    }
    // The same operations, in the same order per item, as the textbook eager loop:
    // a = <q, e_l> / |e_l|, d2 -= r2 * a^2, over arrays in live order (the compiler vectorises
    // it), then copied back by local for the slot loop; items whose d2 reached EPS leave.
    const std::size_t count = live_.size();
    dots_.resize(count);
    kern_.dot_mixed_rows(q, live_rows_.data(), count, d_, dots_.data());
    double* d2 = live_d2_.data();
    const double* r2 = live_r2_.data();
    const double* inv = live_inv_norm_.data();
    const double* dots = dots_.data();
    for (std::size_t i = 0; i < count; ++i) {
        const double a = dots[i] * inv[i];
        d2[i] = d2[i] - r2[i] * (a * a);
    }
    bool drops = false;
    for (std::size_t i = 0; i < count; ++i) {
        d2_[live_[i]] = d2[i];
        drops |= !(d2[i] > kDppEps);
    }
    if (!drops) return;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < count; ++i)
        if (d2[i] > kDppEps) move_live(i, kept++);
    truncate_live(kept);
}

void DppObjective::move_live(std::size_t from, std::size_t to) {
    live_[to] = live_[from];
    live_rows_[to] = live_rows_[from];
    live_inv_norm_[to] = live_inv_norm_[from];
    live_r2_[to] = live_r2_[from];
    live_d2_[to] = live_d2_[from];
}

void DppObjective::truncate_live(std::size_t n) {
    live_.resize(n);
    live_rows_.resize(n);
    live_inv_norm_.resize(n);
    live_r2_.resize(n);
    live_d2_.resize(n);
}

bool DppObjective::on_selected(std::int32_t l) {
    const auto placed = std::find(active_.begin(), active_.end(), l);
    RANKER_INVARIANT(placed != active_.end(), "DPP places only scanned items");
    *placed = active_.back();
    active_.pop_back();
    if (!fill_) {
        RANKER_INVARIANT(d2_[l] > kDppEps, "DPP selects only items with d2 > EPS outside fill mode");
        add_to_basis(l);
    }
    return false;
}

}  // namespace ranker
