#include <algorithm>
#include <cmath>
#include <limits>
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
        std::vector<double> wa(d), wb(d);
        double dot_ref = 0, n2_ref = 0;  // plain sequential sums in double
        for (std::size_t j = 0; j < d; ++j) {
            a[j] = g(rng);
            b[j] = g(rng);
            wa[j] = a[j];
            wb[j] = b[j];
            dot_ref += wa[j] * wb[j];
            n2_ref += wb[j] * wb[j];
        }
        const double tol = 1e-12 * (1 + std::fabs(dot_ref) + n2_ref);
        for (const KernelTable* k : {&slow, fast}) {
            if (k == nullptr) continue;
            CHECK_NEAR(k->dot(a.data(), b.data(), d), dot_ref, tol);
            CHECK_NEAR(k->norm2(b.data(), d), n2_ref, tol);
            CHECK_NEAR(k->dot_f64(wa.data(), wb.data(), d), dot_ref, tol);
            CHECK_NEAR(k->dot_mixed(wa.data(), b.data(), d), dot_ref, tol);
            CHECK(k->all_finite(b.data(), d));
            std::vector<double> scaled(d);
            k->widen_scaled(b.data(), 0.5, scaled.data(), d);
            for (std::size_t j = 0; j < d; ++j) CHECK(scaled[j] == wb[j] * 0.5);  // one rounding of an exact product
        }
    }
}

// The DPP basis relies on it: one project_out pass removes the components along the rows of q
// (all coefficients taken from the input vector), and two passes leave a vector orthogonal to
// them to rounding level, for row counts off the 4 grid and lengths off the 32 and 4 grids.
TEST(kernels, project_out_removes_the_components_along_orthonormal_rows) {
    std::mt19937_64 rng(31);
    std::normal_distribution<double> g;
    for (const KernelTable* k : {&scalar_kernels(), avx2_kernels()}) {
        if (k == nullptr) continue;
        for (std::size_t d : {1, 3, 4, 9, 32, 37, 64, 100}) {
            for (std::size_t b : {0, 1, 3, 4, 5, 9}) {
                if (b > d) continue;
                // b orthonormal rows, by Gram-Schmidt in plain double.
                std::vector<double> q(b * d);
                for (std::size_t p = 0; p < b; ++p) {
                    double* row = q.data() + p * d;
                    for (std::size_t j = 0; j < d; ++j) row[j] = g(rng);
                    for (int pass = 0; pass < 2; ++pass)
                        for (std::size_t r = 0; r < p; ++r) {
                            double c = 0.0;
                            for (std::size_t j = 0; j < d; ++j) c += q[r * d + j] * row[j];
                            for (std::size_t j = 0; j < d; ++j) row[j] -= c * q[r * d + j];
                        }
                    double n = 0.0;
                    for (std::size_t j = 0; j < d; ++j) n += row[j] * row[j];
                    for (std::size_t j = 0; j < d; ++j) row[j] /= std::sqrt(n);
                }
                std::vector<double> x(d), out(d), coefficients(b + 1, -7.0);
                for (std::size_t j = 0; j < d; ++j) x[j] = out[j] = g(rng);
                k->project_out(q.data(), b, d, out.data(), coefficients.data());
                CHECK(coefficients[b] == -7.0);  // nothing written past b
                for (std::size_t j = 0; j < d; ++j) {
                    double want = x[j];
                    for (std::size_t p = 0; p < b; ++p) {
                        double c = 0.0;
                        for (std::size_t i = 0; i < d; ++i) c += q[p * d + i] * x[i];
                        want -= c * q[p * d + j];
                    }
                    CHECK_NEAR(out[j], want, 1e-12 * (1.0 + std::fabs(x[j])) * static_cast<double>(d));
                }
                k->project_out(q.data(), b, d, out.data(), coefficients.data());
                for (std::size_t p = 0; p < b; ++p) {
                    double c = 0.0;
                    for (std::size_t j = 0; j < d; ++j) c += q[p * d + j] * out[j];
                    CHECK(std::fabs(c) <= 1e-14 * static_cast<double>(d));
                }
            }
        }
    }
}

TEST(kernels, non_finite_entries_make_sums_non_finite) {
    for (const KernelTable* k : {&scalar_kernels(), avx2_kernels()}) {
        if (k == nullptr) continue;
        for (std::size_t d : {1, 5, 16, 19}) {
            for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
                std::vector<float> e(d, 1.0f);
                std::vector<float> u(d, 0.0f);  // zero weights must not hide a NaN/inf (0 * inf = NaN)
                e[d - 1] = bad;
                CHECK(!std::isfinite(k->norm2(e.data(), d)));
                CHECK(!std::isfinite(k->dot(u.data(), e.data(), d)));
                std::uint8_t wanted = 1;
                double scored = 0.0;
                CHECK(!k->score_dots(u.data(), e.data(), 1, d, &wanted, &scored));
                CHECK(!std::isfinite(scored));
                CHECK(!k->all_finite(e.data(), d));
            }
        }
    }
}

// Every length off and on the 4-lane grid, with one bad value at each position in turn.
TEST(kernels, valid_prices_refuses_negative_and_infinite_prices_only) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double max = std::numeric_limits<double>::max();
    for (const KernelTable* k : {&scalar_kernels(), avx2_kernels()}) {
        if (k == nullptr) continue;
        for (std::size_t n : {0, 1, 3, 4, 5, 8, 13}) {
            std::vector<double> x(n);
            for (std::size_t i = 0; i < n; ++i) x[i] = std::vector<double>{0.0, -0.0, nan, 2.5, max}[i % 5];
            CHECK(k->valid_prices(x.data(), n));
            for (std::size_t at = 0; at < n; ++at) {
                for (double bad : {-1e-300, -1.0, -max, -HUGE_VAL, HUGE_VAL}) {
                    std::vector<double> y = x;
                    y[at] = bad;
                    CHECK(!k->valid_prices(y.data(), n));
                }
            }
        }
    }
}

TEST(kernels, score_dots_matches_the_row_kernels) {
    std::mt19937_64 rng(9);
    std::normal_distribution<float> g;
    for (const KernelTable* k : {&scalar_kernels(), avx2_kernels()}) {
        if (k == nullptr) continue;
        // 32, 64, 96 and 128 take the AVX2 fast path (u widened once, four wanted rows summed
        // together); rows 8 to 15 are all wanted, so at least one group of four is, and n = 23
        // leaves a remainder of three rows.
        for (std::size_t d : {1, 7, 8, 32, 33, 64, 96, 128}) {
            const std::size_t n = 23;
            std::vector<float> u(d), e(n * d);
            for (float& x : u) x = g(rng);
            for (float& x : e) x = g(rng);
            e[5 * d + d / 2] = std::nanf("");   // a wanted row with a NaN
            e[6 * d] = INFINITY;                // an unwanted row with an inf
            e[13 * d + d - 1] = INFINITY;        // a wanted row with an inf, in an all-wanted group
            std::vector<std::uint8_t> want(n);
            for (std::size_t i = 0; i < n; ++i) want[i] = (i % 3 != 0) || i == 5 || (i >= 8 && i < 16);
            want[6] = 0;
            want[9] = 2;  // any non-zero byte means wanted
            std::vector<double> out(n, -1.0);
            CHECK(!k->score_dots(u.data(), e.data(), n, d, want.data(), out.data()));
            for (std::size_t i = 0; i < n; ++i) {
                const float* row = e.data() + i * d;
                if (i == 5 || i == 6 || i == 13) {
                    CHECK(!std::isfinite(out[i]));
                } else if (want[i]) {
                    CHECK(out[i] == k->dot(u.data(), row, d));
                } else {
                    CHECK(out[i] == 0.0);
                }
            }
        }
    }
}

// The return value lets the scoring pass skip its per-row checks: it must see a non-finite
// entry wherever it sits (in a four-row group summed together, in a group with an unwanted row,
// in the remainder) and must be true when every row is finite.
TEST(kernels, score_dots_reports_any_non_finite_row) {
    std::mt19937_64 rng(10);
    std::normal_distribution<float> g;
    for (const KernelTable* k : {&scalar_kernels(), avx2_kernels()}) {
        if (k == nullptr) continue;
        for (std::size_t d : {7, 32, 64, 128}) {
            const std::size_t n = 23;
            std::vector<float> u(d), clean(n * d);
            for (float& x : u) x = g(rng);
            for (float& x : clean) x = g(rng);
            std::vector<std::uint8_t> want(n, 1);
            want[6] = 0;  // rows 4 to 7 are summed one at a time; 20 to 22 are the remainder
            std::vector<double> out(n);
            CHECK(k->score_dots(u.data(), clean.data(), n, d, want.data(), out.data()));
            for (std::size_t row : {1, 5, 6, 13, 21}) {
                for (float bad : {INFINITY, -INFINITY, std::nanf("")}) {
                    std::vector<float> e = clean;
                    e[row * d + d / 2] = bad;
                    CHECK(!k->score_dots(u.data(), e.data(), n, d, want.data(), out.data()));
                }
            }
        }
    }
}

// Scores are not bounded like cosines: rows of widely different norms whose terms cancel must
// still score to double accuracy (float lanes missed such a score by about 1e-8 of the sum of
// |terms|, 5e-4 on a score of -38), since compare() holds native scores to the reference's.
TEST(kernels, score_dots_is_accurate_where_terms_cancel) {
    std::mt19937_64 rng(11);
    std::normal_distribution<double> g;
    std::uniform_real_distribution<double> exponent(-3.0, 3.0);
    for (const KernelTable* k : {&scalar_kernels(), avx2_kernels()}) {
        if (k == nullptr) continue;
        for (std::size_t d : {16, 33, 64, 128, 256}) {
            const std::size_t n = 40;
            std::vector<float> u(d), e(n * d);
            for (float& x : u) x = static_cast<float>(10.0 * g(rng));
            for (std::size_t i = 0; i < n; ++i) {
                const double scale = std::pow(10.0, exponent(rng));
                for (std::size_t j = 0; j < d; ++j) e[i * d + j] = static_cast<float>(scale * g(rng));
            }
            std::vector<std::uint8_t> want(n, 1);
            std::vector<double> out(n);
            CHECK(k->score_dots(u.data(), e.data(), n, d, want.data(), out.data()));
            for (std::size_t i = 0; i < n; ++i) {
                long double exact = 0.0L, magnitude = 0.0L;
                for (std::size_t j = 0; j < d; ++j) {
                    const long double term = static_cast<long double>(u[j]) * e[i * d + j];
                    exact += term;
                    magnitude += std::fabs(term);
                }
                CHECK(std::fabs(static_cast<long double>(out[i]) - exact) <= 1e-13L * magnitude);
            }
        }
    }
}

// MMR's refresh relies on it: a row of dot_block is the same whatever block it is computed in
// (four-row groups and the single-row remainder agree bit for bit), and it is the dot product
// to float-lane accuracy.
TEST(kernels, dot_block_rows_agree_bit_for_bit_and_match_the_dot_product) {
    std::mt19937_64 rng(13);
    std::normal_distribution<float> g;
    for (const KernelTable* k : {&scalar_kernels(), avx2_kernels()}) {
        if (k == nullptr) continue;
        for (std::size_t d : {1, 7, 8, 15, 16, 17, 24, 33, 64, 100}) {
            for (std::size_t count : {0, 1, 3, 4, 5, 8, 11}) {
                std::vector<float> u(d), rows(count * d);
                for (float& x : u) x = g(rng);
                for (float& x : rows) x = g(rng);
                std::vector<double> out(count + 1, -7.0);
                k->dot_block(u.data(), rows.data(), count, d, out.data());
                for (std::size_t i = 0; i < count; ++i) {
                    const float* row = rows.data() + i * d;
                    double alone = 0.0;
                    k->dot_block(u.data(), row, 1, d, &alone);
                    CHECK(out[i] == alone);
                    double n2 = 0.0;
                    for (std::size_t j = 0; j < d; ++j) n2 += std::fabs(static_cast<double>(u[j]) * row[j]);
                    CHECK_NEAR(out[i], k->dot(u.data(), row, d), 1e-6 * (1.0 + n2));
                }
                CHECK(out[count] == -7.0);  // nothing written past count
            }
        }
    }
}

// The DPP screening bound (diversity.cpp) relies on it: dot_rows' products, and the products
// behind projection_moments, are within gamma_d = d u / (1 - d u) (u = 2^-24) of
// sum_j |x_j y_j| of the exact dot product, for rows in any order and lengths off the 8 grid.
// projection_moments ignores the columns past count (here NaN), and dot_rows writes nothing
// past count.
TEST(kernels, dot_rows_and_projection_moments_stay_within_the_float_error_bound) {
    std::mt19937_64 rng(19);
    std::normal_distribution<float> g;
    for (const KernelTable* k : {&scalar_kernels(), avx2_kernels()}) {
        if (k == nullptr) continue;
        for (std::size_t d : {1, 2, 3, 7, 8, 9, 16, 24, 33, 64, 100}) {
            const double gamma = static_cast<double>(d) * 0x1p-24 / (1.0 - static_cast<double>(d) * 0x1p-24);
            for (std::size_t count : {0, 1, 3, 7, 8, 9, 17, 31, 32, 33, 40, 47, 50, 56, 63, 64, 65, 70, 129}) {
                std::vector<float> u(d), rows(count * d);
                for (float& x : u) x = g(rng);
                for (float& x : rows) x = g(rng) * (rng() % 3 == 0 ? 1e3f : 1.0f);
                // The exact dot product with row b, and the bound of a float sum's error.
                std::vector<double> exact(count), slack(count);
                for (std::size_t b = 0; b < count; ++b) {
                    double s = 0.0, magnitude = 0.0;
                    for (std::size_t j = 0; j < d; ++j) {
                        s += static_cast<double>(u[j]) * rows[b * d + j];
                        magnitude += std::fabs(static_cast<double>(u[j]) * rows[b * d + j]);
                    }
                    exact[b] = s;
                    slack[b] = gamma * magnitude + 1e-12 * magnitude;  // + the double sum's own error
                }
                std::vector<const float*> pointers(count);
                std::vector<std::size_t> order(count);
                for (std::size_t i = 0; i < count; ++i) {
                    order[i] = (i * 5) % count;
                    pointers[i] = rows.data() + order[i] * d;
                }
                std::vector<double> out(count + 1, -7.0);
                k->dot_rows(u.data(), pointers.data(), count, d, out.data());
                for (std::size_t i = 0; i < count; ++i) CHECK(std::fabs(out[i] - exact[order[i]]) <= slack[order[i]]);
                CHECK(out[count] == -7.0);
                // The same rows by column, padded to a multiple of 8 columns with NaN.
                const std::size_t stride = std::max<std::size_t>(8, (count + 7) / 8 * 8);
                std::vector<float> columns(d * stride, std::numeric_limits<float>::quiet_NaN());
                for (std::size_t b = 0; b < count; ++b)
                    for (std::size_t j = 0; j < d; ++j) columns[j * stride + b] = rows[b * d + j];
                const double scale = 0.37;
                double sum_sq = -1.0, sum_abs = -1.0;
                k->projection_moments(u.data(), columns.data(), stride, count, d, scale, &sum_sq, &sum_abs);
                double want_sq = 0.0, want_abs = 0.0, bound_sq = 0.0, bound_abs = 0.0;
                for (std::size_t b = 0; b < count; ++b) {
                    const double a = exact[b] * scale, da = slack[b] * scale;
                    want_sq += a * a;
                    want_abs += std::fabs(a);
                    bound_sq += da * (2.0 * std::fabs(a) + da);
                    bound_abs += da;
                }
                CHECK(std::fabs(sum_sq - want_sq) <= bound_sq + 1e-12 * want_sq);
                CHECK(std::fabs(sum_abs - want_abs) <= bound_abs + 1e-12 * want_abs);
            }
        }
    }
}

// A late DPP activation relies on it: each output of dot_mixed_basis is dot_mixed bit for bit,
// for odd basis counts (one row left to the single-row kernel) and lengths off the 16 grid.
TEST(kernels, dot_mixed_basis_matches_dot_mixed_bit_for_bit) {
    std::mt19937_64 rng(17);
    std::normal_distribution<double> g;
    for (const KernelTable* k : {&scalar_kernels(), avx2_kernels()}) {
        if (k == nullptr) continue;
        for (std::size_t d : {1, 5, 16, 17, 32, 64, 100, 128}) {
            for (std::size_t count : {0, 1, 2, 3, 8, 9}) {
                std::vector<double> q(count * d);
                for (double& x : q) x = g(rng);
                std::vector<float> e(d);
                for (float& x : e) x = static_cast<float>(g(rng));
                std::vector<double> out(count + 1, -7.0);
                k->dot_mixed_basis(q.data(), count, e.data(), d, out.data());
                for (std::size_t b = 0; b < count; ++b) CHECK(out[b] == k->dot_mixed(q.data() + b * d, e.data(), d));
                CHECK(out[count] == -7.0);  // nothing written past count
            }
        }
    }
}

// MMR's first comparison of every pool item relies on it: norm2_dot_rows gives norm2 and
// dot_block (one row) bit for bit, on and off the 16 grid of its one-pass path.
TEST(kernels, norm2_dot_rows_matches_norm2_and_dot_block_bit_for_bit) {
    std::mt19937_64 rng(19);
    std::normal_distribution<float> g;
    for (const KernelTable* k : {&scalar_kernels(), avx2_kernels()}) {
        if (k == nullptr) continue;
        for (std::size_t d : {1, 7, 8, 16, 17, 24, 32, 64, 100, 128}) {
            for (std::size_t count : {0, 1, 2, 5}) {
                std::vector<float> u(d);
                for (float& x : u) x = g(rng);
                std::vector<std::vector<float>> storage(count, std::vector<float>(d));
                std::vector<const float*> rows;
                for (auto& row : storage) {
                    for (float& x : row) x = g(rng);
                    rows.push_back(row.data());
                }
                std::vector<double> norm2(count + 1, -7.0), dots(count + 1, -7.0);
                k->norm2_dot_rows(rows.data(), count, u.data(), d, norm2.data(), dots.data());
                for (std::size_t i = 0; i < count; ++i) {
                    CHECK(norm2[i] == k->norm2(rows[i], d));
                    double alone = 0.0;
                    k->dot_block(rows[i], u.data(), 1, d, &alone);
                    CHECK(dots[i] == alone);
                }
                CHECK(norm2[count] == -7.0);  // nothing written past count
                CHECK(dots[count] == -7.0);
            }
        }
    }
}
