// Plain data shared by every stage of the ranking core: views over caller memory (no
// ownership, no Python), the validated policy, the enums of docs/semantics.md and the result.
// Enum values are part of the contract with python/ranker/enums.py: never renumber them.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ranker {

using index_t = std::int64_t;

// Bits of candidates.flags.
enum Flag : std::uint32_t {
    kFlagBlocked = 1,
    kFlagHarmful = 2,
    kFlagSynthetic = 4,
    kFlagSyntheticLabeled = 8,
    kFlagFeatured = 16,
    kKnownFlags = 31,
};

// Per-candidate drop code, in pipeline order (the first rule that removes an item wins).
enum Drop : std::uint8_t {
    kEligible = 0,
    kDropDuplicate = 1,
    kDropBlocked = 2,
    kDropUnlabeledSynthetic = 3,
    kDropMinorAge = 4,
    kDropMinorHarmful = 5,
    kDropFraudRisk = 6,
    kDropPriceParity = 7,
    kDropDeletedTag = 8,
    kDropSeen = 9,
};
constexpr int kDropCodeCount = 10;

// Reason bits per slot.
enum Reason : std::uint32_t {
    kReasonPersonal = 1,
    kReasonTagMatch = 2,
    kReasonPrior = 4,
    kReasonNonPersonalized = 8,
    kReasonEditorial = 16,
    kReasonFeatured = 32,
    kReasonDiversity = 64,
    kReasonScatterRelaxed = 128,
    kReasonPriceClamped = 256,
    kReasonPriceFlagged = 512,
    kReasonScoreFill = 1024,
};

enum Status : int { kStatusOk = 0, kStatusCurfew = 1, kStatusDailyLimit = 2 };

enum PinStatus : std::uint8_t {
    kPinPlaced = 0,
    kPinNotInCandidates = 1,
    kPinIneligible = 2,
    kPinBeyondK = 3,
    kPinHarmfulInKeySlot = 4,
    kPinUnreached = 5,
    kPinNotServed = 6,
};

enum class Method : int { kNone = 0, kMmr = 1, kDpp = 2 };
enum class PriceAction : int { kOff = 0, kDrop = 1, kClamp = 2, kFlag = 3 };

// DPP marginal gains at or below this end diversity selection (docs/semantics.md).
constexpr double kDppEps = 1e-10;

// Bad user input. The message starts with the field name ("candidates.fraud_risk: ...").
// Derives from std::invalid_argument so that pybind11 raises ValueError.
class InvalidInput : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

// Broken internal invariant: a bug in this library, never the caller's fault.
#define RANKER_INVARIANT(cond, what)                                                              \
    do {                                                                                          \
        if (!(cond))                                                                              \
            throw std::logic_error(std::string("ranker internal invariant violated: ") + (what) + \
                                   " (" #cond ") at " __FILE__ ":" + std::to_string(__LINE__));   \
    } while (0)

// Candidates, struct of arrays, n rows. Optional columns are nullptr when absent.
struct CandidatesView {
    index_t n = 0;
    index_t d = 0;
    const std::int64_t* item_id = nullptr;     // [n]
    const float* embedding = nullptr;          // [n, d] row-major
    const float* prior = nullptr;              // [n]
    const std::int32_t* category = nullptr;    // [n] or null
    const std::int32_t* author = nullptr;      // [n] or null
    const std::int64_t* tag_indptr = nullptr;  // [n + 1] or null (CSR, with tag_ids)
    const std::int32_t* tag_ids = nullptr;     // [tag_count] or null
    index_t tag_count = 0;
    const std::uint32_t* flags = nullptr;         // [n] or null (= 0)
    const std::uint8_t* min_age = nullptr;        // [n] or null (= 0)
    const float* fraud_risk = nullptr;            // [n] or null
    const double* offered_price = nullptr;        // [n] or null (both prices or neither)
    const double* reference_price = nullptr;      // [n] or null
};

struct UserView {
    index_t d = 0;
    const float* embedding = nullptr;        // [d]
    const std::int32_t* tag_ids = nullptr;   // [tag_count]
    const double* tag_weights = nullptr;     // [tag_count]
    index_t tag_count = 0;
    bool personalized = true;
    const std::int32_t* deleted_tags = nullptr;  // [deleted_count]
    index_t deleted_count = 0;
    bool minor_mode = false;
    std::int64_t age = -1;                   // -1 = unknown
    bool elderly = false;
    std::int64_t local_minute = -1;          // -1 = unknown
    std::int64_t usage_minutes_today = -1;   // -1 = unknown
    const std::int64_t* seen = nullptr;      // [seen_count] item ids
    index_t seen_count = 0;
};

// Previous pages, most recent last. Every present column has h rows.
struct HistoryView {
    index_t h = 0;
    index_t d = 0;                             // columns of embeddings (when present)
    const std::int32_t* categories = nullptr;  // [h] or null
    const std::int32_t* authors = nullptr;     // [h] or null
    const float* embeddings = nullptr;         // [h, d] or null
};

struct Pin {
    std::int64_t item_id = 0;
    std::int64_t slot = 0;
};

// The policy as the Python layer validated it (validate_policy re-checks what the core relies on).
struct Policy {
    std::int64_t k = 50;
    double w_rel = 1.0, w_tag = 0.0, w_prior = 0.0;
    std::vector<std::int32_t> forbidden_tags;  // sorted ascending, unique (validate_policy does it)
    bool deletion_suppress = false;
    std::int64_t curfew_start = 22 * 60, curfew_end = 6 * 60;  // minutes since midnight
    std::vector<std::int32_t> daily_keys;     // ascending ages
    std::vector<std::int32_t> daily_minutes;  // minutes a day for age < daily_keys[i]
    double max_risk = 1.0, elderly_max_risk = 1.0;
    PriceAction price_action = PriceAction::kDrop;
    double abs_tol = 0.0, rel_tol = 0.0;
    std::int64_t key_count = 0, featured_min = 0;
    std::vector<Pin> pins;  // policy order
    Method method = Method::kNone;
    double mmr_lambda = 0.7, dpp_alpha = 1.0;
    std::int64_t candidates = 0;  // pre-truncation M, 0 = all
    std::int64_t category_window = 0, category_max = 0, author_window = 0, author_max = 0;
    double category_share = 1.0;
};

struct RankOutput {
    int status = kStatusOk;
    std::vector<std::int64_t> indices;  // [t] candidate index per filled slot
    std::vector<double> scores;         // [t]
    std::vector<std::uint32_t> reasons; // [t]
    std::vector<double> prices;         // [t]
    std::vector<std::uint8_t> drop_codes;  // [n]
    std::array<std::int64_t, kDropCodeCount> counts{};
    std::vector<std::uint8_t> pin_status;  // [policy pins]
};

}  // namespace ranker
