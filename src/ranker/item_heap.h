// A binary max-heap of (key, local) entries for the slot loop: larger key first, then lower
// local (= lower candidate index). Hand-written rather than std::push_heap/pop_heap because a
// pop is the inner step of lazy greedy selection: it sifts the hole down to a leaf choosing the
// larger child without a data-dependent branch, then sifts the last entry up (Floyd), which
// takes about half the comparisons and none of the mispredicted branches of the usual sift.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ranker {

struct HeapEntry {
    double key;
    std::int32_t local;
};

// Strict total order of the selection: a ranks below b. Bitwise | and &, not || and &&: the
// short-circuit form compiles to a branch on the key comparison, which in a heap's child
// choice is a coin flip, mispredicted half the time.
inline bool ranks_below(const HeapEntry& a, const HeapEntry& b) {
    return (a.key < b.key) | ((a.key == b.key) & (a.local > b.local));
}

class ItemHeap {
  public:
    void reserve(std::size_t n) { h_.reserve(n); }
    bool empty() const { return h_.empty(); }
    std::size_t size() const { return h_.size(); }
    const HeapEntry& top() const { return h_.front(); }
    std::vector<HeapEntry>& entries() { return h_; }  // for bulk edits followed by rebuild()

    // e by value, and the new slot opened empty: copying a HeapEntry the caller has just
    // written field by field into the vector would load it back whole, and a load spanning two
    // recent stores waits for them (no store forwarding), about a tenth of the slot loop's time.
    void push(HeapEntry e) {
        h_.emplace_back();
        sift_up(h_.size() - 1, e);
    }

    void pop() {
        const HeapEntry last = h_.back();
        h_.pop_back();
        const std::size_t n = h_.size();
        if (n == 0) return;
        std::size_t i = 0;
        for (;;) {  // hole to a leaf along the larger children
            std::size_t child = 2 * i + 1;
            if (child >= n) break;
            if (child + 1 < n) child += static_cast<std::size_t>(ranks_below(h_[child], h_[child + 1]));
            h_[i] = h_[child];
            i = child;
        }
        sift_up(i, last);  // then the last entry up from there
    }

    // Restores the heap order over entries() (Floyd's linear-time build).
    void rebuild() {
        const std::size_t n = h_.size();
        for (std::size_t start = n / 2; start-- > 0;) {
            const HeapEntry e = h_[start];
            std::size_t i = start;
            for (;;) {
                std::size_t child = 2 * i + 1;
                if (child >= n) break;
                if (child + 1 < n) child += static_cast<std::size_t>(ranks_below(h_[child], h_[child + 1]));
                if (!ranks_below(e, h_[child])) break;
                h_[i] = h_[child];
                i = child;
            }
            h_[i] = e;
        }
    }

  private:
    // Puts e at the hole i or above it, moving lower-ranked parents down.
    void sift_up(std::size_t i, HeapEntry e) {
        while (i > 0) {
            const std::size_t parent = (i - 1) / 2;
            if (!ranks_below(h_[parent], e)) break;
            h_[i] = h_[parent];
            i = parent;
        }
        h_[i] = e;
    }

    std::vector<HeapEntry> h_;
};

}  // namespace ranker
