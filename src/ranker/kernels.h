// Dot-product and norm kernels over float32 rows, accumulated in double (every float*float
// product is exact in double, so only the summation order differs between variants).
// A scalar variant (the test oracle) and an AVX2+FMA variant; the choice is made once, at
// first use, from the CPU's features (RANKER_SIMD=scalar forces the scalar one).
#pragma once

#include <cstddef>

namespace ranker {

struct KernelTable {
    // sum_j a[j] * b[j] for a, b of length d.
    double (*dot)(const float* a, const float* b, std::size_t d);
    // sum_j e[j]^2 for e of length d: finite iff every entry is finite.
    double (*norm2)(const float* e, std::size_t d);
    // *dot = sum_j u[j] * e[j] (u already widened to double), *norm2 = sum_j e[j]^2.
    void (*dot_norm2)(const double* u, const float* e, std::size_t d, double* dot, double* norm2);
    // sum_j u[j] * e[j] (u widened to double): finite iff every e[j] is finite (u is finite).
    double (*dot_wide)(const double* u, const float* e, std::size_t d);
    // Scoring dot product: float lanes (a handful of terms each) summed in double at the end.
    // About 3x cheaper than dot_wide and within ~1e-7 relative of it; non-finite when any
    // entry is non-finite (u finite), and may also overflow float for huge finite entries, so
    // callers confirm a non-finite result with dot_wide.
    double (*dot_fast)(const float* u, const float* e, std::size_t d);
    // True when every e[j] is finite (exponent bits not all ones).
    bool (*all_finite)(const float* e, std::size_t d);
    const char* name;
};

const KernelTable& scalar_kernels();
// nullptr when this build or this CPU has no AVX2+FMA.
const KernelTable* avx2_kernels();
// The table run-time dispatch chose (initialised once, thread-safely).
const KernelTable& active_kernels();

// Dot product of two double vectors (DPP Cholesky rows). Four independent partial sums (a
// single running sum waits on the add latency for every element); a fixed order and no FMA, so
// every caller (lazy or eager DPP) gets bit-identical results on every machine.
inline double dot_f64(const double* a, const double* b, std::size_t len) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    std::size_t j = 0;
    for (; j + 4 <= len; j += 4) {
        s0 += a[j] * b[j];
        s1 += a[j + 1] * b[j + 1];
        s2 += a[j + 2] * b[j + 2];
        s3 += a[j + 3] * b[j + 3];
    }
    for (; j < len; ++j) s0 += a[j] * b[j];
    return (s0 + s1) + (s2 + s3);
}

}  // namespace ranker
