#include "ranker/diversity.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ranker {

// ---- MMR ----

MmrObjective::MmrObjective(double lambda, std::size_t d, const double* pool_scores, std::int32_t pool_size,
                           std::vector<const float*> rows)
    : lambda_(lambda),
      scores_(pool_scores),
      rows_(active_kernels(), d, std::move(rows)),
      max_cos_(static_cast<std::size_t>(pool_size), -std::numeric_limits<double>::infinity()),
      compared_(static_cast<std::size_t>(pool_size), 0) {
    placed_.reserve(rows_.size());
    for (std::size_t row = static_cast<std::size_t>(pool_size); row < rows_.size(); ++row) placed_.push_back(rows_[row]);
}

void MmrObjective::refresh(std::int32_t l, double threshold) {
    double m = max_cos_[l];
    const std::size_t total = placed_.size();
    const double* row = rows_[static_cast<std::size_t>(l)];
    // Gain below threshold <=> m above this cutoff (lambda < 1; with lambda = 1 there is no penalty).
    const double relevance = lambda_ * scores_[l];
    std::size_t q = static_cast<std::size_t>(compared_[l]);
    while (q < total) {
        const double c = rows_.cosine(row, placed_[q]);
        ++q;
        if (c > m) {
            m = c;
            if (relevance - (1.0 - lambda_) * m < threshold) break;
        }
    }
    max_cos_[l] = m;
    compared_[l] = static_cast<std::int32_t>(q);
}

bool MmrObjective::on_selected(std::int32_t l) {
    const bool was_empty = placed_.empty();
    placed_.push_back(rows_[static_cast<std::size_t>(l)]);
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
    count_.assign(total, 0);
    capacity_ = static_cast<std::size_t>(std::max<std::int64_t>(0, std::min<std::int64_t>(basis_capacity, total)));
    basis_.reset(new double[std::max<std::size_t>(1, capacity_ * d_)]);
    // Placed pins enter the basis first, in slot order.
    for (std::size_t q = 0; q < pin_scores.size(); ++q) {
        const std::int32_t row = static_cast<std::int32_t>(pool_size + q);
        catch_up(row, -std::numeric_limits<double>::infinity());
        if (d2_[row] > kDppEps) add_to_basis(row);
    }
}

void DppObjective::catch_up(std::int32_t row, double threshold) {
    std::int32_t b = count_[row];
    if (b == basis_size_) return;
    const double* u = rows_[static_cast<std::size_t>(row)];
    const double r2 = r2_[row];
    double d2 = d2_[row];
    while (b < basis_size_) {
        const double a = kern_.dot_f64(basis_.get() + static_cast<std::size_t>(b) * d_, u, d_);
        ++b;
        d2 -= r2 * (a * a);
        if (d2 < threshold) break;
    }
    d2_[row] = d2;
    count_[row] = b;
}

void DppObjective::add_to_basis(std::int32_t row) {
    RANKER_INVARIANT(count_[row] == basis_size_, "basis item must be caught up");
    RANKER_INVARIANT(static_cast<std::size_t>(basis_size_) < capacity_, "DPP basis exceeds its capacity");
    orthonormal_complement(kern_, basis_.get(), static_cast<std::size_t>(basis_size_), d_,
                           rows_[static_cast<std::size_t>(row)], basis_.get() + static_cast<std::size_t>(basis_size_) * d_);
    ++basis_size_;
}

bool DppObjective::on_selected(std::int32_t l) {
    if (!fill_) {
        RANKER_INVARIANT(d2_[l] > kDppEps, "DPP selects only items with d2 > EPS outside fill mode");
        add_to_basis(l);
    }
    return false;
}

}  // namespace ranker
