// ranker._native: the pybind11 binding and nothing else. It checks dtype, shape, contiguity
// and lengths of the numpy buffers, keeps references to them, hands the C++ core views over
// their memory (no copy), releases the GIL around the core and wraps the results as numpy
// arrays without copying. No ranking logic lives here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <utility>
#include <vector>

#include "ranker/kernels.h"
#include "ranker/pipeline.h"
#include "ranker/types.h"
#include "ranker/validate.h"

namespace py = pybind11;
using ranker::index_t;

namespace {

constexpr int kNpyArrayAligned = 0x0100;  // NPY_ARRAY_ALIGNED

template <class T>
const char* dtype_name();
template <> const char* dtype_name<std::int64_t>() { return "int64"; }
template <> const char* dtype_name<std::int32_t>() { return "int32"; }
template <> const char* dtype_name<std::uint32_t>() { return "uint32"; }
template <> const char* dtype_name<std::uint8_t>() { return "uint8"; }
template <> const char* dtype_name<float>() { return "float32"; }
template <> const char* dtype_name<double>() { return "float64"; }

// Checks one argument and returns it as an array: exact dtype (no silent cast), ndim,
// C-contiguous, aligned. The Python layer converts on purpose; anything else is a bug there.
template <class T>
py::array take(const py::handle& obj, const std::string& field, int ndim) {
    const std::string fix = "; convert it with np.ascontiguousarray(x, dtype=np." + std::string(dtype_name<T>()) + ")";
    if (!py::isinstance<py::array>(obj))
        throw py::type_error(field + ": expected a numpy array of dtype " + dtype_name<T>() + ", got " +
                             Py_TYPE(obj.ptr())->tp_name + fix);
    py::array arr = py::reinterpret_borrow<py::array>(obj);
    if (!arr.dtype().equal(py::dtype::of<T>()))
        throw py::type_error(field + ": expected dtype " + dtype_name<T>() + ", got " +
                             std::string(py::str(arr.dtype())) + fix);
    if (arr.ndim() != ndim)
        throw py::value_error(field + ": expected a " + std::to_string(ndim) + "-D array, got " +
                              std::to_string(arr.ndim()) + "-D");
    if (!(arr.flags() & py::array::c_style) || !(arr.flags() & kNpyArrayAligned))
        throw py::value_error(field + ": must be C-contiguous and aligned" + fix);
    return arr;
}

template <class T>
const T* data_of(const py::array& arr) {
    return static_cast<const T*>(arr.data());
}

void require_length(const py::array& arr, index_t expected, const std::string& field, const std::string& what) {
    if (static_cast<index_t>(arr.shape(0)) != expected)
        throw py::value_error(field + ": has length " + std::to_string(arr.shape(0)) + " but " + what + " is " +
                              std::to_string(expected));
}

struct CandidatesCore {
    std::vector<py::object> keep_alive;  // the arrays the view points into
    ranker::CandidatesView view;

    CandidatesCore(const py::object& item_id, const py::object& embedding, const py::object& prior,
                   const py::object& category, const py::object& author, const py::object& tag_indptr,
                   const py::object& tag_ids, const py::object& flags, const py::object& min_age,
                   const py::object& fraud_risk, const py::object& offered_price, const py::object& reference_price) {
        py::array ids = take<std::int64_t>(item_id, "candidates.item_id", 1);
        py::array emb = take<float>(embedding, "candidates.embedding", 2);
        const index_t n = static_cast<index_t>(ids.shape(0));
        require_length(emb, n, "candidates.embedding", "len(item_id)");
        if (emb.shape(1) < 1) throw py::value_error("candidates.embedding: needs at least one column (d >= 1), got d=0");
        py::array pri = take<float>(prior, "candidates.prior", 1);
        require_length(pri, n, "candidates.prior", "len(item_id)");
        view.n = n;
        view.d = static_cast<index_t>(emb.shape(1));
        view.item_id = data_of<std::int64_t>(ids);
        view.embedding = data_of<float>(emb);
        view.prior = data_of<float>(pri);
        keep_alive = {ids, emb, pri};

        auto optional_column = [&](const py::object& obj, const char* field, auto tag) {
            using T = decltype(tag);
            if (obj.is_none()) return static_cast<const T*>(nullptr);
            py::array arr = take<T>(obj, field, 1);
            require_length(arr, n, field, "len(item_id)");
            keep_alive.push_back(arr);
            return data_of<T>(arr);
        };
        view.category = optional_column(category, "candidates.category", std::int32_t{});
        view.author = optional_column(author, "candidates.author", std::int32_t{});
        view.flags = optional_column(flags, "candidates.flags", std::uint32_t{});
        view.min_age = optional_column(min_age, "candidates.min_age", std::uint8_t{});
        view.fraud_risk = optional_column(fraud_risk, "candidates.fraud_risk", float{});
        if (offered_price.is_none() != reference_price.is_none())
            throw py::value_error(std::string(offered_price.is_none() ? "candidates.offered_price" : "candidates.reference_price") +
                                  ": offered_price and reference_price must both be given or both be None");
        view.offered_price = optional_column(offered_price, "candidates.offered_price", double{});
        view.reference_price = optional_column(reference_price, "candidates.reference_price", double{});

        if (tag_indptr.is_none() != tag_ids.is_none())
            throw py::value_error("candidates.tags: tag_indptr and tag_ids must both be given or both be None");
        if (!tag_indptr.is_none()) {
            py::array indptr = take<std::int64_t>(tag_indptr, "candidates.tags", 1);
            require_length(indptr, n + 1, "candidates.tags", "len(item_id) + 1 (tag_indptr)");
            py::array tids = take<std::int32_t>(tag_ids, "candidates.tags", 1);
            keep_alive.push_back(indptr);
            keep_alive.push_back(tids);
            view.tag_indptr = data_of<std::int64_t>(indptr);
            view.tag_ids = data_of<std::int32_t>(tids);
            view.tag_count = static_cast<index_t>(tids.shape(0));
        }
    }
};

struct UserCore {
    std::vector<py::object> keep_alive;
    ranker::UserView view;

    UserCore(const py::object& embedding, const py::object& tag_ids, const py::object& tag_weights, bool personalized,
             const py::object& deleted_tags, bool minor_mode, std::int64_t age, bool elderly, std::int64_t local_minute,
             std::int64_t usage_minutes_today, const py::object& seen) {
        py::array emb = take<float>(embedding, "user.embedding", 1);
        view.d = static_cast<index_t>(emb.shape(0));
        view.embedding = data_of<float>(emb);
        keep_alive.push_back(emb);
        if (!tag_ids.is_none() || !tag_weights.is_none()) {
            py::array ids = take<std::int32_t>(tag_ids, "user.tags", 1);
            py::array weights = take<double>(tag_weights, "user.tags", 1);
            require_length(weights, static_cast<index_t>(ids.shape(0)), "user.tags", "the number of tag ids");
            view.tag_ids = data_of<std::int32_t>(ids);
            view.tag_weights = data_of<double>(weights);
            view.tag_count = static_cast<index_t>(ids.shape(0));
            keep_alive.push_back(ids);
            keep_alive.push_back(weights);
        }
        if (!deleted_tags.is_none()) {
            py::array del = take<std::int32_t>(deleted_tags, "user.deleted_tags", 1);
            view.deleted_tags = data_of<std::int32_t>(del);
            view.deleted_count = static_cast<index_t>(del.shape(0));
            keep_alive.push_back(del);
        }
        if (!seen.is_none()) {
            py::array s = take<std::int64_t>(seen, "user.seen", 1);
            view.seen = data_of<std::int64_t>(s);
            view.seen_count = static_cast<index_t>(s.shape(0));
            keep_alive.push_back(s);
        }
        view.personalized = personalized;
        view.minor_mode = minor_mode;
        view.age = age;
        view.elderly = elderly;
        view.local_minute = local_minute;
        view.usage_minutes_today = usage_minutes_today;
    }
};

struct HistoryCore {
    std::vector<py::object> keep_alive;
    ranker::HistoryView view;

    HistoryCore(const py::object& categories, const py::object& authors, const py::object& embeddings) {
        index_t h = -1;
        auto agree = [&](const py::array& arr, const char* field) {
            const index_t len = static_cast<index_t>(arr.shape(0));
            if (h >= 0 && len != h)
                throw py::value_error(std::string(field) + ": has " + std::to_string(len) +
                                      " rows but the other history columns have " + std::to_string(h));
            h = len;
            keep_alive.push_back(arr);
        };
        if (!categories.is_none()) {
            py::array arr = take<std::int32_t>(categories, "history.categories", 1);
            agree(arr, "history.categories");
            view.categories = data_of<std::int32_t>(arr);
        }
        if (!authors.is_none()) {
            py::array arr = take<std::int32_t>(authors, "history.authors", 1);
            agree(arr, "history.authors");
            view.authors = data_of<std::int32_t>(arr);
        }
        if (!embeddings.is_none()) {
            py::array arr = take<float>(embeddings, "history.embeddings", 2);
            agree(arr, "history.embeddings");
            view.embeddings = data_of<float>(arr);
            view.d = static_cast<index_t>(arr.shape(1));
        }
        view.h = h < 0 ? 0 : h;
    }
};

struct PolicyCore {
    ranker::Policy policy;
};

template <class T>
std::vector<T> copy_vector(const py::object& obj, const std::string& field) {
    if (obj.is_none()) return {};
    py::array arr = take<T>(obj, field, 1);
    const T* p = data_of<T>(arr);
    return std::vector<T>(p, p + arr.shape(0));
}

// Hands a std::vector's buffer to numpy without copying; the capsule frees it.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& values) {
    auto* owned = new std::vector<T>(std::move(values));
    py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>({static_cast<py::ssize_t>(owned->size())}, {static_cast<py::ssize_t>(sizeof(T))},
                          owned->data(), owner);
}

py::tuple wrap(ranker::RankOutput&& out) {
    py::array_t<std::int64_t> counts(static_cast<py::ssize_t>(out.counts.size()));
    std::copy(out.counts.begin(), out.counts.end(), counts.mutable_data());
    return py::make_tuple(out.status, to_numpy(std::move(out.indices)), to_numpy(std::move(out.scores)),
                          to_numpy(std::move(out.reasons)), to_numpy(std::move(out.prices)),
                          to_numpy(std::move(out.drop_codes)), counts, to_numpy(std::move(out.pin_status)));
}

// The history argument is taken as an object, not as `const HistoryCore*`: pybind11 accepts
// None for a pointer only in its second, converting pass over the arguments, after a first
// pass in which the None fails a lookup that raises and clears an AttributeError, so every call
// without history paid for two passes and two exceptions.
const ranker::HistoryView* history_view(const py::object& history, const std::string& where) {
    if (history.is_none()) return nullptr;
    if (!py::isinstance<HistoryCore>(history)) throw py::type_error(where + ": expected HistoryCore or None");
    return &history.cast<const HistoryCore&>().view;
}

py::tuple rank_py(const CandidatesCore& cands, const UserCore& user, const PolicyCore& policy, std::int64_t k,
                  const py::object& history) {
    const ranker::HistoryView* past = history_view(history, "history");
    ranker::RankOutput out;
    {
        py::gil_scoped_release release;
        out = ranker::rank(cands.view, user.view, policy.policy, k, past);
    }
    return wrap(std::move(out));
}

py::list rank_batch_py(const py::sequence& requests, const PolicyCore& policy, std::int64_t k, int threads) {
    const std::size_t count = py::len(requests);
    std::vector<py::object> keep_alive;  // the list may change while the GIL is released
    keep_alive.reserve(3 * count);
    std::vector<ranker::BatchRequest> batch(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::string where = "requests[" + std::to_string(i) + "]";
        py::object item = requests[i];
        if (!py::isinstance<py::sequence>(item) || py::isinstance<py::str>(item))
            throw py::type_error(where + ": expected a tuple (CandidatesCore, UserCore, HistoryCore | None)");
        py::sequence parts = py::reinterpret_borrow<py::sequence>(item);
        const std::size_t len = py::len(parts);
        if (len != 2 && len != 3)
            throw py::type_error(where + ": expected a tuple (CandidatesCore, UserCore, HistoryCore | None), got " +
                                 std::to_string(len) + " items");
        py::object c = parts[0], u = parts[1];
        py::object h = len == 3 ? py::object(parts[2]) : py::object(py::none());
        if (!py::isinstance<CandidatesCore>(c)) throw py::type_error(where + "[0]: expected CandidatesCore");
        if (!py::isinstance<UserCore>(u)) throw py::type_error(where + "[1]: expected UserCore");
        batch[i].candidates = c.cast<const CandidatesCore&>().view;
        batch[i].user = u.cast<const UserCore&>().view;
        batch[i].history = history_view(h, where + "[2]");
        keep_alive.push_back(c);
        keep_alive.push_back(u);
        keep_alive.push_back(h);
    }
    std::vector<ranker::RankOutput> outs;
    {
        py::gil_scoped_release release;
        outs = ranker::rank_batch(batch, policy.policy, k, threads);
    }
    py::list results;
    for (ranker::RankOutput& out : outs) results.append(wrap(std::move(out)));
    return results;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
    m.doc() = "ranker native core (C++): see docs/semantics.md";

    py::class_<CandidatesCore>(m, "CandidatesCore")
        .def(py::init<const py::object&, const py::object&, const py::object&, const py::object&, const py::object&,
                      const py::object&, const py::object&, const py::object&, const py::object&, const py::object&,
                      const py::object&, const py::object&>(),
             py::arg("item_id"), py::arg("embedding"), py::arg("prior"), py::arg("category") = py::none(),
             py::arg("author") = py::none(), py::arg("tag_indptr") = py::none(), py::arg("tag_ids") = py::none(),
             py::arg("flags") = py::none(), py::arg("min_age") = py::none(), py::arg("fraud_risk") = py::none(),
             py::arg("offered_price") = py::none(), py::arg("reference_price") = py::none())
        .def_property_readonly("n", [](const CandidatesCore& c) { return c.view.n; })
        .def_property_readonly("d", [](const CandidatesCore& c) { return c.view.d; });

    py::class_<UserCore>(m, "UserCore")
        .def(py::init<const py::object&, const py::object&, const py::object&, bool, const py::object&, bool,
                      std::int64_t, bool, std::int64_t, std::int64_t, const py::object&>(),
             py::arg("embedding"), py::arg("tag_ids") = py::none(), py::arg("tag_weights") = py::none(),
             py::arg("personalized") = true, py::arg("deleted_tags") = py::none(), py::arg("minor_mode") = false,
             py::arg("age") = -1, py::arg("elderly") = false, py::arg("local_minute") = -1,
             py::arg("usage_minutes_today") = -1, py::arg("seen") = py::none())
        .def_property_readonly("d", [](const UserCore& u) { return u.view.d; });

    py::class_<HistoryCore>(m, "HistoryCore")
        .def(py::init<const py::object&, const py::object&, const py::object&>(), py::arg("categories") = py::none(),
             py::arg("authors") = py::none(), py::arg("embeddings") = py::none())
        .def_property_readonly("h", [](const HistoryCore& h) { return h.view.h; });

    py::class_<PolicyCore>(m, "PolicyCore")
        .def(py::init([](std::int64_t k, double w_rel, double w_tag, double w_prior, const py::object& forbidden_tags,
                         bool deletion_suppress, std::int64_t curfew_start, std::int64_t curfew_end,
                         const py::object& daily_keys, const py::object& daily_minutes, double max_risk,
                         double elderly_max_risk, int price_action, double abs_tol, double rel_tol,
                         std::int64_t key_count, std::int64_t featured_min, const py::object& pin_item_ids,
                         const py::object& pin_slots, int method, double mmr_lambda, double dpp_alpha,
                         std::int64_t candidates, std::int64_t category_window, std::int64_t category_max,
                         std::int64_t author_window, std::int64_t author_max, double category_share) {
                 auto core = std::make_unique<PolicyCore>();
                 ranker::Policy& p = core->policy;
                 p.k = k;
                 p.w_rel = w_rel;
                 p.w_tag = w_tag;
                 p.w_prior = w_prior;
                 p.forbidden_tags = copy_vector<std::int32_t>(forbidden_tags, "policy.forbidden_tags");
                 p.deletion_suppress = deletion_suppress;
                 p.curfew_start = curfew_start;
                 p.curfew_end = curfew_end;
                 p.daily_keys = copy_vector<std::int32_t>(daily_keys, "policy.daily_keys");
                 p.daily_minutes = copy_vector<std::int32_t>(daily_minutes, "policy.daily_minutes");
                 p.max_risk = max_risk;
                 p.elderly_max_risk = elderly_max_risk;
                 if (price_action < 0 || price_action > 3)
                     throw py::value_error("policy.price_action: expected 0 (off), 1 (drop), 2 (clamp) or 3 (flag)");
                 p.price_action = static_cast<ranker::PriceAction>(price_action);
                 p.abs_tol = abs_tol;
                 p.rel_tol = rel_tol;
                 p.key_count = key_count;
                 p.featured_min = featured_min;
                 const auto ids = copy_vector<std::int64_t>(pin_item_ids, "policy.pin_item_ids");
                 const auto slots = copy_vector<std::int64_t>(pin_slots, "policy.pin_slots");
                 if (ids.size() != slots.size())
                     throw py::value_error("policy.pins: pin_item_ids and pin_slots must have the same length");
                 for (std::size_t q = 0; q < ids.size(); ++q) p.pins.push_back({ids[q], slots[q]});
                 if (method < 0 || method > 2) throw py::value_error("policy.method: expected 0 (none), 1 (mmr) or 2 (dpp)");
                 p.method = static_cast<ranker::Method>(method);
                 p.mmr_lambda = mmr_lambda;
                 p.dpp_alpha = dpp_alpha;
                 p.candidates = candidates;
                 p.category_window = category_window;
                 p.category_max = category_max;
                 p.author_window = author_window;
                 p.author_max = author_max;
                 p.category_share = category_share;
                 ranker::validate_policy(p);
                 return core;
             }),
             py::arg("k") = 50, py::arg("w_rel") = 1.0, py::arg("w_tag") = 0.0, py::arg("w_prior") = 0.0,
             py::arg("forbidden_tags") = py::none(), py::arg("deletion_suppress") = false,
             py::arg("curfew_start") = 22 * 60, py::arg("curfew_end") = 6 * 60, py::arg("daily_keys") = py::none(),
             py::arg("daily_minutes") = py::none(), py::arg("max_risk") = 1.0, py::arg("elderly_max_risk") = 1.0,
             py::arg("price_action") = 1, py::arg("abs_tol") = 0.0, py::arg("rel_tol") = 0.0,
             py::arg("key_count") = 0, py::arg("featured_min") = 0, py::arg("pin_item_ids") = py::none(),
             py::arg("pin_slots") = py::none(), py::arg("method") = 0, py::arg("mmr_lambda") = 0.7,
             py::arg("dpp_alpha") = 1.0, py::arg("candidates") = 0, py::arg("category_window") = 0,
             py::arg("category_max") = 0, py::arg("author_window") = 0, py::arg("author_max") = 0,
             py::arg("category_share") = 1.0)
        .def_property_readonly("k", [](const PolicyCore& p) { return p.policy.k; });

    m.def("rank", &rank_py, py::arg("cands"), py::arg("user"), py::arg("policy"), py::arg("k"),
          py::arg("history") = py::none(),
          "Rank one request. Returns (status, indices, scores, reasons, prices, drop_codes, counts, pin_status).");
    m.def("rank_batch", &rank_batch_py, py::arg("requests"), py::arg("policy"), py::arg("k"), py::arg("threads") = 1,
          "Rank (CandidatesCore, UserCore, HistoryCore | None) requests on `threads` threads, GIL released.");
    m.def("simd_level", []() { return std::string(ranker::active_kernels().name); },
          "The kernels run-time dispatch chose: 'avx2' or 'scalar'.");
}
