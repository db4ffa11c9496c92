// Dot-product and norm kernels over float32 rows, accumulated in double (every float*float
// product is exact in double, so only the summation order differs between variants), and the
// per-request column checks that the baseline x86-64 build cannot vectorise.
// A scalar variant (the test oracle) and an AVX2+FMA variant; the choice is made once, at
// first use, from the CPU's features (RANKER_SIMD=scalar forces the scalar one).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ranker {

struct KernelTable {
    // sum_j a[j] * b[j] for a, b of length d.
    double (*dot)(const float* a, const float* b, std::size_t d);
    // sum_j e[j]^2 for e of length d: finite iff every entry is finite.
    double (*norm2)(const float* e, std::size_t d);
    // True when every e[j] is finite (exponent bits not all ones).
    bool (*all_finite)(const float* e, std::size_t d);
    // True when every x[i] is a price or no price: NaN, or in [0, max finite double] (-0.0
    // included). The validation of the price columns, run on every request.
    bool (*valid_prices)(const double* x, std::size_t n);
    // The scoring pass over n rows of e (row-major, d columns), in one call: out[i] =
    // dot(u, row i), bit for bit, where want[i] != 0, else 0.0 when row i is all finite and NaN
    // when it is not. Exact products summed in double, like the reference: unlike a cosine, a
    // score is not bounded, and float lanes (within ~1e-7 of sum_j |u_j e_ij|) missed scores
    // whose terms cancel by far more than compare()'s tolerance (5e-4 on a score of -38 with
    // large-norm rows). Returns whether every out[i] is finite: false exactly when some entry
    // is not (u is finite; finite products and their double sums cannot overflow).
    bool (*score_dots)(const float* u, const float* e, std::size_t n, std::size_t d, const std::uint8_t* want,
                       double* out);
    // sum_j a[j] * b[j] over doubles (unit rows, the DPP basis). Fixed summation order per
    // variant, so every caller in one process gets bit-identical results for the same inputs.
    double (*dot_f64)(const double* a, const double* b, std::size_t len);
    // sum_j q[j] * double(e[j]): a double vector (a DPP basis row) against a float row.
    double (*dot_mixed)(const double* q, const float* e, std::size_t len);
    // out[b] = dot_mixed(q + b * len, e, len) for b < count, bit for bit: one float row caught
    // up on a block of DPP basis rows (contiguous), each chunk of e widened once for two rows.
    void (*dot_mixed_basis)(const double* q, std::size_t count, const float* e, std::size_t len, double* out);
    // out[i] = sum_j u[j] * rows[i * d + j] for i < count (rows contiguous): one row against a
    // block of rows, for MMR's cosines against the placed items. The AVX2 variant sums in
    // float lanes (a handful of terms each, within ~1e-7 of sum_j |u[j] rows[i * d + j]|),
    // several rows in flight; each out[i] is bit for bit what the same call with count = 1
    // gives for that row.
    // Float products: callers keep u and the rows in a range where they neither overflow nor
    // underflow (unit rows, see diversity.h).
    void (*dot_block)(const float* u, const float* rows, std::size_t count, std::size_t d, double* out);
    // out[i] ~ sum_j u[j] * rows[i][j] for i < count: rows given by pointer (the DPP screening
    // pass over the live items). Summed in float, at most d / 8 + 4 roundings per term for the
    // AVX2 variant (double for the scalar one); the float-product caveat of dot_block holds.
    void (*dot_rows)(const float* u, const float* const* rows, std::size_t count, std::size_t d, double* out);
    // With a_b = scale * sum_j e[j] * cols[j * stride + b] for b < count (a row against `count`
    // vectors stored by column), sum_sq = sum_b a_b^2 and sum_abs = sum_b |a_b|: the DPP
    // screening of a newly activated item against the float basis, with no horizontal sum per
    // product. Each dot product is a float sum of d products in some order (at most d roundings
    // per term); stride is a multiple of 8 and every column below it is readable (the AVX2
    // variant reads whole groups of 8 and ignores the lanes past count). The float-product
    // caveat of dot_block holds.
    void (*projection_moments)(const float* e, const float* cols, std::size_t stride, std::size_t count, std::size_t d,
                               double scale, double* sum_sq, double* sum_abs);
    // For i < count: norm2_out[i] = norm2(rows[i], d) and dot_out[i] = dot_block(rows[i], u, 1, d),
    // bit for bit: MMR's first comparison of every pool item (with the first member of P, u),
    // one pass over the rows.
    void (*norm2_dot_rows)(const float* const* rows, std::size_t count, const float* u, std::size_t d,
                           double* norm2_out, double* dot_out);
    // out[j] = double(e[j]) * scale (unit rows for cosines).
    void (*widen_scaled)(const float* e, double scale, double* out, std::size_t d);
    // One classical Gram-Schmidt pass against the b rows of q (each of length d, row-major):
    // coefficients[p] = <q_p, out> for every p, all from the same out, then
    // out -= sum_p coefficients[p] q_p. The DPP basis takes two passes.
    void (*project_out)(const double* q, std::size_t b, std::size_t d, double* out, double* coefficients);
    const char* name;
};

const KernelTable& scalar_kernels();
// nullptr when this build or this CPU has no AVX2+FMA.
const KernelTable* avx2_kernels();
// The table run-time dispatch chose (initialised once, thread-safely).
const KernelTable& active_kernels();

}  // namespace ranker
