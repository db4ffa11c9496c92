// The MMR and DPP objectives as state for the slot loop in select.cpp.
//
// MMR is "lazy greedy" (Minoux): an item's stored key is an upper bound of its current
// objective, because the objective can only decrease as items are placed. The slot loop pops
// the best key; a stale item is brought up to date (only against the items placed since it
// was last looked at) and pushed back; a fresh item is the exact argmax.
//
// A refresh may also stop early: every step against one more placed item can only lower the
// key, so once the key falls below `threshold` (the best exact objective the slot has found so
// far) the item cannot win this slot, and the key it has is still an upper bound. The rest of
// the catch-up waits until the item reaches the top again, which on clustered data is often
// never: this cuts the number of similarity evaluations by 2 to 10 times against a full
// catch-up. The lazy objectives hand the queue their items a bucket of scores at a time, and
// MMR makes an item's first comparison, with the first member of P, in bulk (see "Staging" in
// MmrObjective). DPP is evaluated eagerly instead (kEager; see DppObjective for
// why), on float bounds, and the few items that could win a slot get their exact value. Either
// way every value a selection rests on is computed with exactly the same operations, in the
// same order, as in the textbook eager loop, so the selection is identical to it (tests/cpp
// checks this).
//
// Items are "locals": pool items are 0..pool_size-1 in ascending candidate index (so comparing
// locals breaks ties like comparing candidate indices).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "ranker/item_heap.h"
#include "ranker/kernels.h"
#include "ranker/score_buckets.h"
#include "ranker/types.h"

namespace ranker {

// Where an objective's rows are: row r < pool_size is pool item r's embedding row, at
// embedding + pool[r] * d (pool: its candidate index); the rows after the pool (history, pins)
// are listed in extra. The pool's rows are found from its indices when used rather than
// listed: a list was 8 bytes per pool item built for every request (about 38,000 instructions
// of a feed-5k-mmr request), and a lazy objective reads a few hundred of them.
struct RowSource {
    const float* embedding = nullptr;
    const std::int32_t* pool = nullptr;  // outlives the objective
    std::size_t pool_size = 0;
    std::vector<const float*> extra;
};

// Embedding rows and their inverse norms, each norm computed the first time its row is used (a
// lazy objective touches only the rows it evaluates). Rows are read in place, never copied or
// widened: a projection or cosine is a dot product with the float row times its inverse norm,
// half the bytes of double unit rows, which is what the DPP pass over all live items is bound
// by. A zero row has inverse norm 0, so its cosine with anything is 0 (docs/semantics.md).
class NormalizedRows {
  public:
    // Rows [0, deferred) start with no entry at all: each must be forget() or set_norm2() before
    // its first use. A staged objective touches a few hundred rows of a pool of thousands, and
    // writing an entry for every row up front cost more than the entries it then read.
    NormalizedRows(const KernelTable& kern, std::size_t d, RowSource source, std::size_t deferred = 0)
        : kern_(kern),
          d_(d),
          source_(std::move(source)),
          size_(source_.pool_size + source_.extra.size()),
          inv_norm_(new double[std::max<std::size_t>(1, size_)]) {
        std::fill(inv_norm_.get() + std::min(deferred, size_), inv_norm_.get() + size_, -1.0);
    }

    const float* row(std::size_t r) const {
        if (r < source_.pool_size) return source_.embedding + static_cast<std::size_t>(source_.pool[r]) * d_;
        return source_.extra[r - source_.pool_size];
    }
    double inv_norm(std::size_t r) {
        const double inv = inv_norm_[r];
        if (inv >= 0.0) return inv;
        return inv_norm_[r] = inverse_norm(kern_.norm2(row(r), d_));  // -1: not computed yet
    }
    // Records row r's squared norm (kern.norm2 of it, computed by the caller); returns the
    // inverse norm.
    double set_norm2(std::size_t r, double norm2) { return inv_norm_[r] = inverse_norm(norm2); }
    // Row r's norm is not known yet: computed at its first use.
    void forget(std::size_t r) { inv_norm_[r] = -1.0; }
    // out = e_r / |e_r| in double (the DPP basis is built from these).
    void unit_row(std::size_t r, double* out) { kern_.widen_scaled(row(r), inv_norm(r), out, d_); }
    std::size_t size() const { return size_; }

  private:
    static double inverse_norm(double norm2) {
        const double norm = std::sqrt(norm2);
        return norm > 0.0 ? 1.0 / norm : 0.0;
    }

    const KernelTable& kern_;
    std::size_t d_;
    RowSource source_;
    std::size_t size_;
    std::unique_ptr<double[]> inv_norm_;  // -1 until computed
};

// MMR's cosines. P's rows are stored once, scaled to unit length and rounded to float, one
// after another, so an item is compared with a block of them in one dot_block call (float
// lanes, several rows in flight) and only its own inverse norm is applied: cos(e_i, p) =
// dot(e_i, unit(p)) / |e_i|, within ~1e-7 of the exact cosine (docs/semantics.md). Unit rows
// cannot overflow or underflow float products; an item row whose norm lies outside
// [2^-30, 2^30] could, so it takes the exact double dot product instead.
class UnitRowBlock {
  public:
    UnitRowBlock(std::size_t d, std::size_t capacity) : d_(d) { units_.reserve(capacity * d); }
    // Appends float(e[j] * inv_norm) (zeros for a zero row: inv_norm 0).
    void add(const float* e, double inv_norm) {
        const std::size_t at = units_.size();
        units_.resize(at + d_);
        for (std::size_t j = 0; j < d_; ++j) units_[at + j] = static_cast<float>(static_cast<double>(e[j]) * inv_norm);
    }
    const float* row(std::size_t q) const { return units_.data() + q * d_; }
    std::size_t size() const { return units_.size() / d_; }  // d >= 1 (validated)
    bool empty() const { return units_.empty(); }

  private:
    std::size_t d_;
    std::vector<float> units_;
};

// Whether a row with inverse norm inv may be multiplied with unit rows in float lanes.
inline bool float_products_safe(double inv) { return inv >= 0x1p-30 && inv <= 0x1p30; }

// out[i] = <e, unit row q + i> for i < count: in float lanes when float_safe (e's inverse norm
// passes float_products_safe), else in double.
inline void mmr_dots(const KernelTable& kern, const float* e, bool float_safe, const UnitRowBlock& units,
                     std::size_t q, std::size_t count, std::size_t d, double* out) {
    const float* rows = units.row(q);
    if (float_safe) {
        kern.dot_block(e, rows, count, d, out);
    } else {
        for (std::size_t i = 0; i < count; ++i) out[i] = kern.dot(e, rows + i * d, d);
    }
}
// out[i] = cos(e, unit row q + i) for i < count; e has inverse norm inv (0 for a zero row).
// The one expression every caller (and the test oracle) uses; a refresh takes the largest of a
// block as its largest dot times inv, which is the same value (see MmrObjective::refresh).
inline void mmr_cosines(const KernelTable& kern, const float* e, double inv, const UnitRowBlock& units, std::size_t q,
                        std::size_t count, std::size_t d, double* out) {
    mmr_dots(kern, e, float_products_safe(inv), units, q, count, d, out);
    for (std::size_t i = 0; i < count; ++i) out[i] *= inv;
}

// How many score buckets a lazy objective's pool waits in (score_buckets.h): enough that a
// bucket released to the queue holds few items the queue would not have reached.
constexpr std::size_t kQueueBuckets = 64;

// Objective = score (no diversity). Always fresh. Staged: its items join the queue a bucket of
// scores at a time (score_buckets.h), the bucket's largest score being the largest key in it.
class ScoreObjective {
  public:
    static constexpr bool kEager = false;
    static constexpr bool kStaged = true;

    // lowest, highest: of pool_scores[0 .. pool_size).
    ScoreObjective(const double* pool_scores, std::int32_t pool_size, double lowest, double highest)
        : scores_(pool_scores),
          buckets_(pool_scores, pool_size, lowest, highest, std::numeric_limits<double>::infinity(), kQueueBuckets) {}
    double key(std::int32_t l) const { return scores_[l]; }
    bool fresh(std::int32_t) const { return true; }
    void refresh(std::int32_t, double) {}
    bool on_selected(std::int32_t) { return false; }
    std::uint32_t slot_reason() const { return 0; }

    bool has_staged() const { return !buckets_.empty(); }
    double staged_bound() const { return buckets_.next_top_key(); }
    template <class Push>
    void release_staged(Push&& push) {
        const std::int32_t *begin, *end;
        buckets_.take(&begin, &end);
        for (const std::int32_t* l = begin; l != end; ++l) push(HeapEntry{scores_[*l], *l});
    }

  private:
    const double* scores_;
    ScoreBuckets buckets_;
};

// MMR gain lambda * s_i - (1 - lambda) * max_{j in P} cos(e_i, e_j); P = history, placed pins,
// then items selected so far. Penalty 0 while P is empty.
class MmrObjective {
  public:
    static constexpr bool kEager = false;

    // lowest, highest: of pool_scores[0 .. pool_size). rows: the pool's embedding rows, then (as
    // rows.extra) the rows placed before selection starts. placed_capacity: most rows P can ever
    // hold.
    MmrObjective(double lambda, std::size_t d, const double* pool_scores, std::int32_t pool_size, double lowest,
                 double highest, RowSource rows, std::size_t placed_capacity);

    // Exact gain when fresh, else an upper bound of it: the gain against a prefix of P, or for
    // an item not compared with anything yet (P non-empty), the gain at cosine -1.
    double key(std::int32_t l) const {
        if (compared_[l] == 0 && !placed_.empty()) return never_compared_bound(l);
        return gain(l);
    }
    bool fresh(std::int32_t l) const { return compared_[l] == static_cast<std::int32_t>(placed_.size()); }
    // Compares with the placed items not seen yet, stopping once the gain is below threshold.
    void refresh(std::int32_t l, double threshold);
    // Adds the item to P. Returns true when every key must be recomputed: the first item
    // placed in an empty P can raise gains (a negative cosine is a bonus), so old keys are
    // not upper bounds across that one step.
    bool on_selected(std::int32_t l);
    std::uint32_t slot_reason() const { return kReasonDiversity; }
    double gain(std::int32_t l) const {
        if (placed_.empty()) return lambda_ * scores_[l];
        return lambda_ * scores_[l] - (1.0 - lambda_) * max_cos_[l];
    }

    // Staging. The pool waits in buckets of scores (score_buckets.h) and joins the queue a
    // bucket at a time, when the bucket's bound could reach the slot's winner. While P is empty
    // the bound is lambda times the bucket's largest score, the largest gain in it. Once P has
    // a member, an item with no cosine yet has only never_compared_bound as its key, about
    // 2 (1 - lambda) above its real gain, so the queue would visit nearly every item near the
    // top once, only to see it fall below the slot's winner (617 of 752 refreshes per feed-1k
    // request did just that); instead a released bucket is compared with P's first member in
    // one pass (norm2_dot_rows) and its items join with those gains. The items far below every
    // slot's winner are never touched. Buckets are (1 - lambda) / 8 wide in gain (a sixteenth
    // of the penalty's range): fine enough that a release primes few items the queue would not
    // have reached, coarse enough that it primes many at a time.
    static constexpr bool kStaged = true;
    bool has_staged() const { return !buckets_.empty(); }
    // The largest key of a staged item: the bound of the next bucket.
    double staged_bound() const {
        const double s = buckets_.next_top_key();
        return placed_.empty() ? lambda_ * s : never_compared_bound_of_score(s);
    }
    // Hands the next bucket's items to push() with their keys (after the first comparison
    // when P has a member).
    template <class Push>
    void release_staged(Push&& push) {
        const std::int32_t *begin, *end;
        buckets_.take(&begin, &end);
        if (placed_.empty()) {
            for (const std::int32_t* l = begin; l != end; ++l) start_uncompared(*l);
        } else {
            compare_with_first_placed(begin, static_cast<std::size_t>(end - begin));
        }
        for (const std::int32_t* l = begin; l != end; ++l) push(HeapEntry{gain(*l), *l});
    }

  private:
    // The gain at the lowest cosine float rounding can give (-1 less ~1e-6): an upper bound of
    // the gain, monotone in the score (lambda <= 1, validated).
    double never_compared_bound(std::int32_t l) const { return never_compared_bound_of_score(scores_[l]); }
    double never_compared_bound_of_score(double s) const { return lambda_ * s - (1.0 - lambda_) * (-1.0 - 1e-3); }
    // The items' first comparison, with P's first member, in one pass over their rows.
    void compare_with_first_placed(const std::int32_t* locals, std::size_t count);
    // The state of an item that joins the queue while P is empty (compared with nothing).
    void start_uncompared(std::int32_t l) {
        max_cos_[l] = -std::numeric_limits<double>::infinity();
        compared_[l] = 0;
        rows_.forget(static_cast<std::size_t>(l));
    }

    double lambda_;
    const double* scores_;
    const KernelTable& kern_;
    std::size_t d_;
    NormalizedRows rows_;
    UnitRowBlock placed_;                 // P, in placement order
    // Per pool item, written when its bucket is released (release_staged writes both, and the
    // row's norm entry): only the items that reach the queue are ever read.
    std::unique_ptr<double[]> max_cos_;         // max cosine against placed_[0 .. compared_)
    std::unique_ptr<std::int32_t[]> compared_;  // how many of placed_ each item has been compared with
    ScoreBuckets buckets_;                // items not yet handed to the queue
    std::vector<const float*> scratch_rows_;  // compare_with_first_placed's gathered rows and results
    std::vector<double> scratch_norm2_, scratch_dots_;
};

// One Gram-Schmidt step, shared by DppObjective and the eager test oracle: out = the part of
// the unit row u orthogonal to the b orthonormal rows q[0 .. b) (each of length d), scaled to
// unit length. Two passes of classical Gram-Schmidt ("twice is enough") keep the basis
// orthogonal to rounding level. A row with nothing left (a zero row) gives zeros: its own
// dimension is shared with no other row. coefficients: scratch for b values.
void orthonormal_complement(const KernelTable& kern, const double* q, std::size_t b, std::size_t d, const double* u,
                            double* out, double* coefficients);

// Greedy DPP MAP (Chen, Zhang, Zhou 2018). With L = diag(r) S diag(r) and S the cosine Gram
// matrix, Chen's incremental Cholesky entries are e_i = r_i <q_b, u_i>, where q_0, q_1, ... is
// the orthonormal basis Gram-Schmidt builds from the selected unit rows u_j. So an item's
// residual d2_i = r_i^2 - sum_b e_i^2 needs one d-long dot product per basis item and no stored
// Cholesky row (the textbook update also needs <c_j, c_i>, of growing length). The exact value
// is the textbook's: a_b = <q_b, e_i> / |e_i| in double (q_b double, e_i widened), then
// d2 -= r2 * a_b^2 in basis order, and an item stops being updated once d2 <= EPS.
//
// Screening, then certification. Most items never come near a slot's winner, so they carry
// only bounds of their exact d2: an estimate F from float products (the basis rounded to float,
// eight lanes instead of four, no widening, and no serial d2 chain) and an error bound E with
// |F - d2| <= E while d2 > EPS (derived in diversity.cpp). A slot scans the bounds, takes the best
// lower bound F - E of an allowed item as its floor, and computes the exact d2 (catching up
// from the last exact value) only for the allowed items whose upper bound F + E reaches the
// floor, best upper bound first, until none of the rest can beat the best exact value. So the
// winner, ties included, is the textbook's, while float products do almost all the work. Rows
// whose float products could overflow or underflow (inverse norm outside [2^-30, 2^30], zero
// rows too) skip the screening and are kept exact at every step.
//
// Once d2 <= EPS the exact value freezes while F keeps falling, so for such items only "d2 <=
// EPS" is known. That is all the slot loop needs: such an item can win a slot only when every
// allowed d2 is <= EPS, and then the slot switches to score fill whichever item that is.
//
// Evaluated eagerly over the items that can compete: each new basis vector updates the bounds
// of every live item in one pass over the rows (a matrix-vector product), and the slot loop
// asks find_best for the argmax (kEager). Lazy evaluation does not pay here: the residuals of
// clustered items shrink a little at every step, so a lazy queue ends up catching up most items
// anyway, at the price of a heap round trip per step. Nor did a lazy activation (catch up a few
// basis rows, wait in a queue while the partial d2 is below the slot's best, resume later),
// measured with exact double products: on feed-1k-dpp, in chunks of 4 basis rows it computed a
// third fewer products but resumed each item about 4 times; in chunks of 32 it ran 10% fewer
// instructions and was no faster. Only feed-5k-dpp gained, about 25%.
//
// Items start dormant, in buckets of descending r^2 (an upper bound of d2 forever). find_best
// activates dormant items, best bucket first, while the bucket's bound could still reach the
// floor; activation screens the item against the basis so far. Items whose bound stays below
// every slot's floor are never touched, which is most of a large pool. An item whose upper
// bound reaches EPS leaves the live set for spent_: it can no longer win a diversity slot, and
// its d2 only shrinks.
class DppObjective {
  public:
    static constexpr bool kEager = true;
    static constexpr bool kStaged = false;

    // rows: the pool's embedding rows, then (as rows.extra) the placed pins' rows (pin_scores,
    // slot order); pins enter the basis first, skipped when d2 <= EPS. basis_capacity: most items
    // that can ever join the basis.
    DppObjective(double alpha, std::size_t d, const double* pool_scores, std::int32_t pool_size, RowSource rows,
                 const std::vector<double>& pin_scores, std::int64_t basis_capacity);

    // The unplaced item `allowed` accepts with the largest exact d2 (the lowest local among
    // equals), or in fill mode the largest score; -1 when `allowed` refuses every one. Asks
    // `allowed` only about items that could still win.
    template <class Allowed>
    std::int32_t find_best(Allowed&& allowed);
    // An upper bound of the key: r^2 for d2, or the score in fill mode. The slot loop's lazy
    // queue, compiled for every objective, reads it.
    double key(std::int32_t l) const { return fill_ ? scores_[l] : r2_[l]; }
    bool fresh(std::int32_t) const { return true; }
    void refresh(std::int32_t, double) {}
    bool on_selected(std::int32_t l);
    // find_best's winner: the best allowed d2 is <= EPS, so scores take over for good.
    bool wants_fill(std::int32_t l) const { return !fill_ && exact_d2_[l] <= kDppEps; }
    void start_fill();

    // Share-capped categories. Once a category reaches its share cap, every later ok scan
    // refuses its items, yet each basis step would still update them and find_best would still
    // activate them. park() sets aside the items `in_category` names: live ones leave the live
    // set, dormant ones are activated without being screened. Only a relaxed scan can take
    // them, and unpark() (called before the first one) screens them against the whole basis,
    // as a fresh activation would; parking then stays off for the request. The selection is
    // unchanged: a parked item is never allowed where it is not considered.
    template <class InCategory>
    void park(InCategory&& in_category);
    void unpark();
    std::uint32_t slot_reason() const { return fill_ ? kReasonScoreFill : kReasonDiversity; }

  private:
    // Whether row r's products may be taken in float (see float_products_safe) and the bound
    // holds (d small enough for the float error bound to mean anything).
    bool screened(std::size_t r) { return screen_ && float_products_safe(rows_.inv_norm(r)); }
    // L_ii = r_i^2 cos(e_i, e_i), and a cosine with a zero vector is 0 (as in MMR): a zero row
    // adds nothing to any determinant, so its d2 is 0 and it never joins the basis. Norms are
    // computed lazily, so the constructor cannot see it; this sets d2 = 0 when the row is first
    // read, and says whether it did.
    bool zero_row(std::size_t r);
    // Brings row r's exact d2 up to the whole basis (textbook operations and order), returns
    // it, and collapses r's live bounds (if it is live) onto it.
    double certify(std::int32_t r);
    // Fills dormant_ and dormant_bound_ (ScoreBuckets of equal width in log r).
    void order_dormant(double alpha, const double* pool_scores, std::int32_t pool_size, double s_max);
    // Whether the next dormant item's bound reaches floor.
    bool dormant_reaches(double floor) const {
        return next_dormant_ < dormant_.size() && dormant_bound_[next_dormant_] >= floor;
    }
    // Activates the next dormant item; returns it and its bounds (estimate +- error), or -1 when
    // the item is parked.
    std::int32_t activate_next(double* approx, double* error);
    // An activated item's first bounds (screened, or exact for a row that is not), and the
    // set it joins: live, exact_live_ or spent_.
    void screen_activated(std::int32_t l, double* approx, double* error);
    // The live set is parallel arrays: entry `from` moves to `to`; the first n stay.
    void move_live(std::size_t from, std::size_t to);
    void truncate_live(std::size_t n);
    void join_live(std::int32_t l, double approx, double error);
    // Moves the live items whose upper bound fell to EPS to spent_.
    void drop_spent_live();
    // Moves the live entries i with leaves(i) to `to`, keeping the others in order.
    template <class Leaves>
    void move_live_out(Leaves&& leaves, std::vector<std::int32_t>& to);
    void leave_live(std::int32_t l);
    // Appends the unit row's component orthogonal to the basis (and its float copy), then
    // updates every live item (except `row`, which leaves the live set) against it.
    void add_to_basis(std::int32_t row);

    const double* scores_;
    const KernelTable& kern_;
    std::size_t d_;
    NormalizedRows rows_;              // pool rows, then pin rows
    bool screen_;                      // float screening in use (d not too large)
    double eta_;                       // bound of |a_float - a_exact| per step (diversity.cpp)
    std::vector<double> r2_;           // r^2 = exp(2 alpha (s - s_max))
    std::vector<double> exact_d2_;     // the textbook d2 after exact_count_ basis rows
    std::vector<std::int32_t> exact_count_;
    // Pool items bucket after bucket, and each one's bucket bound (the largest r^2 in it, never
    // below a later item's r^2); [next_dormant_, end) are dormant.
    std::vector<std::int32_t> dormant_;
    std::vector<double> dormant_bound_;
    std::size_t next_dormant_ = 0;
    std::vector<std::int32_t> active_;   // activated, unplaced pool items
    // Live items: screened, upper bound above EPS, updated at every basis step.
    std::vector<std::int32_t> live_;
    std::vector<std::int32_t> live_slot_;  // by local: index in live_, or -1
    std::vector<const float*> live_rows_;
    std::vector<double> live_inv_norm_, live_r2_, live_approx_, live_error_;
    std::vector<std::int32_t> exact_live_;  // unscreened items with d2 > EPS: certified every step
    std::vector<std::int32_t> spent_;  // activated items with d2 <= EPS (until fill mode)
    std::vector<std::int32_t> parked_;        // activated items of share-capped categories
    std::vector<std::uint8_t> parked_dormant_;  // by local: dormant, of a share-capped category
    bool parking_ = true;                      // off after the first unpark()
    std::vector<std::pair<double, std::int32_t>> candidates_;  // find_best: (upper, local)
    std::vector<double> dots_;         // scratch: float <q_b, e_l> per live item
    std::vector<double> catch_up_dots_;  // scratch: one row against the basis (capacity_)
    std::vector<double> unit_;         // scratch: the unit row entering the basis
    std::size_t capacity_;
    std::unique_ptr<double[]> basis_;  // capacity_ x d orthonormal rows, written before read
    std::size_t column_stride_;        // capacity_ rounded up to 8
    std::unique_ptr<float[]> basis_columns_;  // the basis rounded to float, by column: d x stride
    std::vector<float> q_float_;       // scratch: the newest basis row rounded to float
    std::int32_t basis_size_ = 0;
    bool fill_ = false;
};

template <class Allowed>
std::int32_t DppObjective::find_best(Allowed&& allowed) {
    std::int32_t best = -1;
    if (fill_) {  // scores are exact for every unplaced item, all of them in active_
        double best_score = -std::numeric_limits<double>::infinity();
        for (const std::int32_t l : active_) {
            const double s = scores_[l];
            if (best >= 0 && !(s > best_score || (s == best_score && l < best))) continue;
            if (allowed(l)) {
                best_score = s;
                best = l;
            }
        }
        return best;
    }
    // Screening: the floor is the best lower bound of an allowed item; an item whose upper
    // bound is below it cannot be the argmax, and `allowed` is not asked about it.
    double floor = -std::numeric_limits<double>::infinity();
    candidates_.clear();
    auto consider = [&](std::int32_t l, double approx, double error) {
        const double upper = approx + error;
        if (upper < floor || !allowed(l)) return;
        floor = std::max(floor, approx - error);
        candidates_.emplace_back(upper, l);
    };
    // Four items at a time: once the floor is set, most upper bounds lie below it, and a block
    // of four whose bounds all do is passed over on one branch instead of four data-dependent
    // ones. consider() tests each item of the other blocks again against the floor as it stands.
    bool spent_live = false;
    const std::size_t live_count = live_.size();
    const double* approx = live_approx_.data();
    const double* error = live_error_.data();
    std::size_t i = 0;
    for (; i + 4 <= live_count; i += 4) {
        const double u0 = approx[i] + error[i], u1 = approx[i + 1] + error[i + 1];
        const double u2 = approx[i + 2] + error[i + 2], u3 = approx[i + 3] + error[i + 3];
        spent_live |= !(u0 > kDppEps) | !(u1 > kDppEps) | !(u2 > kDppEps) | !(u3 > kDppEps);
        if (!((u0 >= floor) | (u1 >= floor) | (u2 >= floor) | (u3 >= floor))) continue;
        for (std::size_t k = i; k < i + 4; ++k) consider(live_[k], approx[k], error[k]);
    }
    for (; i < live_count; ++i) {
        consider(live_[i], approx[i], error[i]);
        spent_live |= !(approx[i] + error[i] > kDppEps);
    }
    if (spent_live) drop_spent_live();
    for (const std::int32_t l : exact_live_) consider(l, exact_d2_[l], 0.0);
    while (dormant_reaches(floor)) {
        double approx, error;
        const std::int32_t l = activate_next(&approx, &error);
        if (l >= 0) consider(l, approx, error);
    }
    // Spent items (d2 <= EPS) only matter when nothing else is allowed: any one of them then
    // sends the slot to score fill.
    if (candidates_.empty()) {
        for (const std::int32_t l : spent_) {
            if (allowed(l)) {
                candidates_.emplace_back(kDppEps, l);
                break;
            }
        }
    }
    // Certification, best upper bound first (lowest local among equals), until no upper bound
    // left can beat the best exact d2.
    const auto below_floor = [floor](const std::pair<double, std::int32_t>& c) { return c.first < floor; };
    candidates_.erase(std::remove_if(candidates_.begin(), candidates_.end(), below_floor), candidates_.end());
    std::sort(candidates_.begin(), candidates_.end(), [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    double best_d2 = -std::numeric_limits<double>::infinity();
    for (const auto& [upper, l] : candidates_) {
        if (best >= 0 && (upper < best_d2 || (upper == best_d2 && l > best))) break;
        const double d2 = certify(l);
        if (best < 0 || d2 > best_d2 || (d2 == best_d2 && l < best)) {
            best_d2 = d2;
            best = l;
        }
    }
    return best;
}

template <class Leaves>
void DppObjective::move_live_out(Leaves&& leaves, std::vector<std::int32_t>& to) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < live_.size(); ++i) {
        if (leaves(i)) {
            live_slot_[static_cast<std::size_t>(live_[i])] = -1;
            to.push_back(live_[i]);
        } else {
            move_live(i, kept++);
        }
    }
    truncate_live(kept);
}

template <class InCategory>
void DppObjective::park(InCategory&& in_category) {
    if (!parking_ || fill_) return;
    move_live_out([&](std::size_t i) { return in_category(live_[i]); }, parked_);
    std::size_t kept = 0;
    for (const std::int32_t l : exact_live_) {
        if (in_category(l)) {
            parked_.push_back(l);
        } else {
            exact_live_[kept++] = l;
        }
    }
    exact_live_.resize(kept);
    for (std::size_t i = next_dormant_; i < dormant_.size(); ++i)
        if (in_category(dormant_[i])) parked_dormant_[static_cast<std::size_t>(dormant_[i])] = 1;
}

}  // namespace ranker
