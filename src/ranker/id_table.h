// Two open-addressing hash tables sized once per request (no rehash, no allocation after
// construction): IdTable counts per key (categories for the share cap and the scatter windows), and
// FirstIndexTable maps an item id to its lowest candidate index (duplicates, seen ids, pins).
#pragma once

#include <cstdint>
#include <vector>

#include "ranker/types.h"

namespace ranker {

class IdTable {
  public:
    static constexpr std::int32_t kAbsent = -1;

    // Room for up to max_keys distinct keys at a load factor of at most 1/2.
    explicit IdTable(index_t max_keys) {
        std::uint64_t capacity = 16;
        while (capacity < 2 * static_cast<std::uint64_t>(max_keys < 0 ? 0 : max_keys)) capacity <<= 1;
        mask_ = capacity - 1;
        keys_.resize(capacity);
        values_.assign(capacity, kAbsent);
        max_keys_ = max_keys;
    }

    // Adds delta to the key's count (0 for a new key) and returns the new count.
    std::int32_t add(std::int64_t key, std::int32_t delta) {
        for (std::uint64_t slot = hash(key) & mask_;; slot = (slot + 1) & mask_) {
            if (values_[slot] == kAbsent) {
                RANKER_INVARIANT(size_ < max_keys_ && delta >= 0, "IdTable sized for fewer keys, or a new key decremented");
                ++size_;
                keys_[slot] = key;
                values_[slot] = delta;
                return delta;
            }
            if (keys_[slot] == key) {
                values_[slot] += delta;
                RANKER_INVARIANT(values_[slot] >= 0, "IdTable counts never go below zero");
                return values_[slot];
            }
        }
    }

    // The key's count, 0 for a key never added.
    std::int32_t count(std::int64_t key) const {
        for (std::uint64_t slot = hash(key) & mask_;; slot = (slot + 1) & mask_) {
            if (values_[slot] == kAbsent) return 0;
            if (keys_[slot] == key) return values_[slot];
        }
    }

  private:
    // splitmix64 finaliser: item ids are often sequential or strided, so mix every bit.
    static std::uint64_t hash(std::int64_t key) {
        std::uint64_t x = static_cast<std::uint64_t>(key);
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ULL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebULL;
        x ^= x >> 31;
        return x;
    }

    std::uint64_t mask_ = 0;
    std::vector<std::int64_t> keys_;
    std::vector<std::int32_t> values_;
    index_t size_ = 0;
    index_t max_keys_ = 0;
};

}  // namespace ranker

namespace ranker {

// item id -> lowest candidate index. Slots hold only candidate indices (4 bytes each, so the
// table for 1000 candidates is 16 KiB); keys are read from the caller's id array. At most a
// quarter full: whether an insert's first probe hits an empty slot is a branch the CPU cannot
// predict, and at half full it missed about 400 times per 1000 inserts.
class FirstIndexTable {
  public:
    static constexpr std::int32_t kAbsent = -1;

    FirstIndexTable(const std::int64_t* ids, index_t n) : ids_(ids) {
        std::uint64_t capacity = 16;
        int bits = 4;
        while (capacity < 4 * static_cast<std::uint64_t>(n < 0 ? 0 : n)) {
            capacity <<= 1;
            ++bits;
        }
        mask_ = capacity - 1;
        shift_ = 64 - bits;
        slots_.assign(capacity, kAbsent);
    }

    // Records candidate i unless its id is already present; returns the index that holds the
    // id (i itself when it is new). Callers insert in ascending i, so that is the lowest.
    std::int32_t insert(std::int32_t i) {
        const std::int64_t key = ids_[i];
        for (std::uint64_t slot = hash(key);; slot = (slot + 1) & mask_) {
            const std::int32_t held = slots_[slot];
            if (held == kAbsent) {
                slots_[slot] = i;
                return i;
            }
            if (ids_[held] == key) return held;
        }
    }

    std::int32_t find(std::int64_t key) const {
        for (std::uint64_t slot = hash(key);; slot = (slot + 1) & mask_) {
            const std::int32_t held = slots_[slot];
            if (held == kAbsent || ids_[held] == key) return held;
        }
    }

  private:
    // Fibonacci hashing: one multiply; the top bits mix every input bit.
    std::uint64_t hash(std::int64_t key) const {
        return (static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ULL) >> shift_;
    }

    const std::int64_t* ids_;
    std::uint64_t mask_ = 0;
    int shift_ = 60;
    std::vector<std::int32_t> slots_;
};

}  // namespace ranker
