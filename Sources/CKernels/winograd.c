// Winograd convolution for a 3x3 kernel, stride 1, padding 1: F(2x2, 3x3)
// or F(4x4, 3x3). Each 2x2 (4x4) block of outputs ("tile") costs 16 (36)
// multiplies per channel pair instead of 36 (144); the transforms are adds
// and multiplies by small constants. The multiply stage is 16 (36) small
// matrix products, one per position of the transformed tile.
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#endif

#include "strata_kernels.h"

// The 16 positions of V, M and D lie this many floats apart: one cache
// line more than their rows need, so that the 16 streams a transform reads
// or writes (positions of one tile) do not fall into the same L1 set, as
// they would at a multiple of 4 KB.
#define WG_STRIDE(n) ((n) + 16)

typedef float wg_f8 __attribute__((ext_vector_type(8)));
typedef float wg_f4 __attribute__((ext_vector_type(4)));
typedef float wg_f2 __attribute__((ext_vector_type(2)));

// Samples whose planes the F(4x4) transforms take side by side (see
// winograd_f4.h): 4 for planes 8 wide (4 tiles a plane), else 1.
static inline int64_t wg_group(int tile, int64_t W) { return tile == 4 && W == 8 ? 4 : 1; }

#define WG_VW 4
#define WG_NV 2
#define WG(name) wg_##name##_base
#include "winograd_impl.h"
#undef WG
#undef WG_NV
#undef WG_VW

#if defined(__x86_64__) && defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define WG_VW 8
#define WG_NV 2
#define WG(name) wg_##name##_avx2
#include "winograd_impl.h"
#undef WG
#undef WG_NV
#undef WG_VW
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#define WG_VW 16
#define WG_NV 4
#define WG(name) wg_##name##_avx512
#include "winograd_impl.h"
#undef WG
#undef WG_NV
#undef WG_VW
#pragma clang attribute pop
#endif

// The kernel transform u = G g G^T and its adjoint dg = G^T dU G are
// separable: one 1-D map applied to the columns, then to the rows. G is
// (tile+2) x 3; the maps below are G h (3 -> n) and G^T e (n -> 3).

// F(2x2): G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
static void g4(const float *h, float *e) {
    e[0] = h[0];
    e[1] = 0.5f * (h[0] + h[1] + h[2]);
    e[2] = 0.5f * (h[0] - h[1] + h[2]);
    e[3] = h[2];
}

static void gt4(const float *e, float *h) {
    h[0] = e[0] + 0.5f * (e[1] + e[2]);
    h[1] = 0.5f * (e[1] - e[2]);
    h[2] = 0.5f * (e[1] + e[2]) + e[3];
}

// F(4x4): G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6;
// 1/24 -1/12 1/6; 0 0 1]. Rounded reciprocals multiplied instead of
// dividing: the kernel transform runs twice a step for every kernel
// (forward and input gradient).
static const float wg_6th = 1.0f / 6.0f, wg_12th = 1.0f / 12.0f, wg_24th = 1.0f / 24.0f;

static void g6(const float *h, float *e) {
    const float even = wg_6th * (h[0] + h[2]), odd = wg_6th * h[1];
    const float even2 = wg_24th * h[0] + wg_6th * h[2], odd2 = wg_12th * h[1];
    e[0] = 0.25f * h[0];
    e[1] = -even - odd;
    e[2] = -even + odd;
    e[3] = even2 + odd2;
    e[4] = even2 - odd2;
    e[5] = h[2];
}

static void gt6(const float *e, float *h) {
    const float s12 = e[1] + e[2], s34 = e[3] + e[4];
    h[0] = 0.25f * e[0] - wg_6th * s12 + wg_24th * s34;
    h[1] = wg_6th * (e[2] - e[1]) + wg_12th * (e[3] - e[4]);
    h[2] = wg_6th * (s34 - s12) + e[5];
}

// u[(i*n + j) * ps] = (G g G^T)[i][j], n = tile + 2.
static inline void kernel_transform(const float g[3][3], float *u, int64_t ps, int n,
                                    void (*gcol)(const float *, float *)) {
    float t[3][6];  // t[j] = G (column j of g)
    for (int j = 0; j < 3; j++) gcol((const float[3]){g[0][j], g[1][j], g[2][j]}, t[j]);
    for (int i = 0; i < n; i++) {
        float row[6];
        gcol((const float[3]){t[0][i], t[1][i], t[2][i]}, row);
        for (int j = 0; j < n; j++) u[(i * n + j) * ps] = row[j];
    }
}

// Rows [rowStart, rowEnd) of U for one tile size (n, gcol constants after
// inlining, so the 1-D maps inline too).
static inline void weights_rows(const float *w, int64_t O, int64_t C, int inputGradient, float *U, int64_t mPad,
                                int64_t rowStart, int64_t rowEnd, int n, void (*gcol)(const float *, float *)) {
    const int64_t rows = inputGradient ? C : O, K = inputGradient ? O : C;
    for (int64_t m = rows > rowStart ? rows : rowStart; m < rowEnd; m++)
        for (int p = 0; p < n * n; p++) memset(U + (p * mPad + m) * K, 0, (size_t)K * sizeof(float));
    // Blocks of 16 kernels of one row into a local [n*n][16] block, then
    // out by rows of 16 floats. Written straight to U, each kernel's n*n
    // values landed on n*n different cache lines: 64x64 kernels of F(4x4)
    // took 519-573 us against 112-135 (one thread, the package's -O2, the
    // fastest of 200 calls in each of three runs).
    for (int64_t m = rowStart; m < (rowEnd < rows ? rowEnd : rows); m++) {
        for (int64_t k0 = 0; k0 < K; k0 += 16) {
            const int64_t kb = K - k0 < 16 ? K - k0 : 16;
            float block[36][16];
            for (int64_t kk = 0; kk < kb; kk++) {
                // Forward: g = w[m][k]. Input gradient: g = w[k][m] turned by 180 degrees.
                const int64_t k = k0 + kk;
                const float *src = inputGradient ? w + (k * C + m) * 9 : w + (m * C + k) * 9;
                float g[3][3];
                for (int i = 0; i < 9; i++) g[i / 3][i % 3] = inputGradient ? src[8 - i] : src[i];
                kernel_transform(g, &block[0][kk], 16, n, gcol);
            }
            for (int p = 0; p < n * n; p++) memcpy(U + p * mPad * K + m * K + k0, block[p], (size_t)kb * sizeof(float));
        }
    }
}

void strata_winograd_weights(int tile, const float *w, int64_t O, int64_t C, int inputGradient, float *U,
                             int64_t mPad, int64_t rowStart, int64_t rowEnd) {
    if (tile == 4) weights_rows(w, O, C, inputGradient, U, mPad, rowStart, rowEnd, 6, g6);
    else weights_rows(w, O, C, inputGradient, U, mPad, rowStart, rowEnd, 4, g4);
}

// g[i*3 + j] += (G^T dU G)[i][j], dU[(i*n + j) * ps], n = tile + 2.
static inline void finish_transform(const float *du, int64_t ps, float *g, int n,
                                    void (*gtcol)(const float *, float *)) {
    float t[6][3];  // t[j] = G^T (column j of dU)
    for (int j = 0; j < n; j++) {
        float col[6];
        for (int i = 0; i < n; i++) col[i] = du[(i * n + j) * ps];
        gtcol(col, t[j]);
    }
    for (int i = 0; i < 3; i++) {
        float row[6], h[3];
        for (int j = 0; j < n; j++) row[j] = t[j][i];
        gtcol(row, h);
        for (int j = 0; j < 3; j++) g[i * 3 + j] += h[j];
    }
}

// Blocks of 16 kernels of a row copied out of dU by rows of 16 floats
// first, as in weights_rows. Read in place, each kernel's n*n values lie
// 16 KB apart for 64x64 kernels: the finish took 402 us against 89 (F(4x4),
// one thread, the package's flags, the fastest of 200 calls), and 4-7% of
// conv3x3-64 (perf, one run at 1 and at 2 threads).
static inline void finish_all(const float *dU, int64_t O, int64_t C, int64_t mPad, int64_t kPad, float *dw, int n,
                              void (*gtcol)(const float *, float *)) {
    for (int64_t o = 0; o < O; o++) {
        for (int64_t c0 = 0; c0 < C; c0 += 16) {
            const int64_t cb = C - c0 < 16 ? C - c0 : 16;
            float block[36][16];
            for (int p = 0; p < n * n; p++) memcpy(block[p], dU + p * mPad * kPad + o * kPad + c0, (size_t)cb * sizeof(float));
            for (int64_t cc = 0; cc < cb; cc++) finish_transform(&block[0][cc], 16, dw + (o * C + c0 + cc) * 9, n, gtcol);
        }
    }
}

void strata_winograd_weight_grad_finish(int tile, const float *dU, int64_t O, int64_t C, int64_t mPad, int64_t kPad,
                                        float *dw) {
    if (tile == 4) finish_all(dU, O, C, mPad, kPad, dw, 6, gt6);
    else finish_all(dU, O, C, mPad, kPad, dw, 4, gt4);
}

void strata_winograd_weight_grad(int tile, const float *x, const float *dy, int64_t samples, int64_t C, int64_t O,
                                 int64_t H, int64_t W, float *dU, int64_t mPad, int64_t kPad, float *V, float *D,
                                 float *scratch, int isa) {
#if defined(__x86_64__) && defined(__clang__)
    if (isa == 16) {
        wg_weight_grad_avx512(tile, x, dy, samples, C, O, H, W, dU, mPad, kPad, V, D, scratch);
        return;
    }
    if (isa == 8) {
        wg_weight_grad_avx2(tile, x, dy, samples, C, O, H, W, dU, mPad, kPad, V, D, scratch);
        return;
    }
#endif
    (void)isa;
    wg_weight_grad_base(tile, x, dy, samples, C, O, H, W, dU, mPad, kPad, V, D, scratch);
}

int64_t strata_winograd_scratch(int tile, int64_t H, int64_t W) {
    if (tile == 4) return 24 * ((H + 3) / 4 + 1) * ((W + 3) / 4) * wg_group(tile, W);
    return 8 * ((H + 1) / 2 + 1) * ((W + 1) / 2);
}

void strata_winograd_conv3x3(int tile, const float *x, int64_t samples, int64_t K, int64_t H, int64_t W,
                             const float *U, int64_t mPad, int64_t O, float *out, const float *bias, int accumulate,
                             float *V, float *M, float *scratch, int isa) {
#if defined(__x86_64__) && defined(__clang__)
    if (isa == 16) {
        wg_conv3x3_avx512(tile, x, samples, K, H, W, U, mPad, O, out, bias, accumulate, V, M, scratch);
        return;
    }
    if (isa == 8) {
        wg_conv3x3_avx2(tile, x, samples, K, H, W, U, mPad, O, out, bias, accumulate, V, M, scratch);
        return;
    }
#endif
    (void)isa;
    wg_conv3x3_base(tile, x, samples, K, H, W, U, mPad, O, out, bias, accumulate, V, M, scratch);
}
