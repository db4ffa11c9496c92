#include "ranker/select.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include "ranker/diversity.h"
#include "ranker/item_heap.h"
#include "ranker/prefetch.h"

namespace ranker {
namespace {

// A plain loop: these lists hold a few values (an author window of 10 keeps up to 9 authors at
// its maximum), and std::find's four-way unrolled search spent more instructions on its trip
// count and remainder than on the comparisons (2.4% of a feed-1k-mmr request).
bool contains_unsorted(const std::vector<std::int32_t>& values, std::int32_t v) {
    for (std::int32_t x : values)
        if (x == v) return true;
    return false;
}

// Up to this many values, a linear scan beats a binary search or a hash lookup.
constexpr std::size_t kShortList = 32;

// Membership in an ascending list.
bool contains(const std::vector<std::int32_t>& sorted, std::int32_t v) {
    if (sorted.size() > kShortList) return std::binary_search(sorted.begin(), sorted.end(), v);
    return contains_unsorted(sorted, v);
}


struct PlacedPin {
    std::int64_t slot;
    std::int32_t candidate;
    std::size_t policy_index;
};

// Everything the slot loop needs besides the objective.
struct SlotState {
    const CandidatesView& c;
    const Policy& p;
    std::int64_t k;
    const HistoryView* history;
    std::vector<std::int32_t> pool;   // local -> candidate index, ascending
    std::vector<PlacedPin> placed;    // slot order
    std::int64_t horizon = 0;         // slots [0, horizon) are tracked on the board
    std::vector<std::int32_t> board;  // slot -> candidate (pins ahead included), -1 = empty
    bool share_rule = false;
    std::int64_t share_cap = 0;
    IdTable share_counts;             // category -> filled slots on this page (pins + selected)
    std::vector<std::int32_t> capped_categories;  // ascending: categories at the share cap
    std::int64_t remaining = 0, remaining_harmful = 0, remaining_featured_not_harmful = 0;
    std::int64_t featured_in_key = 0;  // FEATURED among selected key slots and pins in key slots

    SlotState(const CandidatesView& c_, const Policy& p_, std::int64_t k_, const HistoryView* h_, index_t share_keys)
        : c(c_), p(p_), k(k_), history(h_), share_counts(share_keys) {}

    std::uint32_t flags(std::int32_t cand) const { return c.flags != nullptr ? c.flags[cand] : 0u; }

    // One scatter window rule (category or author). Page slots before t are all filled (pins or
    // selections) and slots after t hold only pins, so at slot t:
    //  - with no pin of value v in (t, t + w - 1], the fullest window containing t is the one
    //    ending at t, and v is refused when [t - w + 1, t - 1] already holds m slots of v;
    //  - a value with pins ahead is checked exactly against the windows ending at those pins.
    // The counts over [t - w + 1, t - 1] slide along with t, so a slot costs O(1) plus the pins
    // ahead, whatever the window size.
    struct Window {
        const std::int32_t* page_col = nullptr;
        const std::int32_t* history_col = nullptr;
        std::int64_t w = 0, m = 0;
        IdTable left_counts{0};                 // value -> filled slots in [lo, hi)
        std::int64_t lo = 0, hi = 0;            // the counted range; hi = t once prepared
        bool started = false;
        // Values whose left count is at m, kept as the counts move: at most (w - 1) / m of
        // them, so allows() scans a few ints instead of hashing (it runs for every item the
        // slot loop visits, most of them refused again and again).
        std::vector<std::int32_t> at_max;
        std::vector<std::int32_t> pin_blocked;  // values refused at t because of pins ahead

        // The value shown at slot s (history rows are slots -h .. -1), or false when empty.
        bool value_at(const SlotState& st, std::int64_t s, std::int32_t* v) const {
            if (s < 0) {
                const std::int64_t row = (st.history != nullptr ? st.history->h : 0) + s;
                if (row < 0 || history_col == nullptr) return false;
                *v = history_col[row];
                return true;
            }
            if (s >= st.horizon) return false;
            const std::int32_t cand = st.board[static_cast<std::size_t>(s)];
            if (cand < 0) return false;
            *v = page_col[cand];
            return true;
        }

        void prepare(const SlotState& st, std::int64_t t) {
            if (w <= 0) return;
            const std::int64_t h = st.history != nullptr ? st.history->h : 0;
            const std::int64_t new_lo = std::max(t - w + 1, -h);
            if (!started) {
                lo = hi = new_lo;
                started = true;
            }
            std::int32_t v;
            for (; hi < t; ++hi)  // slots filled since the last prepared slot join the count
                if (value_at(st, hi, &v) && left_counts.add(v, 1) == m) at_max.push_back(v);
            for (; lo < new_lo; ++lo)  // slots that fell out of reach leave it
                if (value_at(st, lo, &v) && left_counts.add(v, -1) == m - 1) {
                    const auto it = std::find(at_max.begin(), at_max.end(), v);
                    RANKER_INVARIANT(it != at_max.end(), "a value leaving the maximum was at it");
                    at_max.erase(it);
                }

            pin_blocked.clear();
            for (const PlacedPin& pin : st.placed) {  // slot order
                if (pin.slot <= t) continue;
                if (pin.slot > t + w - 1) break;
                const std::int32_t pv = page_col[pin.candidate];
                if (contains_unsorted(pin_blocked, pv) || left_counts.count(pv) >= m) continue;
                if (pins_fill_a_window(st, t, pv)) pin_blocked.push_back(pv);
            }
        }

        // Whether a window ending at a pin of value pv ahead of t already holds m slots of pv.
        // Its count is the pins of pv in (t, e] plus the left slots of pv in [e - w + 1, t - 1]:
        // the left count less the slots of pv in [t - w + 1, e - w], scanned once as e grows.
        bool pins_fill_a_window(const SlotState& st, std::int64_t t, std::int32_t pv) const {
            std::int64_t ahead = 0, dropped = 0;
            std::int64_t scanned = lo;  // next left slot to scan for dropping
            const std::int64_t left = left_counts.count(pv);
            for (const PlacedPin& pin : st.placed) {
                if (pin.slot <= t) continue;
                if (pin.slot > t + w - 1) break;
                if (page_col[pin.candidate] != pv) continue;
                ++ahead;
                std::int32_t v;
                for (; scanned <= pin.slot - w; ++scanned)
                    if (value_at(st, scanned, &v) && v == pv) ++dropped;
                if (left - dropped + ahead >= m) return true;
            }
            return false;
        }

        bool allows(std::int32_t v) const {
            if (w <= 0) return true;
            if (m == 0) return false;  // every count is at the maximum
            const bool left_full = at_max.size() <= kShortList ? contains_unsorted(at_max, v) : left_counts.count(v) >= m;
            return !left_full && !contains_unsorted(pin_blocked, v);
        }
    };
    Window category_window, author_window;

    void prepare_slot(std::int64_t t) {
        category_window.prepare(*this, t);
        author_window.prepare(*this, t);
    }

    // The share cap only tightens as slots fill: once it refuses a category, it always will.
    bool share_capped(std::int32_t cand) const { return share_rule && contains(capped_categories, c.category[cand]); }

    // Counts one more filled slot of the category; it joins capped_categories at the cap.
    void count_share(std::int32_t category) {
        if (share_counts.add(category, 1) >= share_cap && !contains(capped_categories, category)) {
            capped_categories.insert(std::upper_bound(capped_categories.begin(), capped_categories.end(), category),
                                     category);
        }
    }

    bool scatter_allows(std::int32_t cand) const {
        if (p.category_window > 0 && !category_window.allows(c.category[cand])) return false;
        if (p.author_window > 0 && !author_window.allows(c.author[cand])) return false;
        return !share_capped(cand);
    }
};

template <class Objective>
void run_slots(SlotState& st, Objective& obj, SelectionResult& out) {
    const std::int32_t pool_size = static_cast<std::int32_t>(st.pool.size());
    // A lazy objective's items wait in a heap by (key desc, local asc), handed to it a bucket at
    // a time (kStaged, see release_staged below), so the heap starts empty; an eager objective
    // keeps its own items and finds the argmax itself (see find_best).
    static_assert(Objective::kEager || Objective::kStaged, "a lazy objective stages its items");
    // The queue's lists start with room for the common case (a few hundred items reach the
    // queue, from pools of thousands) and grow by doubling past it. Room for the whole pool in
    // each of the five, as before, took 400 KB per feed-5k-mmr request that was hardly
    // touched, but while glibc's trim threshold is at its default (until the process frees a
    // large block) it pushed the request's memory past what glibc keeps after free(): the
    // heap was trimmed after every request and grown again in the next, 35 page faults a call
    // (none since), about a tenth of its p50.
    const std::size_t queue_room =
        Objective::kEager ? 0 : std::min<std::size_t>(static_cast<std::size_t>(pool_size), 512);
    ItemHeap heap;
    heap.reserve(queue_room);
    // Items that were not allowed at an earlier slot, best first. Their keys cannot change
    // while they wait (only an allowed item is refreshed), so the list stays sorted and is
    // merged with the heap instead of being pushed back into it at every slot.
    // (The lists below belong to the lazy queue; an eager objective never fills them.)
    std::vector<HeapEntry> aside, next_aside;
    aside.reserve(queue_room);
    next_aside.reserve(queue_room);
    // Items whose category reached the share cap: refused by every later ok scan, so they wait
    // here, unsorted, instead of being visited again at every slot. Only a relaxed scan (or the
    // switch to score fill) takes them back.
    std::vector<HeapEntry> capped;
    capped.reserve(queue_room);
    const auto ranks_above = [&](const HeapEntry& x, const HeapEntry& y) { return ranks_below(y, x); };
    auto unpark_capped = [&]() {
        if (capped.empty()) return;
        std::sort(capped.begin(), capped.end(), ranks_above);
        next_aside.clear();
        std::merge(aside.begin(), aside.end(), capped.begin(), capped.end(), std::back_inserter(next_aside), ranks_above);
        aside.swap(next_aside);
        capped.clear();
    };

    auto rekey_all = [&]() {
        for (HeapEntry& e : heap.entries()) e.key = obj.key(e.local);
        heap.rebuild();
        for (HeapEntry& e : aside) e.key = obj.key(e.local);
        std::sort(aside.begin(), aside.end(), ranks_above);
        for (HeapEntry& e : capped) e.key = obj.key(e.local);
    };

    // Finds the allowed item with the best objective, visiting heap and aside items in (key
    // desc, local asc) order. Keys are upper bounds, so the visit stops at the first key that
    // ranks below the best exact objective found so far. A refused item goes to next_aside
    // (still in order); a stale allowed item is refreshed once, stopping early when it falls
    // below that best (it cannot win this slot), and goes back to the heap with its new key.
    // Refreshing each item at most once per slot, against the best found rather than against
    // the next key, keeps near-tied items from trading places in the heap one step at a time.
    // Returns the winner, removed from the queue, or -1 when `allowed` refuses everything.
    std::vector<HeapEntry> revisit;
    revisit.reserve(queue_room);
    auto scan = [&](auto&& allowed, bool park_capped) -> std::int32_t {
        next_aside.clear();
        revisit.clear();
        std::size_t pos = 0;
        HeapEntry best{-std::numeric_limits<double>::infinity(), -1};
        // Staged items (an objective's items held out of the queue) join the heap a bucket at a
        // time, as soon as their bound ranks at or above both the next item to visit and best.
        auto release_staged = [&]() {
            if constexpr (Objective::kStaged) {
                while (obj.has_staged()) {
                    const HeapEntry bound{obj.staged_bound(), -1};  // local -1: ahead of any tie
                    if (best.local >= 0 && ranks_below(bound, best)) return;
                    if (!heap.empty() && ranks_below(bound, heap.top())) return;
                    if (pos < aside.size() && ranks_below(bound, aside[pos])) return;
                    obj.release_staged([&](const HeapEntry& e) { heap.push(e); });
                }
            }
        };
        for (;;) {
            release_staged();
            const bool from_aside = pos < aside.size() && (heap.empty() || !ranks_below(aside[pos], heap.top()));
            if (!from_aside && heap.empty()) break;
            const HeapEntry& top = from_aside ? aside[pos] : heap.top();
            if (best.local >= 0 && ranks_below(top, best)) break;  // nothing later can beat best
            HeapEntry e = top;
            if (from_aside) {
                ++pos;
            } else {
                heap.pop();
            }
            const std::int32_t l = e.local;
            if (!allowed(l)) {  // a refused item needs no refresh
                if (park_capped && st.share_capped(st.pool[static_cast<std::size_t>(l)])) {
                    capped.push_back(e);
                } else {
                    next_aside.push_back(e);
                }
                continue;
            }
            if (!obj.fresh(l)) {
                obj.refresh(l, best.key);
                e.key = obj.key(l);
            }
            if (obj.fresh(l) && (best.local < 0 || ranks_below(best, e))) {
                if (best.local >= 0) revisit.push_back(best);
                best = e;
            } else {
                revisit.push_back(e);
            }
        }
        for (const HeapEntry& e : revisit) heap.push(e);
        next_aside.insert(next_aside.end(), aside.begin() + static_cast<std::ptrdiff_t>(pos), aside.end());
        aside.swap(next_aside);
        return best.local;
    };

    // An eager objective finds its own argmax (DppObjective::find_best).
    auto find_best = [&](auto&& allowed, bool park_capped) -> std::int32_t {
        if constexpr (Objective::kEager) {
            return obj.find_best(allowed);
        } else {
            return scan(allowed, park_capped);
        }
    };

    // Items of a share-capped category wait aside in an eager objective (see
    // DppObjective::park); the categories the pins capped before slot 0 first.
    auto park_category = [&](std::int32_t category) {
        if constexpr (Objective::kEager) {
            obj.park([&](std::int32_t l) { return st.c.category[st.pool[static_cast<std::size_t>(l)]] == category; });
        }
    };
    for (const std::int32_t category : st.capped_categories) park_category(category);

    // Key slots beyond the page do not exist: the quota counts open key slots below k.
    const std::int64_t key_count = std::min(st.p.key_count, st.k);
    std::size_t next_pin = 0;
    std::int64_t t = 0;
    for (; t < st.k; ++t) {
        if (next_pin < st.placed.size() && st.placed[next_pin].slot == t) {
            out.slot_candidate.push_back(st.placed[next_pin].candidate);
            out.slot_reasons.push_back(kReasonEditorial);
            ++next_pin;
            continue;
        }
        const bool key_slot = t < key_count;
        const std::int64_t hard_size = st.remaining - (key_slot ? st.remaining_harmful : 0);
        if (hard_size == 0) break;  // selection ends; pins at slots >= t become UNREACHED
        RANKER_INVARIANT(t < st.horizon, "a reachable slot lies inside the board");
        st.prepare_slot(t);

        bool featured_only = false;
        if (key_slot && st.p.featured_min > 0) {
            std::int64_t pinned_key_slots_ahead = 0;
            for (const PlacedPin& pin : st.placed)
                if (pin.slot >= t && pin.slot < key_count) ++pinned_key_slots_ahead;
            const std::int64_t open = (key_count - t) - pinned_key_slots_ahead;
            featured_only = st.p.featured_min - st.featured_in_key >= open && st.remaining_featured_not_harmful > 0;
        }
        auto hard_allows = [&](std::int32_t l) {
            const std::uint32_t f = st.flags(st.pool[static_cast<std::size_t>(l)]);
            if (key_slot && (f & kFlagHarmful)) return false;
            if (featured_only && !(f & kFlagFeatured)) return false;
            return true;
        };
        auto ok_allows = [&](std::int32_t l) {
            return hard_allows(l) && st.scatter_allows(st.pool[static_cast<std::size_t>(l)]);
        };
        // ok, or when ok is empty the hard set with the scatter caps relaxed (never the hard rules).
        auto pick = [&](bool& relaxed) -> std::int32_t {
            relaxed = false;
            const std::int32_t l = find_best(ok_allows, true);
            if (l >= 0) return l;
            relaxed = true;
            unpark_capped();
            if constexpr (Objective::kEager) obj.unpark();
            return find_best(hard_allows, false);
        };

        bool relaxed = false;
        std::int32_t chosen = pick(relaxed);
        RANKER_INVARIANT(chosen >= 0, "a non-empty hard set always yields an item");
        if constexpr (Objective::kEager) {
            if (obj.wants_fill(chosen)) {
                // DPP: the best allowed marginal gain is <= EPS; this and every later slot use scores.
                obj.start_fill();
                chosen = pick(relaxed);
                RANKER_INVARIANT(chosen >= 0, "a non-empty hard set always yields an item");
            }
        }

        const std::int32_t cand = st.pool[static_cast<std::size_t>(chosen)];
        const std::uint32_t f = st.flags(cand);
        st.board[static_cast<std::size_t>(t)] = cand;
        out.slot_candidate.push_back(cand);
        out.slot_reasons.push_back(obj.slot_reason() | (relaxed ? kReasonScatterRelaxed : 0u));
        --st.remaining;
        if (f & kFlagHarmful) {
            --st.remaining_harmful;
        } else if (f & kFlagFeatured) {
            --st.remaining_featured_not_harmful;
        }
        if (key_slot && (f & kFlagFeatured)) ++st.featured_in_key;
        const std::size_t capped_before = st.capped_categories.size();
        if (st.share_rule) st.count_share(st.c.category[cand]);
        if (obj.on_selected(chosen)) rekey_all();
        // After on_selected, which takes the chosen item out of the objective's sets.
        if (st.capped_categories.size() > capped_before) park_category(st.c.category[cand]);
    }
    for (std::size_t q = next_pin; q < st.placed.size(); ++q) out.pin_status[st.placed[q].policy_index] = kPinUnreached;
}

}  // namespace

void select_slots(const SelectionInput& in, SelectionResult& out) {
    const CandidatesView& c = *in.candidates;
    const Policy& p = *in.policy;
    const std::int64_t k = in.k;
    const std::uint32_t* flags = c.flags;
    auto flag_of = [&](std::int32_t i) { return flags != nullptr ? flags[i] : 0u; };

    // The scatter rules read the category and author columns in queue order, item by item, and
    // nothing before selection reads them: every cache line of them was a miss the slot loop
    // waited on (on feed-1k-window, 30% of its samples sat on the category load). They are
    // requested here, all lines at once, while the pool is built. (Requesting the flags column
    // too gained nothing measurable, even at n = 5,000, where the scoring pass has pushed it out
    // of L2 by now: bench/NOTES.md.)
    const std::size_t column_bytes = static_cast<std::size_t>(c.n) * sizeof(std::int32_t);
    if (c.category != nullptr && (p.category_window > 0 || p.category_share < 1.0)) request_lines(c.category, column_bytes);
    if (c.author != nullptr && p.author_window > 0) request_lines(c.author, column_bytes);

    out.slot_candidate.clear();
    out.slot_reasons.clear();
    out.pin_status.assign(p.pins.size(), kPinPlaced);

    // Pins: every pinned item stays out of the open slots, whatever its pin status.
    std::vector<std::uint8_t> pinned(static_cast<std::size_t>(c.n), 0);
    std::vector<PlacedPin> placed;
    for (std::size_t q = 0; q < p.pins.size(); ++q) {
        const Pin& pin = p.pins[q];
        const std::int32_t i = in.first_index->find(pin.item_id);
        std::uint8_t status;
        if (i == FirstIndexTable::kAbsent) {
            status = kPinNotInCandidates;
        } else {
            pinned[static_cast<std::size_t>(i)] = 1;
            if (in.drop[i] != kEligible) {
                status = kPinIneligible;
            } else if (pin.slot >= k) {
                status = kPinBeyondK;
            } else if ((flag_of(i) & kFlagHarmful) && pin.slot < p.key_count) {
                status = kPinHarmfulInKeySlot;
            } else {
                status = kPinPlaced;
                placed.push_back({pin.slot, i, q});
            }
        }
        out.pin_status[q] = status;
    }
    std::sort(placed.begin(), placed.end(), [](const PlacedPin& a, const PlacedPin& b) { return a.slot < b.slot; });

    // Pool: eligible, unpinned; optionally only the best M by (score desc, index asc).
    // in_pool[i] says whether candidate i is in it, so the per-candidate passes below run over
    // contiguous arrays (and vectorise). The list is written branch-free (store, then advance
    // when kept): whether an item is eligible is a branch the CPU mispredicts about once per
    // dropped item.
    const std::size_t n = static_cast<std::size_t>(c.n);
    std::vector<std::uint8_t> in_pool(n);
    for (std::size_t i = 0; i < n; ++i)
        in_pool[i] = static_cast<std::uint8_t>((in.drop[i] == kEligible) & (pinned[i] == 0));
    std::vector<std::int32_t> pool(n);
    std::size_t pool_end = 0;
    for (std::size_t i = 0; i < n; ++i) {
        pool[pool_end] = static_cast<std::int32_t>(i);
        pool_end += in_pool[i];
    }
    pool.resize(pool_end);
    if (p.candidates > 0 && static_cast<std::int64_t>(pool.size()) > p.candidates) {
        const double* s = in.scores;
        std::vector<std::int32_t> best = pool;
        std::nth_element(best.begin(), best.begin() + p.candidates, best.end(), [s](std::int32_t a, std::int32_t b) {
            return s[a] > s[b] || (s[a] == s[b] && a < b);
        });
        std::fill(in_pool.begin(), in_pool.end(), std::uint8_t{0});
        for (std::int64_t j = 0; j < p.candidates; ++j) in_pool[static_cast<std::size_t>(best[j])] = 1;
        std::size_t w = 0;
        for (std::int32_t i : pool)
            if (in_pool[static_cast<std::size_t>(i)]) pool[w++] = i;
        pool.resize(w);
    }
    const std::int32_t pool_size = static_cast<std::int32_t>(pool.size());
    // Every filled slot holds a pin or a pool item.
    const std::int64_t most_slots = std::min<std::int64_t>(k, pool_size + static_cast<std::int64_t>(placed.size()));
    out.slot_candidate.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, most_slots)));
    out.slot_reasons.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, most_slots)));

    // The loop can only reach slot pool + pins (each open slot consumes one pool item); windows
    // look up to max_window - 1 slots ahead of t, so that is all the board must hold.
    const std::int64_t max_window = std::max(p.category_window, p.author_window);
    const std::int64_t reach = static_cast<std::int64_t>(pool.size()) + static_cast<std::int64_t>(placed.size()) + 1 + max_window;
    const std::int64_t horizon = std::min(k, reach);

    const bool share_rule = p.category_share < 1.0;
    const index_t share_keys = share_rule ? static_cast<index_t>(placed.size()) + std::min<std::int64_t>(k, pool_size) : 0;
    SlotState st(c, p, k, in.history, share_keys);
    st.pool = std::move(pool);
    st.placed = placed;
    st.horizon = horizon;
    st.board.assign(static_cast<std::size_t>(std::max<std::int64_t>(0, horizon)), -1);
    for (const PlacedPin& pin : placed)
        if (pin.slot < horizon) st.board[static_cast<std::size_t>(pin.slot)] = pin.candidate;
    st.share_rule = share_rule;
    // Distinct values a window ever counts: history rows it reaches, then filled page slots.
    const index_t history_rows = in.history != nullptr ? static_cast<index_t>(in.history->h) : 0;
    const index_t page_filled = std::min<std::int64_t>(k, pool_size + static_cast<std::int64_t>(placed.size()));
    if (p.category_window > 0)
        st.category_window.left_counts = IdTable(std::min<index_t>(history_rows, p.category_window) + page_filled + 1);
    if (p.author_window > 0)
        st.author_window.left_counts = IdTable(std::min<index_t>(history_rows, p.author_window) + page_filled + 1);
    st.category_window.page_col = c.category;
    st.category_window.history_col = in.history != nullptr ? in.history->categories : nullptr;
    st.category_window.w = p.category_window;
    st.category_window.m = p.category_max;
    st.author_window.page_col = c.author;
    st.author_window.history_col = in.history != nullptr ? in.history->authors : nullptr;
    st.author_window.w = p.author_window;
    st.author_window.m = p.author_max;
    if (share_rule) {
        st.share_cap = std::max<std::int64_t>(
            1, static_cast<std::int64_t>(std::floor(p.category_share * static_cast<double>(k) + 1e-9)));
        for (const PlacedPin& pin : placed) st.count_share(c.category[pin.candidate]);
    }
    for (const PlacedPin& pin : placed)  // placed pins have slot < k
        if (pin.slot < p.key_count && (flag_of(pin.candidate) & kFlagFeatured)) ++st.featured_in_key;
    st.remaining = pool_size;
    if (flags != nullptr) {
        std::uint32_t harmful = 0, featured_not_harmful = 0;  // n < 2^31 (validated): no overflow
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t f = flags[i];
            const std::uint32_t is_harmful = static_cast<std::uint32_t>((f & kFlagHarmful) != 0);
            harmful += in_pool[i] & is_harmful;
            featured_not_harmful += in_pool[i] & (is_harmful ^ 1u) & static_cast<std::uint32_t>((f & kFlagFeatured) != 0);
        }
        st.remaining_harmful = harmful;
        st.remaining_featured_not_harmful = featured_not_harmful;
    }

    // Per-local views of what the objectives read.
    std::vector<double> pool_scores(static_cast<std::size_t>(pool_size));
    double lowest = std::numeric_limits<double>::infinity(), highest = -lowest;
    for (std::int32_t l = 0; l < pool_size; ++l) {
        const double s = in.scores[st.pool[l]];
        pool_scores[l] = s;
        lowest = s < lowest ? s : lowest;
        highest = s > highest ? s : highest;
    }
    const std::size_t d = static_cast<std::size_t>(c.d);
    auto row_of = [&](std::int32_t i) { return c.embedding + static_cast<std::size_t>(i) * d; };
    // The objective's rows: the pool's, then (extra) what it places before slot 0.
    RowSource rows;
    rows.embedding = c.embedding;
    rows.pool = st.pool.data();
    rows.pool_size = static_cast<std::size_t>(pool_size);

    switch (p.method) {
        case Method::kNone: {
            ScoreObjective obj(pool_scores.data(), pool_size, lowest, highest);
            run_slots(st, obj, out);
            break;
        }
        case Method::kMmr: {
            // P at the first slot: history, then every placed pin.
            const HistoryView* h = in.history;
            if (h != nullptr && h->embeddings != nullptr)
                for (index_t r = 0; r < h->h; ++r) rows.extra.push_back(h->embeddings + static_cast<std::size_t>(r) * d);
            for (const PlacedPin& pin : placed) rows.extra.push_back(row_of(pin.candidate));
            const std::size_t placed_capacity =
                rows.extra.size() + static_cast<std::size_t>(std::min<std::int64_t>(k, pool_size));
            MmrObjective obj(p.mmr_lambda, d, pool_scores.data(), pool_size, lowest, highest, std::move(rows),
                             placed_capacity);
            run_slots(st, obj, out);
            break;
        }
        case Method::kDpp: {
            std::vector<double> pin_scores;
            for (const PlacedPin& pin : placed) {
                rows.extra.push_back(row_of(pin.candidate));
                pin_scores.push_back(in.scores[pin.candidate]);
            }
            const std::int64_t capacity = std::min<std::int64_t>(k, pool_size + static_cast<std::int64_t>(placed.size()));
            DppObjective obj(p.dpp_alpha, d, pool_scores.data(), pool_size, std::move(rows), pin_scores, capacity);
            run_slots(st, obj, out);
            break;
        }
    }
}

}  // namespace ranker
