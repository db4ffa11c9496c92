// Owns the arrays of a small request and hands out views, so tests read like tables.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "ranker/types.h"

namespace ranker_test {

struct Request {
    std::int64_t d = 2;
    std::vector<std::int64_t> item_id;
    std::vector<float> embedding;  // n * d
    std::vector<float> prior;
    std::vector<std::int32_t> category, author;
    std::vector<std::int64_t> tag_indptr;
    std::vector<std::int32_t> tag_ids;
    std::vector<std::uint32_t> flags;
    std::vector<std::uint8_t> min_age;
    std::vector<float> fraud_risk;
    std::vector<double> offered, reference;

    std::vector<float> user_embedding;
    std::vector<std::int32_t> user_tags;
    std::vector<double> user_weights;
    std::vector<std::int32_t> deleted;
    std::vector<std::int64_t> seen;
    ranker::UserView user_flags;  // scalar user fields; pointers are filled by user()

    std::vector<std::int32_t> history_categories, history_authors;
    std::vector<float> history_embeddings;

    // n items with embedding rows, prior = score (w_rel = 0, w_prior = 1 in test policies).
    void add(std::vector<float> row, float prior_value, std::int32_t cat = 0, std::uint32_t flag = 0) {
        item_id.push_back(static_cast<std::int64_t>(item_id.size()) + 100);
        embedding.insert(embedding.end(), row.begin(), row.end());
        prior.push_back(prior_value);
        category.push_back(cat);
        author.push_back(static_cast<std::int32_t>(author.size()));
        flags.push_back(flag);
    }

    ranker::CandidatesView candidates() const {
        ranker::CandidatesView c;
        c.n = static_cast<std::int64_t>(item_id.size());
        c.d = d;
        c.item_id = item_id.data();
        c.embedding = embedding.data();
        c.prior = prior.data();
        c.category = category.empty() ? nullptr : category.data();
        c.author = author.empty() ? nullptr : author.data();
        if (!tag_indptr.empty()) {
            c.tag_indptr = tag_indptr.data();
            c.tag_ids = tag_ids.data();
            c.tag_count = static_cast<std::int64_t>(tag_ids.size());
        }
        c.flags = flags.empty() ? nullptr : flags.data();
        c.min_age = min_age.empty() ? nullptr : min_age.data();
        c.fraud_risk = fraud_risk.empty() ? nullptr : fraud_risk.data();
        c.offered_price = offered.empty() ? nullptr : offered.data();
        c.reference_price = reference.empty() ? nullptr : reference.data();
        return c;
    }

    ranker::UserView user() {
        if (user_embedding.empty()) user_embedding.assign(static_cast<std::size_t>(d), 0.0f);
        ranker::UserView u = user_flags;
        u.d = static_cast<std::int64_t>(user_embedding.size());
        u.embedding = user_embedding.data();
        u.tag_ids = user_tags.data();
        u.tag_weights = user_weights.data();
        u.tag_count = static_cast<std::int64_t>(user_tags.size());
        u.deleted_tags = deleted.data();
        u.deleted_count = static_cast<std::int64_t>(deleted.size());
        u.seen = seen.data();
        u.seen_count = static_cast<std::int64_t>(seen.size());
        return u;
    }

    ranker::HistoryView history() const {
        ranker::HistoryView h;
        h.h = static_cast<std::int64_t>(std::max(history_categories.size(), history_authors.size()));
        h.d = d;
        h.categories = history_categories.empty() ? nullptr : history_categories.data();
        h.authors = history_authors.empty() ? nullptr : history_authors.data();
        if (!history_embeddings.empty()) {
            h.embeddings = history_embeddings.data();
            h.h = static_cast<std::int64_t>(history_embeddings.size()) / d;
        }
        return h;
    }
};

// A policy that ranks by prior alone with every rule off.
inline ranker::Policy prior_policy(std::int64_t k) {
    ranker::Policy p;
    p.k = k;
    p.w_rel = 0.0;
    p.w_tag = 0.0;
    p.w_prior = 1.0;
    p.price_action = ranker::PriceAction::kOff;
    return p;
}

// Clustered random request: n items around a few centres, categories/authors, random scores.
inline Request random_request(std::mt19937_64& rng, std::int64_t n, std::int64_t d, bool ties) {
    Request r;
    r.d = d;
    std::normal_distribution<float> g;
    std::vector<float> centres(static_cast<std::size_t>(4 * d));
    for (float& x : centres) x = g(rng);
    for (std::int64_t i = 0; i < n; ++i) {
        const std::size_t c = rng() % 4;
        std::vector<float> row(static_cast<std::size_t>(d));
        for (std::int64_t j = 0; j < d; ++j) row[j] = centres[c * d + j] + 0.7f * g(rng);
        if (rng() % 50 == 0) row.assign(static_cast<std::size_t>(d), 0.0f);  // zero norm: cosine 0
        float prior = ties ? static_cast<float>(rng() % 5) : g(rng);
        r.add(row, prior, static_cast<std::int32_t>(rng() % 6));
    }
    return r;
}

}  // namespace ranker_test
