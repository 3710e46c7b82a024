// Peak single-precision FMA throughput of one core: 12 independent chains
// of 8-wide (AVX2) or 16-wide (AVX-512) fused multiply-adds, enough to hide
// the FMA latency on current x86 cores. Run one copy per core at once to see
// what the cores give together (a shared VM may give less).
//   gcc -O2 -mavx2 -mfma fma_peak.c -o fma_peak && ./fma_peak
//   gcc -O2 -mavx512f fma_peak.c -o fma_peak512 && ./fma_peak512
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#ifdef __AVX512F__
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#else
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#endif

int main(void) {
    const long iters = 200000000;
    // Twelve named accumulators (not an array) so they stay in registers.
    vec c0 = SET1(0.0f), c1 = SET1(0.001f), c2 = SET1(0.002f), c3 = SET1(0.003f);
    vec c4 = SET1(0.004f), c5 = SET1(0.005f), c6 = SET1(0.006f), c7 = SET1(0.007f);
    vec c8 = SET1(0.008f), c9 = SET1(0.009f), c10 = SET1(0.010f), c11 = SET1(0.011f);
    vec a = SET1(0.999999f), b = SET1(1e-7f);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long n = 0; n < iters; n++) {
        c0 = FMA(c0, a, b); c1 = FMA(c1, a, b); c2 = FMA(c2, a, b); c3 = FMA(c3, a, b);
        c4 = FMA(c4, a, b); c5 = FMA(c5, a, b); c6 = FMA(c6, a, b); c7 = FMA(c7, a, b);
        c8 = FMA(c8, a, b); c9 = FMA(c9, a, b); c10 = FMA(c10, a, b); c11 = FMA(c11, a, b);
        __asm__ volatile("" ::: "memory");
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    double flops = 2.0 * LANES * 12.0 * iters;
    vec sum = ADD(ADD(ADD(c0, c1), ADD(c2, c3)), ADD(ADD(c4, c5), ADD(c6, c7)));
    sum = ADD(sum, ADD(ADD(c8, c9), ADD(c10, c11)));
    float out[LANES];
    STORE(out, sum);
    // The checksum keeps the loop from being optimized away.
    printf("%.1f GFLOP/s per core, %d-wide (checksum %f)\n", flops / s * 1e-9, LANES, out[0]);
    return 0;
}
