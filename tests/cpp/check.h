// A minimal test harness whose CHECK survives NDEBUG (plain assert would vanish in Release).
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace ranker_test {

struct TestCase {
    const char* group;
    const char* name;
    std::function<void()> body;
};

inline std::vector<TestCase>& registry() {
    static std::vector<TestCase> tests;
    return tests;
}
inline int& failures() {
    static int count = 0;
    return count;
}

struct Register {
    Register(const char* group, const char* name, std::function<void()> body) {
        registry().push_back({group, name, std::move(body)});
    }
};

}  // namespace ranker_test

#define RT_CONCAT2(a, b) a##b
#define RT_CONCAT(a, b) RT_CONCAT2(a, b)
#define TEST(group, name)                                                                              \
    static void RT_CONCAT(test_, RT_CONCAT(group, name))();                                        \
    static ranker_test::Register RT_CONCAT(register_, RT_CONCAT(group, name))(#group, #name, RT_CONCAT(test_, RT_CONCAT(group, name))); \
    static void RT_CONCAT(test_, RT_CONCAT(group, name))()

#define CHECK(cond)                                                                                    \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            ++ranker_test::failures();                                                                 \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);              \
        }                                                                                              \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                          \
    do {                                                                                               \
        const double rt_a = (a), rt_b = (b);                                                           \
        if (!(std::fabs(rt_a - rt_b) <= (tol))) {                                                      \
            ++ranker_test::failures();                                                                 \
            std::fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.17g vs %s = %.17g\n", __FILE__,     \
                         __LINE__, #a, rt_a, #b, rt_b);                                                \
        }                                                                                              \
    } while (0)

// Runs stmt and checks it throws exactly type E (or a subclass) whose message starts with prefix.
#define CHECK_THROWS(E, prefix, stmt)                                                                  \
    do {                                                                                               \
        bool rt_thrown = false;                                                                        \
        try {                                                                                          \
            stmt;                                                                                      \
        } catch (const E& rt_e) {                                                                      \
            rt_thrown = true;                                                                          \
            if (std::string(rt_e.what()).rfind(prefix, 0) != 0) {                                      \
                ++ranker_test::failures();                                                             \
                std::fprintf(stderr, "%s:%d: wrong message: '%s' (expected prefix '%s')\n", __FILE__,  \
                             __LINE__, rt_e.what(), prefix);                                           \
            }                                                                                          \
        } catch (...) {                                                                                \
            rt_thrown = true;                                                                          \
            ++ranker_test::failures();                                                                 \
            std::fprintf(stderr, "%s:%d: %s threw the wrong exception type\n", __FILE__, __LINE__,     \
                         #stmt);                                                                       \
        }                                                                                              \
        if (!rt_thrown) {                                                                              \
            ++ranker_test::failures();                                                                 \
            std::fprintf(stderr, "%s:%d: %s did not throw\n", __FILE__, __LINE__, #stmt);              \
        }                                                                                              \
    } while (0)
