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
    if (!placed_.empty()) compare_all_with_first_placed();
}

void MmrObjective::compare_all_with_first_placed() {
    const std::size_t pool_size = max_cos_.size();
    // Both written in full before they are read: no zero fill.
    const std::unique_ptr<double[]> norm2(new double[pool_size]), dots(new double[pool_size]);
    kern_.norm2_dot_rows(rows_.rows(), pool_size, placed_.row(0), d_, norm2.get(), dots.get());
    rows_.set_norm2(norm2.get(), pool_size);
    for (std::size_t l = 0; l < pool_size; ++l) {
        const double inv = rows_.inv_norm(l);
        double c = dots[l] * inv;  // mmr_cosines' float path
        if (!float_products_safe(inv)) mmr_cosines(kern_, rows_.row(l), inv, placed_, 0, 1, d_, &c);
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
    if (was_empty) compare_all_with_first_placed();
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
