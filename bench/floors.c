// What any implementation must spend on a feed request on this machine, whatever its code:
//
//   read      the first read of a request's embedding rows (n x 64 float32), when the
//             benchmark cycles through 64 distinct requests as `ranker bench` does, so that
//             they come from memory rather than cache; and the same rows read again at once
//             (in cache), for comparison.
//   products  d = 64 float dot products at this CPU's peak rate: a register-blocked
//             matrix product (4 items x 16 basis columns per block, every FMA eight useful
//             multiply-adds, no horizontal sums), the fastest layout greedy DPP's products
//             could have if they were all known at once (they are not: each basis row
//             depends on the slot before); and the same with 512-bit vectors where the CPU
//             has AVX-512, which the native kernels do not use.
//
// Build and run (x86-64 with AVX2 and FMA; bench/NOTES.md has the figures of the development
// machine and what they imply for the latency targets):
//
//   cc -O3 -mavx2 -mfma bench/floors.c -o /tmp/floors && /tmp/floors
//
// Plain C with no dependency on the package, so that it runs on a machine before anything is
// installed there.
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { kDim = 64, kRequests = 64, kRepeats = 7 };

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int compare_doubles(const void* a, const void* b) {
    const double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static double median(double* values, int count) {
    qsort(values, (size_t)count, sizeof(double), compare_doubles);
    return values[count / 2];
}

static float* allocate_floats(size_t count) {
    float* p = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
    if (p == NULL) {
        fprintf(stderr, "floors: cannot allocate %zu floats\n", count);
        exit(1);
    }
    for (size_t i = 0; i < count; ++i) p[i] = (float)(i % 97) * 1e-3f;
    return p;
}

// Sum of n rows of 64 floats, two accumulators so the adds do not wait on each other.
static float sum_rows(const float* rows, size_t n) {
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
    for (size_t i = 0; i < n * kDim; i += 16) {
        a = _mm256_add_ps(a, _mm256_load_ps(rows + i));
        b = _mm256_add_ps(b, _mm256_load_ps(rows + i + 8));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(a, b));
    return lanes[0];
}

// Microseconds per request to read n embedding rows: cycling 64 requests (from memory) and
// the same request again (from cache). Returns a sink value so the sums are not optimised out.
static float measure_read(size_t n, double* cold_us, double* warm_us) {
    float* requests[kRequests];
    for (int r = 0; r < kRequests; ++r) requests[r] = allocate_floats(n * kDim);
    const int calls = 640;
    double cold[kRepeats], warm[kRepeats];
    float sink = 0.0f;
    for (int rep = 0; rep < kRepeats; ++rep) {
        double t0 = now_seconds();
        for (int c = 0; c < calls; ++c) sink += sum_rows(requests[c % kRequests], n);
        cold[rep] = (now_seconds() - t0) / calls * 1e6;
        t0 = now_seconds();
        for (int c = 0; c < calls; ++c) sink += sum_rows(requests[0], n);
        warm[rep] = (now_seconds() - t0) / calls * 1e6;
    }
    *cold_us = median(cold, kRepeats);
    *warm_us = median(warm, kRepeats);
    for (int r = 0; r < kRequests; ++r) free(requests[r]);
    return sink;
}

// One pass of out = items x basis: items_n rows of kDim floats against `columns` basis
// vectors stored k-major (basis_t[k * columns + col]); items_n a multiple of 8, columns of 16.
typedef void (*ProductPass)(const float* items, const float* basis_t, float* out, size_t items_n, size_t columns);

// AVX2: blocks of 4 items x 16 columns, every FMA eight useful multiply-adds.
static void products_avx2(const float* items, const float* basis_t, float* out, size_t items_n, size_t columns) {
    for (size_t i = 0; i < items_n; i += 4)
        for (size_t col = 0; col < columns; col += 16) {
            __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
            __m256 c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            const float* x = items + i * kDim;
            for (size_t k = 0; k < kDim; ++k) {
                const __m256 b0 = _mm256_load_ps(basis_t + k * columns + col);
                const __m256 b1 = _mm256_load_ps(basis_t + k * columns + col + 8);
                __m256 a = _mm256_broadcast_ss(x + k);
                c00 = _mm256_fmadd_ps(a, b0, c00);
                c01 = _mm256_fmadd_ps(a, b1, c01);
                a = _mm256_broadcast_ss(x + kDim + k);
                c10 = _mm256_fmadd_ps(a, b0, c10);
                c11 = _mm256_fmadd_ps(a, b1, c11);
                a = _mm256_broadcast_ss(x + 2 * kDim + k);
                c20 = _mm256_fmadd_ps(a, b0, c20);
                c21 = _mm256_fmadd_ps(a, b1, c21);
                a = _mm256_broadcast_ss(x + 3 * kDim + k);
                c30 = _mm256_fmadd_ps(a, b0, c30);
                c31 = _mm256_fmadd_ps(a, b1, c31);
            }
            float* o = out + i * columns + col;
            _mm256_storeu_ps(o, c00);
            _mm256_storeu_ps(o + 8, c01);
            _mm256_storeu_ps(o + columns, c10);
            _mm256_storeu_ps(o + columns + 8, c11);
            _mm256_storeu_ps(o + 2 * columns, c20);
            _mm256_storeu_ps(o + 2 * columns + 8, c21);
            _mm256_storeu_ps(o + 3 * columns, c30);
            _mm256_storeu_ps(o + 3 * columns + 8, c31);
        }
}

// AVX-512, where the CPU has it: blocks of 8 items x 16 columns, sixteen multiply-adds per
// FMA. The native kernels are AVX2 only; this says what a 512-bit variant could reach.
__attribute__((target("avx512f"))) static void products_avx512(const float* items, const float* basis_t, float* out,
                                                               size_t items_n, size_t columns) {
    for (size_t i = 0; i < items_n; i += 8)
        for (size_t col = 0; col < columns; col += 16) {
            __m512 c[8];
            for (int q = 0; q < 8; ++q) c[q] = _mm512_setzero_ps();
            const float* x = items + i * kDim;
            for (size_t k = 0; k < kDim; ++k) {
                const __m512 b = _mm512_load_ps(basis_t + k * columns + col);
                for (int q = 0; q < 8; ++q) c[q] = _mm512_fmadd_ps(_mm512_set1_ps(x[q * kDim + k]), b, c[q]);
            }
            for (int q = 0; q < 8; ++q) _mm512_storeu_ps(out + (i + q) * columns + col, c[q]);
        }
}

// Nanoseconds per d = 64 float product of `pass`, over items_n items x `columns` basis rows.
static float measure_products(ProductPass pass, size_t items_n, size_t columns, double* ns_per_product) {
    float* items = allocate_floats(items_n * kDim);
    float* basis_t = allocate_floats(kDim * columns);
    float* out = allocate_floats(items_n * columns);
    const int passes = 50;
    double times[kRepeats];
    for (int rep = 0; rep < kRepeats; ++rep) {
        const double t0 = now_seconds();
        for (int p = 0; p < passes; ++p) pass(items, basis_t, out, items_n, columns);
        times[rep] = (now_seconds() - t0) / passes * 1e9 / (double)(items_n * columns);
    }
    *ns_per_product = median(times, kRepeats);
    const float sink = out[items_n / 2];
    free(items);
    free(basis_t);
    free(out);
    return sink;
}

static void print_products(const char* label, double ns) {
    // Products per feed-1k-dpp request (bench/NOTES.md): lazy evaluation's best case with the
    // winners known in advance, eager greedy DPP, and what the native code computes.
    const double products[] = {33700, 39700, 43000};
    printf("d = 64 float products at peak rate, %s (register-blocked, median of %d): %.2f ns each\n", label, kRepeats,
           ns);
    for (int p = 0; p < 3; ++p) printf("  %6.0f products: %6.1f us\n", products[p], products[p] * ns / 1e3);
}

int main(void) {
    float sink = 0.0f;
    printf("first read of a request's embedding rows (median of %d runs of 640 requests)\n", kRepeats);
    const size_t sizes[] = {1000, 5000};
    for (int s = 0; s < 2; ++s) {
        double cold, warm;
        sink += measure_read(sizes[s], &cold, &warm);
        const double mb = (double)sizes[s] * kDim * 4 / 1e6;
        printf("  n = %5zu (%.2f MB): %7.1f us from memory (%.1f GB/s), %6.1f us in cache\n", sizes[s], mb, cold,
               mb / cold * 1e3, warm);
    }
    double ns;
    // 1,000 items x 48 basis rows, a feed-1k-dpp page's size.
    sink += measure_products(products_avx2, 1000, 48, &ns);
    print_products("AVX2", ns);
    if (__builtin_cpu_supports("avx512f")) {
        sink += measure_products(products_avx512, 1000, 48, &ns);
        print_products("AVX-512", ns);
    } else {
        printf("(no AVX-512 on this CPU)\n");
    }
    return sink == 12345.0f;  // never: keeps the sums alive
}
