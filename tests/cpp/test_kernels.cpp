#include <random>
#include <vector>

#include "check.h"
#include "ranker/kernels.h"

using namespace ranker;

// The scalar kernels are the oracle; the AVX2 ones only sum in a different order.
TEST(kernels, avx2_matches_scalar_on_odd_sizes) {
    const KernelTable* fast = avx2_kernels();
    const KernelTable& slow = scalar_kernels();
    std::mt19937_64 rng(7);
    std::normal_distribution<float> g;
    for (std::size_t d : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257}) {
        std::vector<float> a(d), b(d);
        std::vector<double> wide(d);
        for (std::size_t j = 0; j < d; ++j) {
            a[j] = g(rng);
            b[j] = g(rng);
            wide[j] = a[j];
        }
        double dot_s = 0, n2_s = 0;
        slow.dot_norm2(wide.data(), b.data(), d, &dot_s, &n2_s);
        CHECK_NEAR(dot_s, slow.dot(a.data(), b.data(), d), 1e-12 * (1 + std::fabs(dot_s)));
        CHECK_NEAR(n2_s, slow.norm2(b.data(), d), 1e-12 * n2_s);
        CHECK_NEAR(dot_s, slow.dot_wide(wide.data(), b.data(), d), 1e-12 * (1 + std::fabs(dot_s)));
        const KernelTable& active = active_kernels();
        CHECK_NEAR(active.dot(a.data(), b.data(), d), dot_s, 1e-12 * (1 + std::fabs(dot_s)));
        if (fast == nullptr) continue;
        double dot_f = 0, n2_f = 0;
        fast->dot_norm2(wide.data(), b.data(), d, &dot_f, &n2_f);
        CHECK_NEAR(dot_f, dot_s, 1e-12 * (1 + std::fabs(dot_s)));
        CHECK_NEAR(n2_f, n2_s, 1e-12 * n2_s);
        CHECK_NEAR(fast->dot(a.data(), b.data(), d), dot_s, 1e-12 * (1 + std::fabs(dot_s)));
        CHECK_NEAR(fast->norm2(b.data(), d), n2_s, 1e-12 * n2_s);
        CHECK_NEAR(fast->dot_wide(wide.data(), b.data(), d), dot_s, 1e-12 * (1 + std::fabs(dot_s)));
    }
}

TEST(kernels, non_finite_entries_make_sums_non_finite) {
    for (const KernelTable* k : {&scalar_kernels(), avx2_kernels()}) {
        if (k == nullptr) continue;
        for (std::size_t d : {1, 5, 16, 19}) {
            for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
                std::vector<float> e(d, 1.0f);
                std::vector<double> u(d, 0.0);  // zero weights must not hide a NaN/inf (0 * inf = NaN)
                e[d - 1] = bad;
                CHECK(!std::isfinite(k->norm2(e.data(), d)));
                CHECK(!std::isfinite(k->dot_wide(u.data(), e.data(), d)));
            }
        }
    }
}
