#include "ranker/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "ranker/prefetch.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RANKER_HAVE_AVX2_VARIANT 1
#include <immintrin.h>
#endif

namespace ranker {
namespace {

double dot_scalar(const float* a, const float* b, std::size_t d) {
    double s = 0.0;
    for (std::size_t j = 0; j < d; ++j) s += static_cast<double>(a[j]) * static_cast<double>(b[j]);
    return s;
}

double norm2_scalar(const float* e, std::size_t d) { return dot_scalar(e, e, d); }

bool all_finite_scalar(const float* e, std::size_t d) {
    std::uint32_t bad = 0;
    for (std::size_t j = 0; j < d; ++j) {
        std::uint32_t bits;
        std::memcpy(&bits, e + j, sizeof bits);
        bad |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    return bad == 0;
}

bool valid_prices_scalar(const double* x, std::size_t n) {
    // Ordered comparisons are false for NaN, so NaN (no price) passes both; so does -0.0.
    std::uint32_t bad = 0;
    for (std::size_t i = 0; i < n; ++i)
        bad |= static_cast<std::uint32_t>((x[i] < 0.0) | (x[i] > std::numeric_limits<double>::max()));
    return bad == 0;
}

// Four independent partial sums: a single running sum waits on the add latency per element.
// Shared by dot_f64 and dot_mixed (a float input is widened as it is read).
template <class A, class B>
double dot4_scalar(const A* a, const B* b, std::size_t len) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    std::size_t j = 0;
    for (; j + 4 <= len; j += 4) {
        s0 += static_cast<double>(a[j]) * static_cast<double>(b[j]);
        s1 += static_cast<double>(a[j + 1]) * static_cast<double>(b[j + 1]);
        s2 += static_cast<double>(a[j + 2]) * static_cast<double>(b[j + 2]);
        s3 += static_cast<double>(a[j + 3]) * static_cast<double>(b[j + 3]);
    }
    for (; j < len; ++j) s0 += static_cast<double>(a[j]) * static_cast<double>(b[j]);
    return (s0 + s1) + (s2 + s3);
}

double dot_f64_scalar(const double* a, const double* b, std::size_t len) { return dot4_scalar(a, b, len); }

double dot_mixed_scalar(const double* q, const float* e, std::size_t len) { return dot4_scalar(q, e, len); }

void dot_mixed_basis_scalar(const double* q, std::size_t count, const float* e, std::size_t len, double* out) {
    for (std::size_t b = 0; b < count; ++b) out[b] = dot_mixed_scalar(q + b * len, e, len);
}

void project_out_scalar(const double* q, std::size_t b, std::size_t d, double* out, double* coefficients) {
    for (std::size_t p = 0; p < b; ++p) coefficients[p] = dot4_scalar(q + p * d, out, d);
    for (std::size_t p = 0; p < b; ++p)
        for (std::size_t j = 0; j < d; ++j) out[j] -= coefficients[p] * q[p * d + j];
}

bool score_dots_scalar(const float* u, const float* e, std::size_t n, std::size_t d, const std::uint8_t* want,
                       double* out) {
    bool finite = true;
    for (std::size_t i = 0; i < n; ++i, e += d) {
        if (want[i]) {
            out[i] = dot_scalar(u, e, d);
        } else {
            out[i] = all_finite_scalar(e, d) ? 0.0 : std::numeric_limits<double>::quiet_NaN();
        }
        finite = finite && std::isfinite(out[i]);
    }
    return finite;
}

void dot_block_scalar(const float* u, const float* rows, std::size_t count, std::size_t d, double* out) {
    for (std::size_t i = 0; i < count; ++i) out[i] = dot_scalar(u, rows + i * d, d);
}

void dot_rows_scalar(const float* u, const float* const* rows, std::size_t count, std::size_t d, double* out) {
    for (std::size_t i = 0; i < count; ++i) out[i] = dot_scalar(u, rows[i], d);
}

void projection_moments_scalar(const float* e, const float* cols, std::size_t stride, std::size_t count,
                               std::size_t d, double scale, double* sum_sq, double* sum_abs) {
    double sq = 0.0, ab = 0.0;
    for (std::size_t b = 0; b < count; ++b) {
        double s = 0.0;
        for (std::size_t j = 0; j < d; ++j) s += static_cast<double>(e[j]) * static_cast<double>(cols[j * stride + b]);
        const double a = s * scale;
        sq += a * a;
        ab += std::fabs(a);
    }
    *sum_sq = sq;
    *sum_abs = ab;
}

void norm2_dot_rows_scalar(const float* const* rows, std::size_t count, const float* u, std::size_t d,
                           double* norm2_out, double* dot_out) {
    for (std::size_t i = 0; i < count; ++i) {
        norm2_out[i] = norm2_scalar(rows[i], d);
        dot_block_scalar(rows[i], u, 1, d, dot_out + i);
    }
}

void widen_scaled_scalar(const float* e, double scale, double* out, std::size_t d) {
    for (std::size_t j = 0; j < d; ++j) out[j] = static_cast<double>(e[j]) * scale;
}

const KernelTable kScalar{dot_scalar,           norm2_scalar,
                          all_finite_scalar,    valid_prices_scalar, score_dots_scalar, dot_f64_scalar,
                          dot_mixed_scalar,     dot_mixed_basis_scalar,
                          dot_block_scalar,     dot_rows_scalar,      projection_moments_scalar, norm2_dot_rows_scalar,
                          widen_scaled_scalar,
                          project_out_scalar,
                          "scalar"};

#ifdef RANKER_HAVE_AVX2_VARIANT
#define RANKER_AVX2 __attribute__((target("avx2,fma")))

RANKER_AVX2 inline double hsum(__m256d v) {
    const __m128d lo = _mm256_castpd256_pd128(v);
    const __m128d hi = _mm256_extractf128_pd(v, 1);
    const __m128d s = _mm_add_pd(lo, hi);
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

RANKER_AVX2 inline __m256d widen(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }

RANKER_AVX2 inline __m256d load4(const float* p) { return widen(p); }
RANKER_AVX2 inline __m256d load4(const double* p) { return _mm256_loadu_pd(p); }

// The double-accumulated dot product of dot, dot_f64 and dot_mixed (float or double inputs,
// widened as they are loaded): four partial sums over 16-element chunks, one fixed order.
template <class A, class B>
RANKER_AVX2 inline double dot4_avx2(const A* a, const B* b, std::size_t len) {
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    __m256d acc2 = _mm256_setzero_pd(), acc3 = _mm256_setzero_pd();
    std::size_t j = 0;
    for (; j + 16 <= len; j += 16) {
        acc0 = _mm256_fmadd_pd(load4(a + j), load4(b + j), acc0);
        acc1 = _mm256_fmadd_pd(load4(a + j + 4), load4(b + j + 4), acc1);
        acc2 = _mm256_fmadd_pd(load4(a + j + 8), load4(b + j + 8), acc2);
        acc3 = _mm256_fmadd_pd(load4(a + j + 12), load4(b + j + 12), acc3);
    }
    for (; j + 4 <= len; j += 4) acc0 = _mm256_fmadd_pd(load4(a + j), load4(b + j), acc0);
    double s = hsum(_mm256_add_pd(_mm256_add_pd(acc0, acc1), _mm256_add_pd(acc2, acc3)));
    for (; j < len; ++j) s += static_cast<double>(a[j]) * static_cast<double>(b[j]);
    return s;
}

// Products of two floats are exact in double, so FMA here rounds exactly like mul + add.
RANKER_AVX2 double dot_avx2(const float* a, const float* b, std::size_t d) { return dot4_avx2(a, b, d); }

// The squared norm is the dot product of the row with itself, term for term.
RANKER_AVX2 double norm2_avx2(const float* e, std::size_t d) { return dot4_avx2(e, e, d); }

RANKER_AVX2 inline bool all_finite_avx2(const float* e, std::size_t d) {
    const __m256i exponent = _mm256_set1_epi32(0x7f800000);
    __m256i bad = _mm256_setzero_si256();
    std::size_t j = 0;
    for (; j + 8 <= d; j += 8) {
        const __m256i bits = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(e + j)), exponent);
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(bits, exponent));
    }
    bool ok = _mm256_testz_si256(bad, bad) != 0;
    for (; j < d; ++j) ok = ok && std::isfinite(e[j]);
    return ok;
}

// Four prices per compare; both comparisons are ordered (_OQ: false for NaN, no exception).
RANKER_AVX2 bool valid_prices_avx2(const double* x, std::size_t n) {
    const __m256d zero = _mm256_setzero_pd();
    const __m256d top = _mm256_set1_pd(std::numeric_limits<double>::max());
    __m256d bad = _mm256_setzero_pd();
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m256d v = _mm256_loadu_pd(x + i);
        bad = _mm256_or_pd(bad, _mm256_or_pd(_mm256_cmp_pd(v, zero, _CMP_LT_OQ), _mm256_cmp_pd(v, top, _CMP_GT_OQ)));
    }
    return _mm256_movemask_pd(bad) == 0 && valid_prices_scalar(x + i, n - i);
}

// dot4_avx2(u, e, d) for d = 32 * kBlocks, with u already widened, up to the vector whose hsum
// is the result: the same (exact) products, accumulators and order, so bit for bit the same.
template <std::size_t kBlocks>
RANKER_AVX2 inline __m256d dot_lanes(const double* uw, const float* e) {
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    __m256d acc2 = _mm256_setzero_pd(), acc3 = _mm256_setzero_pd();
    for (std::size_t j = 0; j < 32 * kBlocks; j += 16) {
        acc0 = _mm256_fmadd_pd(widen(e + j), _mm256_load_pd(uw + j), acc0);
        acc1 = _mm256_fmadd_pd(widen(e + j + 4), _mm256_load_pd(uw + j + 4), acc1);
        acc2 = _mm256_fmadd_pd(widen(e + j + 8), _mm256_load_pd(uw + j + 8), acc2);
        acc3 = _mm256_fmadd_pd(widen(e + j + 12), _mm256_load_pd(uw + j + 12), acc3);
    }
    return _mm256_add_pd(_mm256_add_pd(acc0, acc1), _mm256_add_pd(acc2, acc3));
}

// hsum of four vectors at once, each as (lanes 0 + 2) + (lanes 1 + 3) like hsum, so bit for bit
// the same: two vectors per permute-and-add, then the four last additions in one hadd.
RANKER_AVX2 inline __m256d hsum4(__m256d x0, __m256d x1, __m256d x2, __m256d x3) {
    const __m256d s02 = _mm256_add_pd(_mm256_permute2f128_pd(x0, x2, 0x20), _mm256_permute2f128_pd(x0, x2, 0x31));
    const __m256d s13 = _mm256_add_pd(_mm256_permute2f128_pd(x1, x3, 0x20), _mm256_permute2f128_pd(x1, x3, 0x31));
    return _mm256_hadd_pd(s02, s13);
}

RANKER_AVX2 inline double unwanted_row(const float* e, std::size_t d) {
    return all_finite_avx2(e, d) ? 0.0 : std::numeric_limits<double>::quiet_NaN();
}

// One row of the fixed-width pass on its own (a group of four with an unwanted row, the last
// n % 4 rows); returns whether out[row] is finite.
template <std::size_t kBlocks>
RANKER_AVX2 inline bool fixed_width_row(const double* uw, const float* e, const std::uint8_t* want, std::size_t row,
                                        double* out) {
    const float* r = e + row * 32 * kBlocks;
    out[row] = want[row] ? hsum(dot_lanes<kBlocks>(uw, r)) : unwanted_row(r, 32 * kBlocks);
    return std::isfinite(out[row]);
}

// The scoring pass for the common widths d = 32 * kBlocks: u is widened once for all rows,
// and four wanted rows in a row share one horizontal sum. Rows are still read one after the
// other, in memory order (interleaving the rows' loads was slower: bench/NOTES.md).
// Fewer instructions per row than the general loop below, same results bit for bit.
template <std::size_t kBlocks>
RANKER_AVX2 bool score_dots_fixed_avx2(const float* u, const float* e, std::size_t n, const std::uint8_t* want,
                                       double* out) {
    constexpr std::size_t d = 32 * kBlocks;
    alignas(32) double uw[d];
    for (std::size_t j = 0; j < d; j += 4) _mm256_store_pd(uw + j, widen(u + j));
    // Rows 16 ahead (4 KiB at d = 64) are requested while these four are summed: in a
    // stand-alone loop over 64 requests' rows (from L3 or memory, as in the benchmark) that took
    // the pass from 0.93 to about 0.82 of the one-row-at-a-time loop's time; 8 ahead gave 0.86.
    constexpr std::size_t kAhead = 16;
    __m256d non_finite = _mm256_setzero_pd();  // lanes set where a four-row group gave inf or NaN
    bool finite = true;                        // the rows summed one at a time
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float* r = e + i * d;
        if (i + kAhead + 4 <= n) request_lines(r + kAhead * d, 4 * d * sizeof(float));
        if ((want[i] != 0) & (want[i + 1] != 0) & (want[i + 2] != 0) & (want[i + 3] != 0)) {
            // The empty asm keeps the compiler from moving one row's loads past the next row's:
            // left alone, GCC scheduled the four rows last to first, and with the rows read
            // backwards feed-5k-mmr ran at 0.95 to 1.45 of the one-row loop's time.
            const __m256d x0 = dot_lanes<kBlocks>(uw, r);
            asm volatile("" ::: "memory");
            const __m256d x1 = dot_lanes<kBlocks>(uw, r + d);
            asm volatile("" ::: "memory");
            const __m256d x2 = dot_lanes<kBlocks>(uw, r + 2 * d);
            asm volatile("" ::: "memory");
            const __m256d x3 = dot_lanes<kBlocks>(uw, r + 3 * d);
            const __m256d sums = hsum4(x0, x1, x2, x3);
            _mm256_storeu_pd(out + i, sums);
            const __m256d zero_if_finite = _mm256_sub_pd(sums, sums);  // NaN for inf and NaN
            non_finite = _mm256_or_pd(non_finite, _mm256_cmp_pd(zero_if_finite, zero_if_finite, _CMP_UNORD_Q));
            continue;
        }
        for (std::size_t q = i; q < i + 4; ++q) finite &= fixed_width_row<kBlocks>(uw, e, want, q, out);
    }
    for (; i < n; ++i) finite &= fixed_width_row<kBlocks>(uw, e, want, i, out);
    return finite && _mm256_movemask_pd(non_finite) == 0;
}

RANKER_AVX2 bool score_dots_avx2(const float* u, const float* e, std::size_t n, std::size_t d,
                                 const std::uint8_t* want, double* out) {
    switch (d) {
        case 32: return score_dots_fixed_avx2<1>(u, e, n, want, out);
        case 64: return score_dots_fixed_avx2<2>(u, e, n, want, out);
        case 96: return score_dots_fixed_avx2<3>(u, e, n, want, out);
        case 128: return score_dots_fixed_avx2<4>(u, e, n, want, out);
        default: break;
    }
    // Other widths: the per-row kernels inlined into one loop.
    bool finite = true;
    for (std::size_t i = 0; i < n; ++i, e += d) {
        out[i] = want[i] ? dot4_avx2(u, e, d) : unwanted_row(e, d);
        finite = finite && std::isfinite(out[i]);
    }
    return finite;
}

RANKER_AVX2 double dot_f64_avx2(const double* a, const double* b, std::size_t len) { return dot4_avx2(a, b, len); }

// A double vector against a float row (products of a double and a widened float round like
// any double product).
RANKER_AVX2 double dot_mixed_avx2(const double* q, const float* e, std::size_t len) { return dot4_avx2(q, e, len); }

// dot4_avx2(qa, ea) and dot4_avx2(qb, eb) at once, each bit-identical to it (same chunks, same
// final sums): two independent chains keep the FMA units busy where one product would wait on
// its own latency. The caller shares one operand (the same e), and the compiler loads and
// widens its chunks once. len % 16 == 0.
RANKER_AVX2 inline void dot4_pair_avx2(const double* qa, const float* ea, const double* qb, const float* eb,
                                       std::size_t len, double* out_a, double* out_b) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
    __m256d b0 = _mm256_setzero_pd(), b1 = _mm256_setzero_pd(), b2 = _mm256_setzero_pd(), b3 = _mm256_setzero_pd();
    for (std::size_t j = 0; j < len; j += 16) {
        a0 = _mm256_fmadd_pd(_mm256_loadu_pd(qa + j), widen(ea + j), a0);
        b0 = _mm256_fmadd_pd(_mm256_loadu_pd(qb + j), widen(eb + j), b0);
        a1 = _mm256_fmadd_pd(_mm256_loadu_pd(qa + j + 4), widen(ea + j + 4), a1);
        b1 = _mm256_fmadd_pd(_mm256_loadu_pd(qb + j + 4), widen(eb + j + 4), b1);
        a2 = _mm256_fmadd_pd(_mm256_loadu_pd(qa + j + 8), widen(ea + j + 8), a2);
        b2 = _mm256_fmadd_pd(_mm256_loadu_pd(qb + j + 8), widen(eb + j + 8), b2);
        a3 = _mm256_fmadd_pd(_mm256_loadu_pd(qa + j + 12), widen(ea + j + 12), a3);
        b3 = _mm256_fmadd_pd(_mm256_loadu_pd(qb + j + 12), widen(eb + j + 12), b3);
    }
    *out_a = hsum(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
    *out_b = hsum(_mm256_add_pd(_mm256_add_pd(b0, b1), _mm256_add_pd(b2, b3)));
}

// Two basis rows at a time against one row (the catch-up of a late DPP activation).
RANKER_AVX2 void dot_mixed_basis_avx2(const double* q, std::size_t count, const float* e, std::size_t len,
                                      double* out) {
    std::size_t b = 0;
    if (len % 16 == 0)
        for (; b + 2 <= count; b += 2) dot4_pair_avx2(q + b * len, e, q + (b + 1) * len, e, len, out + b, out + b + 1);
    for (; b < count; ++b) out[b] = dot_mixed_avx2(q + b * len, e, len);
}

// A dot_block row's two float accumulators added, and the sum's halves widened and added.
RANKER_AVX2 inline __m256d widened_pair_sum(__m256 acc0, __m256 acc1) {
    const __m256 a = _mm256_add_ps(acc0, acc1);
    return _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a)), _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)));
}

// One row of dot_block: two float accumulators over 16-element chunks (then one 8-element
// step into the first), the lanes summed in double, the last d % 8 products in double.
RANKER_AVX2 inline double block_row_sum(__m256 acc0, __m256 acc1, const float* u, const float* r, std::size_t j,
                                        std::size_t d) {
    double s = hsum(widened_pair_sum(acc0, acc1));
    for (; j < d; ++j) s += static_cast<double>(u[j]) * static_cast<double>(r[j]);
    return s;
}

RANKER_AVX2 inline double block_row(const float* u, const float* r, std::size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    std::size_t j = 0;
    for (; j + 16 <= d; j += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(u + j), _mm256_loadu_ps(r + j), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(u + j + 8), _mm256_loadu_ps(r + j + 8), acc1);
    }
    if (j + 8 <= d) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(u + j), _mm256_loadu_ps(r + j), acc0);
        j += 8;
    }
    return block_row_sum(acc0, acc1, u, r, j, d);
}

// block_row_sum's vector part for four rows at once, with the same additions in the same
// order, so bit-identical: per row widened_pair_sum, then hsum4 (one row at a time, the
// reductions were about a third of dot_block's instructions).
RANKER_AVX2 inline __m256d block_rows_sum4(__m256 a0, __m256 a1, __m256 b0, __m256 b1, __m256 c0, __m256 c1,
                                           __m256 e0, __m256 e1) {
    return hsum4(widened_pair_sum(a0, a1), widened_pair_sum(b0, b1), widened_pair_sum(c0, c1),
                 widened_pair_sum(e0, e1));
}

// Four rows at a time with block_row's accumulators (the same operations per row, so the
// results are bit-identical to it): each chunk of u is loaded once for four rows, and eight
// independent FMA chains hide the FMA latency that a single row waits on.
RANKER_AVX2 void dot_block_avx2(const float* u, const float* rows, std::size_t count, std::size_t d, double* out) {
    std::size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        const float* r0 = rows + i * d;
        const float* r1 = r0 + d;
        const float* r2 = r1 + d;
        const float* r3 = r2 + d;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
        __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), e0 = _mm256_setzero_ps(), e1 = _mm256_setzero_ps();
        std::size_t j = 0;
        for (; j + 16 <= d; j += 16) {
            const __m256 u0 = _mm256_loadu_ps(u + j), u1 = _mm256_loadu_ps(u + j + 8);
            a0 = _mm256_fmadd_ps(u0, _mm256_loadu_ps(r0 + j), a0);
            b0 = _mm256_fmadd_ps(u0, _mm256_loadu_ps(r1 + j), b0);
            c0 = _mm256_fmadd_ps(u0, _mm256_loadu_ps(r2 + j), c0);
            e0 = _mm256_fmadd_ps(u0, _mm256_loadu_ps(r3 + j), e0);
            a1 = _mm256_fmadd_ps(u1, _mm256_loadu_ps(r0 + j + 8), a1);
            b1 = _mm256_fmadd_ps(u1, _mm256_loadu_ps(r1 + j + 8), b1);
            c1 = _mm256_fmadd_ps(u1, _mm256_loadu_ps(r2 + j + 8), c1);
            e1 = _mm256_fmadd_ps(u1, _mm256_loadu_ps(r3 + j + 8), e1);
        }
        if (j + 8 <= d) {
            const __m256 u0 = _mm256_loadu_ps(u + j);
            a0 = _mm256_fmadd_ps(u0, _mm256_loadu_ps(r0 + j), a0);
            b0 = _mm256_fmadd_ps(u0, _mm256_loadu_ps(r1 + j), b0);
            c0 = _mm256_fmadd_ps(u0, _mm256_loadu_ps(r2 + j), c0);
            e0 = _mm256_fmadd_ps(u0, _mm256_loadu_ps(r3 + j), e0);
            j += 8;
        }
        _mm256_storeu_pd(out + i, block_rows_sum4(a0, a1, b0, b1, c0, c1, e0, e1));
        for (; j < d; ++j) {  // the last d % 8 products, in double, after the vector sum (block_row_sum)
            const double x = static_cast<double>(u[j]);
            out[i] += x * static_cast<double>(r0[j]);
            out[i + 1] += x * static_cast<double>(r1[j]);
            out[i + 2] += x * static_cast<double>(r2[j]);
            out[i + 3] += x * static_cast<double>(r3[j]);
        }
    }
    for (; i < count; ++i) out[i] = block_row(u, rows + i * d, d);
}

// Eight rows at a time, one float accumulator each (eight independent FMA chains, each chunk of
// u loaded once), then one transposing reduction (hadd tree) that yields the eight sums in one
// register instead of eight horizontal sums. d % 8 == 0; other d, and the last count % 8
// rows, take block_row.
RANKER_AVX2 void dot_rows_avx2(const float* u, const float* const* rows, std::size_t count, std::size_t d,
                               double* out) {
    std::size_t i = 0;
    if (d % 8 == 0) {
        for (; i + 8 <= count; i += 8) {
            const float* const* r = rows + i;
            __m256 acc[8];
            for (int k = 0; k < 8; ++k) acc[k] = _mm256_setzero_ps();
            for (std::size_t j = 0; j < d; j += 8) {
                const __m256 x = _mm256_loadu_ps(u + j);
                for (int k = 0; k < 8; ++k) acc[k] = _mm256_fmadd_ps(x, _mm256_loadu_ps(r[k] + j), acc[k]);
            }
            const __m256 h01 = _mm256_hadd_ps(acc[0], acc[1]), h23 = _mm256_hadd_ps(acc[2], acc[3]);
            const __m256 h45 = _mm256_hadd_ps(acc[4], acc[5]), h67 = _mm256_hadd_ps(acc[6], acc[7]);
            const __m256 h0123 = _mm256_hadd_ps(h01, h23), h4567 = _mm256_hadd_ps(h45, h67);
            // h0123 = rows 0-3 over lanes 0-3 | rows 0-3 over lanes 4-7; the same for 4-7.
            const __m256 sums = _mm256_add_ps(_mm256_permute2f128_ps(h0123, h4567, 0x20),
                                              _mm256_permute2f128_ps(h0123, h4567, 0x31));
            _mm256_storeu_pd(out + i, _mm256_cvtps_pd(_mm256_castps256_ps128(sums)));
            _mm256_storeu_pd(out + i + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(sums, 1)));
        }
    }
    for (; i < count; ++i) out[i] = block_row(u, rows[i], d);
}

// Groups of up to 8 column vectors (64 columns), the j range split over kChains accumulators
// per vector so that eight or more independent FMA chains hide the FMA latency (a single
// vector's one chain would wait on it at every step). Float sums; e[j] is broadcast once per
// group, and each step loads that broadcast plus one vector per FMA, so wider groups load less
// per FMA: most DPP activations meet 33 to 48 basis rows, which took a group of 4 vectors and
// one of 1 or 2 (e[j] broadcast twice, 3.5 to 4 loads per column vector-pair) until groups
// grew to 8.
template <std::size_t kVectors, std::size_t kChains>
RANKER_AVX2 inline void column_sums(const float* e, const float* cols, std::size_t stride, std::size_t d,
                                    __m256* sums) {
    __m256 acc[kChains][kVectors];
    for (std::size_t c = 0; c < kChains; ++c)
        for (std::size_t v = 0; v < kVectors; ++v) acc[c][v] = _mm256_setzero_ps();
    std::size_t j = 0;
    for (; j + kChains <= d; j += kChains) {
        for (std::size_t c = 0; c < kChains; ++c) {
            const __m256 x = _mm256_set1_ps(e[j + c]);
            const float* col = cols + (j + c) * stride;
            for (std::size_t v = 0; v < kVectors; ++v) acc[c][v] = _mm256_fmadd_ps(x, _mm256_loadu_ps(col + 8 * v), acc[c][v]);
        }
    }
    for (std::size_t c = 0; j < d; ++j, ++c) {
        const __m256 x = _mm256_set1_ps(e[j]);
        for (std::size_t v = 0; v < kVectors; ++v)
            acc[c][v] = _mm256_fmadd_ps(x, _mm256_loadu_ps(cols + j * stride + 8 * v), acc[c][v]);
    }
    for (std::size_t v = 0; v < kVectors; ++v) {
        __m256 s = acc[0][v];
        for (std::size_t c = 1; c < kChains; ++c) s = _mm256_add_ps(s, acc[c][v]);
        sums[v] = s;
    }
}

RANKER_AVX2 void projection_moments_avx2(const float* e, const float* cols, std::size_t stride, std::size_t count,
                                         std::size_t d, double scale, double* sum_sq, double* sum_abs) {
    const __m256d vscale = _mm256_set1_pd(scale);
    const __m256d sign = _mm256_set1_pd(-0.0);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256d sq = _mm256_setzero_pd(), ab = _mm256_setzero_pd();
    __m256 sums[8];
    for (std::size_t b = 0; b < count; b += 64) {
        const std::size_t vectors = std::min<std::size_t>(8, (count - b + 7) / 8);
        switch (vectors) {
            case 8: column_sums<8, 1>(e, cols + b, stride, d, sums); break;
            case 7: column_sums<7, 1>(e, cols + b, stride, d, sums); break;
            case 6: column_sums<6, 2>(e, cols + b, stride, d, sums); break;
            case 5: column_sums<5, 2>(e, cols + b, stride, d, sums); break;
            case 4: column_sums<4, 2>(e, cols + b, stride, d, sums); break;
            case 3: column_sums<3, 3>(e, cols + b, stride, d, sums); break;
            case 2: column_sums<2, 4>(e, cols + b, stride, d, sums); break;
            default: column_sums<1, 8>(e, cols + b, stride, d, sums); break;
        }
        // Only the last vector can reach past count, and its lanes there may hold anything
        // (NaN included): zeroed once, in float, rather than masking every half-vector after
        // the conversion (a tenth of the call at 33 to 48 columns).
        const int columns_in_last = static_cast<int>(count - b - 8 * (vectors - 1));  // 1 to 8
        const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(columns_in_last), lane));
        sums[vectors - 1] = _mm256_and_ps(sums[vectors - 1], valid);
        for (std::size_t v = 0; v < vectors; ++v) {
            const __m256d lo = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(sums[v])), vscale);
            const __m256d hi = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(sums[v], 1)), vscale);
            sq = _mm256_add_pd(sq, _mm256_add_pd(_mm256_mul_pd(lo, lo), _mm256_mul_pd(hi, hi)));
            ab = _mm256_add_pd(ab, _mm256_add_pd(_mm256_andnot_pd(sign, lo), _mm256_andnot_pd(sign, hi)));
        }
    }
    *sum_sq = hsum(sq);
    *sum_abs = hsum(ab);
}

// dot4_avx2(e, e, d) and block_row(e, u, d) in one loop over e, each chunk of e loaded once for
// both (the same accumulators and final sums, so both are bit-identical to them); d % 16 == 0.
RANKER_AVX2 inline void norm2_and_block_row(const float* e, const float* u, std::size_t d, double* norm2,
                                            double* dot) {
    __m256d n0 = _mm256_setzero_pd(), n1 = _mm256_setzero_pd(), n2 = _mm256_setzero_pd(), n3 = _mm256_setzero_pd();
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (std::size_t j = 0; j < d; j += 16) {
        const __m256 x0 = _mm256_loadu_ps(e + j), x1 = _mm256_loadu_ps(e + j + 8);
        a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(u + j), a0);
        a1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(u + j + 8), a1);
        const __m256d w0 = _mm256_cvtps_pd(_mm256_castps256_ps128(x0));
        const __m256d w1 = _mm256_cvtps_pd(_mm256_extractf128_ps(x0, 1));
        const __m256d w2 = _mm256_cvtps_pd(_mm256_castps256_ps128(x1));
        const __m256d w3 = _mm256_cvtps_pd(_mm256_extractf128_ps(x1, 1));
        n0 = _mm256_fmadd_pd(w0, w0, n0);
        n1 = _mm256_fmadd_pd(w1, w1, n1);
        n2 = _mm256_fmadd_pd(w2, w2, n2);
        n3 = _mm256_fmadd_pd(w3, w3, n3);
    }
    *norm2 = hsum(_mm256_add_pd(_mm256_add_pd(n0, n1), _mm256_add_pd(n2, n3)));
    *dot = block_row_sum(a0, a1, e, u, d, d);
}

RANKER_AVX2 void norm2_dot_rows_avx2(const float* const* rows, std::size_t count, const float* u, std::size_t d,
                                     double* norm2_out, double* dot_out) {
    if (d % 16 == 0) {
        // The rows of a released bucket lie scattered over the embedding (its items, ascending),
        // in L2 or L3 by then, and each row's loads waited on the cache with only a few rows in
        // flight: requesting rows six ahead took about 8,000 cycles off the selection of a
        // feed-5k-mmr request in cache (of about 120,000; time-stamp counter, alternated builds).
        for (std::size_t i = 0; i < count; ++i) {
            if (i + 6 < count) request_lines(rows[i + 6], d * sizeof(float));
            norm2_and_block_row(rows[i], u, d, norm2_out + i, dot_out + i);
        }
        return;
    }
    for (std::size_t i = 0; i < count; ++i) {
        norm2_out[i] = norm2_avx2(rows[i], d);
        dot_out[i] = block_row(rows[i], u, d);
    }
}

// Classical rather than modified Gram-Schmidt: every coefficient comes from the same vector,
// so the b dot products are independent (four rows share each load of out, two accumulators
// each) instead of each waiting for the subtraction before it, and the subtraction runs over
// 32 columns at a time with p innermost, eight independent FMA chains.
RANKER_AVX2 void project_out_avx2(const double* q, std::size_t b, std::size_t d, double* out, double* coefficients) {
    std::size_t p = 0;
    for (; p + 4 <= b; p += 4) {
        const double* q0 = q + p * d;
        const double* q1 = q0 + d;
        const double* q2 = q1 + d;
        const double* q3 = q2 + d;
        __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), b0 = _mm256_setzero_pd(), b1 = _mm256_setzero_pd();
        __m256d c0 = _mm256_setzero_pd(), c1 = _mm256_setzero_pd(), e0 = _mm256_setzero_pd(), e1 = _mm256_setzero_pd();
        std::size_t j = 0;
        for (; j + 8 <= d; j += 8) {
            const __m256d x0 = _mm256_loadu_pd(out + j), x1 = _mm256_loadu_pd(out + j + 4);
            a0 = _mm256_fmadd_pd(_mm256_loadu_pd(q0 + j), x0, a0);
            b0 = _mm256_fmadd_pd(_mm256_loadu_pd(q1 + j), x0, b0);
            c0 = _mm256_fmadd_pd(_mm256_loadu_pd(q2 + j), x0, c0);
            e0 = _mm256_fmadd_pd(_mm256_loadu_pd(q3 + j), x0, e0);
            a1 = _mm256_fmadd_pd(_mm256_loadu_pd(q0 + j + 4), x1, a1);
            b1 = _mm256_fmadd_pd(_mm256_loadu_pd(q1 + j + 4), x1, b1);
            c1 = _mm256_fmadd_pd(_mm256_loadu_pd(q2 + j + 4), x1, c1);
            e1 = _mm256_fmadd_pd(_mm256_loadu_pd(q3 + j + 4), x1, e1);
        }
        double s0 = hsum(_mm256_add_pd(a0, a1)), s1 = hsum(_mm256_add_pd(b0, b1));
        double s2 = hsum(_mm256_add_pd(c0, c1)), s3 = hsum(_mm256_add_pd(e0, e1));
        for (; j < d; ++j) {
            s0 += q0[j] * out[j];
            s1 += q1[j] * out[j];
            s2 += q2[j] * out[j];
            s3 += q3[j] * out[j];
        }
        coefficients[p] = s0;
        coefficients[p + 1] = s1;
        coefficients[p + 2] = s2;
        coefficients[p + 3] = s3;
    }
    for (; p < b; ++p) coefficients[p] = dot4_avx2(q + p * d, out, d);
    std::size_t j = 0;
    for (; j + 32 <= d; j += 32) {
        __m256d x[8];
        for (int v = 0; v < 8; ++v) x[v] = _mm256_loadu_pd(out + j + 4 * v);
        for (std::size_t r = 0; r < b; ++r) {
            const __m256d c = _mm256_set1_pd(coefficients[r]);
            const double* row = q + r * d + j;
            for (int v = 0; v < 8; ++v) x[v] = _mm256_fnmadd_pd(c, _mm256_loadu_pd(row + 4 * v), x[v]);
        }
        for (int v = 0; v < 8; ++v) _mm256_storeu_pd(out + j + 4 * v, x[v]);
    }
    for (; j + 4 <= d; j += 4) {
        __m256d x = _mm256_loadu_pd(out + j);
        for (std::size_t r = 0; r < b; ++r) x = _mm256_fnmadd_pd(_mm256_set1_pd(coefficients[r]), _mm256_loadu_pd(q + r * d + j), x);
        _mm256_storeu_pd(out + j, x);
    }
    for (; j < d; ++j)
        for (std::size_t r = 0; r < b; ++r) out[j] -= coefficients[r] * q[r * d + j];
}

RANKER_AVX2 void widen_scaled_avx2(const float* e, double scale, double* out, std::size_t d) {
    const __m256d vs = _mm256_set1_pd(scale);
    std::size_t j = 0;
    for (; j + 4 <= d; j += 4) _mm256_storeu_pd(out + j, _mm256_mul_pd(widen(e + j), vs));
    for (; j < d; ++j) out[j] = static_cast<double>(e[j]) * scale;
}

const KernelTable kAvx2{dot_avx2,           norm2_avx2,
                        all_finite_avx2,    valid_prices_avx2, score_dots_avx2, dot_f64_avx2,
                        dot_mixed_avx2,     dot_mixed_basis_avx2,
                        dot_block_avx2,     dot_rows_avx2,      projection_moments_avx2, norm2_dot_rows_avx2,
                        widen_scaled_avx2,
                        project_out_avx2,
                        "avx2"};

bool cpu_has_avx2_fma() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

const KernelTable& choose_kernels() {
    const char* forced = std::getenv("RANKER_SIMD");
    if (forced != nullptr && std::strcmp(forced, "scalar") == 0) return kScalar;
    const KernelTable* fast = avx2_kernels();
    return fast != nullptr ? *fast : kScalar;
}

}  // namespace

const KernelTable& scalar_kernels() { return kScalar; }

const KernelTable* avx2_kernels() {
#ifdef RANKER_HAVE_AVX2_VARIANT
    static const bool supported = cpu_has_avx2_fma();
    return supported ? &kAvx2 : nullptr;
#else
    return nullptr;
#endif
}

const KernelTable& active_kernels() {
    // Function-local static: initialised once, thread-safely (C++11 magic statics); read-only after.
    static const KernelTable& chosen = choose_kernels();
    return chosen;
}

}  // namespace ranker
