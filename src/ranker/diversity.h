// The MMR and DPP objectives as lazily evaluated state for the slot loop in select.cpp.
//
// Both are "lazy greedy" (Minoux): an item's stored key is an upper bound of its current
// objective, because the objective can only decrease as items are placed. The slot loop pops
// the best key; a stale item is brought up to date (only against the items placed since it
// was last looked at) and pushed back; a fresh item is the exact argmax.
//
// A refresh may also stop early: every step against one more placed item can only lower the
// key, so once the key falls below `threshold` (the next-best key in the queue) the item cannot
// win this slot, and the key it has is still an upper bound. The rest of the catch-up waits until
// the item reaches the top again, which on clustered data is often never: this cuts the number
// of similarity evaluations by 2 to 10 times against a full catch-up. Each item's state is
// updated with exactly the same operations, in the same order, as an eager loop would use, so
// the selection is identical to the eager algorithm (tests/cpp checks this).
//
// Items are "locals": pool items are 0..pool_size-1 in ascending candidate index (so comparing
// locals breaks ties like comparing candidate indices).
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "ranker/kernels.h"
#include "ranker/types.h"

namespace ranker {

// A row that enters cosine similarities: its float32 embedding and its norm |e| (negative =
// not computed yet; the objectives compute norms only for the rows they evaluate).
struct EmbeddingRef {
    const float* embedding;
    double norm;
};

// |e| = sqrt of the double sum of squares (the same kernel everywhere, so lazy and eager agree).
inline double row_norm(const KernelTable& kern, const float* e, std::size_t d) { return std::sqrt(kern.norm2(e, d)); }
inline void ensure_norm(const KernelTable& kern, EmbeddingRef& row, std::size_t d) {
    if (row.norm < 0.0) row.norm = row_norm(kern, row.embedding, d);
}

// cos(a, b) = <a, b> / (|a| |b|), 0 when either norm is 0 (docs/semantics.md).
inline double cosine(const KernelTable& kern, const EmbeddingRef& a, const EmbeddingRef& b, std::size_t d) {
    if (a.norm == 0.0 || b.norm == 0.0) return 0.0;
    return kern.dot(a.embedding, b.embedding, d) / (a.norm * b.norm);
}

// Objective = score (no diversity). Always fresh.
class ScoreObjective {
  public:
    explicit ScoreObjective(const double* pool_scores) : scores_(pool_scores) {}
    double key(std::int32_t l) const { return scores_[l]; }
    bool fresh(std::int32_t) const { return true; }
    void refresh(std::int32_t, double) {}
    bool on_selected(std::int32_t) { return false; }
    bool wants_fill(std::int32_t) const { return false; }
    void start_fill() {}
    std::uint32_t slot_reason() const { return 0; }

  private:
    const double* scores_;
};

// MMR gain lambda * s_i - (1 - lambda) * max_{j in P} cos(e_i, e_j); P = history, placed pins,
// then items selected so far. Penalty 0 while P is empty.
class MmrObjective {
  public:
    MmrObjective(double lambda, std::size_t d, const double* pool_scores, const EmbeddingRef* pool_rows,
                 std::int32_t pool_size, std::vector<EmbeddingRef> placed_before_selection);

    // Exact gain when fresh, else an upper bound of it.
    double key(std::int32_t l) const;
    bool fresh(std::int32_t l) const { return compared_[l] == static_cast<std::int32_t>(placed_.size()); }
    // Compares with the placed items not seen yet, stopping once the gain is below threshold.
    void refresh(std::int32_t l, double threshold);
    // Adds the item to P. Returns true when every key must be recomputed: the first item
    // placed in an empty P can raise gains (a negative cosine is a bonus), so old keys are
    // not upper bounds across that one step.
    bool on_selected(std::int32_t l);
    bool wants_fill(std::int32_t) const { return false; }
    void start_fill() {}
    std::uint32_t slot_reason() const { return kReasonDiversity; }
    double gain(std::int32_t l) const;

  private:
    double lambda_;
    std::size_t d_;
    const double* scores_;
    std::vector<EmbeddingRef> rows_;
    const KernelTable& kern_;
    std::vector<EmbeddingRef> placed_;
    std::vector<double> max_cos_;         // max cosine against placed_[0 .. compared_)
    std::vector<std::int32_t> compared_;  // how many of placed_ each item has been compared with
};

// Greedy DPP MAP (Chen, Zhang, Zhou 2018) with incremental Cholesky rows c_i and residuals
// d2_i, caught up per item only when it reaches the top. State in double.
class DppObjective {
  public:
    // pin_rows/pin_scores: placed pins in slot order; they enter the basis first (skipped
    // when d2 <= EPS). basis_capacity: most items that can ever join the basis.
    DppObjective(double alpha, std::size_t d, const double* pool_scores, const EmbeddingRef* pool_rows,
                 std::int32_t pool_size, const std::vector<EmbeddingRef>& pin_rows,
                 const std::vector<double>& pin_scores, std::int64_t basis_capacity);

    double key(std::int32_t l) const { return fill_ ? scores_[l] : d2_[l]; }
    bool fresh(std::int32_t l) const { return fill_ || count_[l] == static_cast<std::int32_t>(basis_.size()); }
    void refresh(std::int32_t l, double threshold) { catch_up(l, threshold); }
    bool on_selected(std::int32_t l);
    // The best objective over the allowed items is <= EPS: switch to scores for good.
    bool wants_fill(std::int32_t l) const { return !fill_ && d2_[l] <= kDppEps; }
    void start_fill() { fill_ = true; }
    std::uint32_t slot_reason() const { return fill_ ? kReasonScoreFill : kReasonDiversity; }
    double residual(std::int32_t l) const { return d2_[l]; }

  private:
    // Folds in basis entries not seen yet, stopping once d2 is below threshold.
    void catch_up(std::int32_t row, double threshold);
    void add_to_basis(std::int32_t row);
    double* c_row(std::int32_t row) { return c_.get() + static_cast<std::size_t>(row) * capacity_; }

    std::size_t d_;
    const double* scores_;
    const KernelTable& kern_;
    std::int32_t pool_size_;
    std::vector<EmbeddingRef> rows_;  // pool rows, then pin rows
    std::vector<double> r_;           // exp(alpha * (s - s_max))
    std::vector<double> d2_;
    std::vector<std::int32_t> count_;  // basis entries folded into c_row / d2 so far
    std::size_t capacity_;
    std::unique_ptr<double[]> c_;      // rows x capacity_, written before read (no zero fill)
    std::vector<std::int32_t> basis_;  // rows in basis order
    std::vector<double> basis_sqrt_d2_;
    bool fill_ = false;
};

}  // namespace ranker
