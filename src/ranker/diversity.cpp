#include "ranker/diversity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "ranker/prefetch.h"

namespace ranker {

// ---- MMR ----

MmrObjective::MmrObjective(double lambda, std::size_t d, const double* pool_scores, std::int32_t pool_size,
                           double lowest, double highest, RowSource rows, std::size_t placed_capacity)
    : lambda_(lambda),
      scores_(pool_scores),
      kern_(active_kernels()),
      d_(d),
      rows_(kern_, d, std::move(rows), static_cast<std::size_t>(pool_size)),
      placed_(d, placed_capacity),
      max_cos_(new double[std::max<std::size_t>(1, static_cast<std::size_t>(pool_size))]),
      compared_(new std::int32_t[std::max<std::size_t>(1, static_cast<std::size_t>(pool_size))]),
      // Gain width (1 - lambda) / 8 is score width (1 - lambda) / (8 lambda); with lambda 1 the
      // buckets are as fine as ScoreBuckets allows.
      buckets_(pool_scores, pool_size, lowest, highest,
               lambda < 1.0 ? 8.0 * lambda / (1.0 - lambda) : std::numeric_limits<double>::infinity(), kQueueBuckets) {
    const std::size_t most = buckets_.largest();
    scratch_rows_.resize(most);
    scratch_norm2_.resize(most);
    scratch_dots_.resize(most);
    for (std::size_t row = static_cast<std::size_t>(pool_size); row < rows_.size(); ++row)
        placed_.add(rows_.row(row), rows_.inv_norm(row));
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
    // stopped: max_cos_ then covers more of P, which only tightens the key. Twelve rows (three
    // of dot_block's four-row groups) per call: the extra products past a stop cost less than
    // the calls and checks of smaller blocks (2.4% fewer instructions on feed-1k-mmr than 4).
    constexpr std::size_t kBlock = 12;
    double m = max_cos_[l];
    const std::size_t total = placed_.size();
    const std::size_t row = static_cast<std::size_t>(l);
    const float* e = rows_.row(row);
    const double inv = rows_.inv_norm(row);
    const bool float_safe = float_products_safe(inv);
    // Gain below threshold <=> m above this cutoff (lambda < 1; with lambda = 1 there is no penalty).
    const double relevance = lambda_ * scores_[l];
    std::size_t q = static_cast<std::size_t>(compared_[l]);
    double dots[kBlock];
    while (q < total) {
        const std::size_t count = std::min(kBlock, total - q);
        mmr_dots(kern_, e, float_safe, placed_, q, count, d_, dots);
        q += count;
        // The block's largest cosine is its largest dot times inv: rounding a product with a
        // fixed inv >= 0 is monotone, so this is bit-identical to the largest of mmr_cosines'
        // values, at one multiplication per block. c > m ? c : m is one maxsd (std::max
        // compiled to a branch here). The early stop is tested after every block: the gain
        // only falls below threshold when m grew (the item was visited because its gain was at
        // least threshold).
        double top = dots[0];
        for (std::size_t i = 1; i < count; ++i) top = dots[i] > top ? dots[i] : top;
        const double c = top * inv;
        m = c > m ? c : m;
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
                            double* out, double* coefficients) {
    std::copy(u, u + d, out);
    for (int pass = 0; pass < 2; ++pass) kern.project_out(q, b, d, out, coefficients);
    const double norm = std::sqrt(kern.dot_f64(out, out, d));
    const double inv = norm > 0.0 ? 1.0 / norm : 0.0;
    for (std::size_t j = 0; j < d; ++j) out[j] *= inv;
}

namespace {

// The screening bound (see DppObjective). With u = 2^-24, a float dot product of length d
// summed in any order with at most d roundings per term (the kernels round far fewer) is within
// gamma = d u / (1 - d u) of sum |x_j y_j|; rounding the unit basis row to float adds u, and
// the double arithmetic of the exact value a few 2^-53. So |a_float - a_exact| <= eta, the
// (d + 2) u term with 2% to spare for the double rounding of the bounds themselves. Each step
// then moves F and d2 apart by at most r2 (eta (2 |a_float| + eta)) plus the rounding of the two
// subtractions, which kStepSlack (relative to r2, 16 double ulps) covers.
constexpr double kFloatUnit = 0x1p-24;
constexpr double kStepSlack = 0x1p-49;

}  // namespace

DppObjective::DppObjective(double alpha, std::size_t d, const double* pool_scores, std::int32_t pool_size,
                           RowSource rows, const std::vector<double>& pin_scores,
                           std::int64_t basis_capacity)
    : scores_(pool_scores), kern_(active_kernels()), d_(d), rows_(kern_, d, std::move(rows)) {
    const std::size_t total = rows_.size();
    RANKER_INVARIANT(total == static_cast<std::size_t>(pool_size) + pin_scores.size(), "one row per pool item and pin");
    const double m = static_cast<double>(d + 2) * kFloatUnit;
    screen_ = m < 0x1p-8;  // d below ~65,000: beyond that every row is kept exact
    eta_ = 1.02 * m / (1.0 - m);
    double s_max = -std::numeric_limits<double>::infinity();
    for (std::int32_t l = 0; l < pool_size; ++l) s_max = std::max(s_max, pool_scores[l]);
    for (double s : pin_scores) s_max = std::max(s_max, s);
    r2_.resize(total);
    exact_d2_.resize(total);
    exact_count_.assign(total, 0);
    for (std::size_t row = 0; row < total; ++row) {
        const double s = row < static_cast<std::size_t>(pool_size) ? pool_scores[row] : pin_scores[row - pool_size];
        const double r = std::exp(alpha * (s - s_max));
        r2_[row] = r * r;
        exact_d2_[row] = r2_[row];  // L_ii = r_i^2 (0 for a zero row: see zero_row)
    }
    order_dormant(alpha, pool_scores, pool_size, s_max);
    active_.reserve(static_cast<std::size_t>(pool_size));
    live_slot_.assign(total, -1);
    parked_dormant_.assign(total, 0);
    // Sized once for every pool item: the live set grows by one item per activation, and
    // growing six arrays by doubling copied them about ten times each per request.
    const std::size_t most_live = static_cast<std::size_t>(pool_size);
    live_.reserve(most_live);
    live_rows_.reserve(most_live);
    live_inv_norm_.reserve(most_live);
    live_r2_.reserve(most_live);
    live_approx_.reserve(most_live);
    live_error_.reserve(most_live);
    dots_.reserve(most_live);
    unit_.resize(d_);
    capacity_ = static_cast<std::size_t>(std::max<std::int64_t>(0, std::min<std::int64_t>(basis_capacity, total)));
    basis_.reset(new double[std::max<std::size_t>(1, capacity_ * d_)]);
    column_stride_ = (capacity_ + 7) / 8 * 8;
    // Zeroed: projection_moments reads the padding columns (and ignores their lanes).
    basis_columns_.reset(new float[std::max<std::size_t>(1, column_stride_ * d_)]());
    q_float_.resize(d_);
    catch_up_dots_.resize(capacity_);
    // Placed pins enter the basis first, in slot order; each folds in the pins before it.
    for (std::size_t q = 0; q < pin_scores.size(); ++q) {
        const std::int32_t row = static_cast<std::int32_t>(pool_size + q);
        if (!zero_row(static_cast<std::size_t>(row)) && certify(row) > kDppEps) add_to_basis(row);
    }
}

// The same operations, in the same order, as the textbook eager loop, from the last exact
// value on: a row certified late has exactly the d2 it would have had if it had been updated at
// every step. All projections come from one dot_mixed_basis call; the few computed past the
// point where d2 reaches EPS are not applied.
double DppObjective::certify(std::int32_t r) {
    const std::size_t row = static_cast<std::size_t>(r);
    const std::size_t from = static_cast<std::size_t>(exact_count_[row]);
    const std::size_t count = static_cast<std::size_t>(basis_size_);
    double d2 = exact_d2_[row];
    if (from < count) {
        const double inv = rows_.inv_norm(row);
        const double r2 = r2_[row];
        kern_.dot_mixed_basis(basis_.get() + from * d_, count - from, rows_.row(row), d_, catch_up_dots_.data());
        for (std::size_t b = 0; b < count - from && d2 > kDppEps; ++b) {
            const double a = catch_up_dots_[b] * inv;
            d2 = d2 - r2 * (a * a);
        }
        exact_d2_[row] = d2;
        exact_count_[row] = basis_size_;
    }
    const std::int32_t at = live_slot_[row];
    if (at >= 0) {
        live_approx_[static_cast<std::size_t>(at)] = d2;
        live_error_[static_cast<std::size_t>(at)] = 0.0;
    }
    return d2;
}

void DppObjective::order_dormant(double alpha, const double* pool_scores, std::int32_t pool_size, double s_max) {
    // Buckets of equal width in log r = alpha (s - s_max), best first, each in ascending local
    // order (no comparisons, and a bucket's rows are read in memory order); a bucket's bound is
    // the largest r^2 in it, and log r only falls bucket after bucket, so bounds never grow
    // along dormant_. A full sort by r^2 cost a quarter of a feed-5k-dpp request, which
    // activates only part of its pool.
    const std::size_t n = static_cast<std::size_t>(pool_size);
    std::vector<double> log_r(n);
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (std::size_t l = 0; l < n; ++l) {
        log_r[l] = alpha * (pool_scores[l] - s_max);
        lo = std::min(lo, log_r[l]);
        hi = std::max(hi, log_r[l]);
    }
    ScoreBuckets buckets(log_r.data(), pool_size, lo, hi, std::numeric_limits<double>::infinity(),
                         ScoreBuckets::kMaxBuckets);
    dormant_.clear();
    dormant_.reserve(n);
    dormant_bound_.clear();
    dormant_bound_.reserve(n);
    while (!buckets.empty()) {
        const std::int32_t *begin, *end;
        buckets.take(&begin, &end);
        double bound = 0.0;
        for (const std::int32_t* l = begin; l != end; ++l) bound = std::max(bound, r2_[static_cast<std::size_t>(*l)]);
        dormant_.insert(dormant_.end(), begin, end);
        dormant_bound_.insert(dormant_bound_.end(), static_cast<std::size_t>(end - begin), bound);
    }
}

std::int32_t DppObjective::activate_next(double* approx_out, double* error_out) {
    const std::int32_t l = dormant_[next_dormant_++];
    const std::size_t row = static_cast<std::size_t>(l);
    // The next activation's row, requested now: a large pool's rows are not all in cache.
    if (next_dormant_ < dormant_.size()) {
        request_lines(rows_.row(static_cast<std::size_t>(dormant_[next_dormant_])), d_ * sizeof(float));
    }
    active_.push_back(l);
    if (parked_dormant_[row]) {
        parked_.push_back(l);
        return -1;
    }
    screen_activated(l, approx_out, error_out);
    return l;
}

void DppObjective::screen_activated(std::int32_t l, double* approx_out, double* error_out) {
    const std::size_t row = static_cast<std::size_t>(l);
    if (zero_row(row)) {
        *approx_out = 0.0;
        *error_out = 0.0;
        spent_.push_back(l);
        return;
    }
    if (!screened(row)) {
        *approx_out = certify(l);
        *error_out = 0.0;
        (*approx_out > kDppEps ? exact_live_ : spent_).push_back(l);
        return;
    }
    // Screened against the basis so far: one float product per basis row, summed in any order.
    const std::size_t count = static_cast<std::size_t>(basis_size_);
    const double inv = rows_.inv_norm(row);
    const double r2 = r2_[row];
    double sum_sq = 0.0, sum_abs = 0.0;
    if (count > 0)
        kern_.projection_moments(rows_.row(row), basis_columns_.get(), column_stride_, count, d_, inv, &sum_sq, &sum_abs);
    const double approx = r2 - r2 * sum_sq;
    const double error = r2 * (eta_ * (2.0 * sum_abs + static_cast<double>(count) * eta_) +
                               static_cast<double>(count) * kStepSlack);
    *approx_out = approx;
    *error_out = error;
    if (approx + error > kDppEps) {
        join_live(l, approx, error);
    } else {
        spent_.push_back(l);
    }
}

void DppObjective::unpark() {
    if (!parking_) return;
    parking_ = false;
    std::fill(parked_dormant_.begin(), parked_dormant_.end(), 0);
    // In fill mode every activated item is scanned from active_, parked ones included.
    if (!fill_) {
        for (const std::int32_t l : parked_) {
            double approx, error;
            screen_activated(l, &approx, &error);
        }
    }
    parked_.clear();
}

bool DppObjective::zero_row(std::size_t row) {
    if (rows_.inv_norm(row) != 0.0) return false;
    exact_d2_[row] = 0.0;
    exact_count_[row] = basis_size_;
    return true;
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
    orthonormal_complement(kern_, basis_.get(), static_cast<std::size_t>(basis_size_), d_, unit_.data(), q,
                           catch_up_dots_.data());
    float* q_float = q_float_.data();
    float* column = basis_columns_.get() + basis_size_;
    for (std::size_t j = 0; j < d_; ++j) {
        q_float[j] = static_cast<float>(q[j]);
        column[j * column_stride_] = q_float[j];
    }
    ++basis_size_;
    // The selected item leaves the live sets (their order does not matter).
    leave_live(row);
    const auto exact_at = std::find(exact_live_.begin(), exact_live_.end(), row);
    if (exact_at != exact_live_.end()) {
        *exact_at = exact_live_.back();
        exact_live_.pop_back();
    }
    // Screened items: F -= r2 a^2 and the bound grows, over arrays in live order (the compiler
    // vectorises it). Items whose upper bound fell to EPS leave at find_best's next scan.
    const std::size_t count = live_.size();
    dots_.resize(count);
    kern_.dot_rows(q_float, live_rows_.data(), count, d_, dots_.data());
    double* __restrict approx = live_approx_.data();
    double* __restrict error = live_error_.data();
    const double* __restrict r2 = live_r2_.data();
    const double* __restrict inv = live_inv_norm_.data();
    const double* __restrict dots = dots_.data();
    const double eta = eta_;
    for (std::size_t i = 0; i < count; ++i) {
        const double a = dots[i] * inv[i];
        approx[i] = approx[i] - r2[i] * (a * a);
        error[i] = error[i] + r2[i] * (eta * (2.0 * std::fabs(a) + eta) + kStepSlack);
    }
    // Unscreened items stay exact.
    std::size_t kept = 0;
    for (const std::int32_t l : exact_live_) {
        if (certify(l) > kDppEps) {
            exact_live_[kept++] = l;
        } else {
            spent_.push_back(l);
        }
    }
    exact_live_.resize(kept);
}

void DppObjective::drop_spent_live() {
    move_live_out([this](std::size_t i) { return !(live_approx_[i] + live_error_[i] > kDppEps); }, spent_);
}

void DppObjective::join_live(std::int32_t l, double approx, double error) {
    const std::size_t row = static_cast<std::size_t>(l);
    live_slot_[row] = static_cast<std::int32_t>(live_.size());
    live_.push_back(l);
    live_rows_.push_back(rows_.row(row));
    live_inv_norm_.push_back(rows_.inv_norm(row));
    live_r2_.push_back(r2_[row]);
    live_approx_.push_back(approx);
    live_error_.push_back(error);
}

void DppObjective::leave_live(std::int32_t l) {
    const std::int32_t at = live_slot_[static_cast<std::size_t>(l)];
    if (at < 0) return;
    const std::size_t last = live_.size() - 1;
    move_live(last, static_cast<std::size_t>(at));
    truncate_live(last);
    live_slot_[static_cast<std::size_t>(l)] = -1;
}

void DppObjective::move_live(std::size_t from, std::size_t to) {
    live_[to] = live_[from];
    live_slot_[static_cast<std::size_t>(live_[to])] = static_cast<std::int32_t>(to);
    live_rows_[to] = live_rows_[from];
    live_inv_norm_[to] = live_inv_norm_[from];
    live_r2_[to] = live_r2_[from];
    live_approx_[to] = live_approx_[from];
    live_error_[to] = live_error_[from];
}

void DppObjective::truncate_live(std::size_t n) {
    live_.resize(n);
    live_rows_.resize(n);
    live_inv_norm_.resize(n);
    live_r2_.resize(n);
    live_approx_.resize(n);
    live_error_.resize(n);
}

bool DppObjective::on_selected(std::int32_t l) {
    const auto placed = std::find(active_.begin(), active_.end(), l);
    RANKER_INVARIANT(placed != active_.end(), "DPP places only scanned items");
    *placed = active_.back();
    active_.pop_back();
    if (!fill_) {
        RANKER_INVARIANT(exact_count_[l] == basis_size_ && exact_d2_[l] > kDppEps,
                         "DPP selects only certified items with d2 > EPS outside fill mode");
        add_to_basis(l);
    }
    return false;
}

}  // namespace ranker
