// One instruction set's variant of the Winograd convolution, F(2x2, 3x3)
// or F(4x4, 3x3) by the `tile` argument (2 or 4). winograd.c includes
// this file once per variant, after defining
//   WG_VW      floats per vector (16 AVX-512, 8 AVX2, 4 baseline),
//   WG_NV      vectors per row of the multiply's register block,
//   WG(name)   the variant's name for `name`.
// Layouts (see strata_kernels.h), P = (tile + 2)^2 positions: V [P][K][nPad],
// U [P][mPad][K], M [P][mPad][nPad], D [P][mPad][nPad], positions of V, M
// and D WG_STRIDE(rows * nPad) floats apart; tile t of sample s of a chunk
// is column s*T + t.

#include "winograd_common.h"
#include "winograd_f2.h"
#include "winograd_f4.h"

__attribute__((noinline)) static void WG(conv3x3)(int tile, const float *x, int64_t samples, int64_t K, int64_t H,
                                                  int64_t W, const float *U, int64_t mPad, int64_t O, float *out,
                                                  const float *bias, int accumulate, float *V, float *M,
                                                  float *scratch) {
    const int P = (tile + 2) * (tile + 2);
    const int64_t T = ((H + tile - 1) / tile) * ((W + tile - 1) / tile);
    const int64_t used = samples * T, nPad = (used + 63) / 64 * 64;
    const int64_t group = wg_group(tile, W);
    for (int64_t s = 0; s < samples; s += group) {
        const int64_t g = samples - s < group ? samples - s : group;
        if (tile == 4) WG(input4)(x + s * K * H * W, K, K, H, W, g, V, nPad, s * T, scratch);
        else WG(input2)(x + s * K * H * W, K, K, H, W, V, nPad, s * T, scratch);
    }
    if (used < nPad) {
        for (int p = 0; p < P; p++)
            for (int64_t r = 0; r < K; r++)
                memset(V + p * WG_STRIDE(K * nPad) + r * nPad + used, 0, (size_t)(nPad - used) * sizeof(float));
    }
    WG(multiply)(P, U, V, M, mPad, K, nPad);
    for (int64_t s = 0; s < samples; s += group) {
        const int64_t g = samples - s < group ? samples - s : group;
        float *o = out + s * O * H * W;
        if (tile == 4) WG(output4)(M, mPad, nPad, s * T, O, H, W, g, o, O * H * W, bias, accumulate, scratch);
        else WG(output2)(M, mPad, nPad, s * T, O, H, W, o, bias, accumulate, scratch);
    }
}

static void WG(weight_grad)(int tile, const float *x, const float *dy, int64_t samples, int64_t C, int64_t O,
                            int64_t H, int64_t W, float *dU, int64_t mPad, int64_t kPad, float *V, float *D,
                            float *scratch) {
    const int P = (tile + 2) * (tile + 2);
    const int64_t T = ((H + tile - 1) / tile) * ((W + tile - 1) / tile);
    const int64_t used = samples * T, nPad = (used + 63) / 64 * 64;
    const int64_t group = wg_group(tile, W);
    for (int64_t s = 0; s < samples; s += group) {
        const int64_t g = samples - s < group ? samples - s : group;
        if (tile == 4) {
            WG(input4)(x + s * C * H * W, C, kPad, H, W, g, V, nPad, s * T, scratch);
            WG(gradient4)(dy + s * O * H * W, O, mPad, H, W, g, D, nPad, s * T, scratch);
        } else {
            WG(input2)(x + s * C * H * W, C, kPad, H, W, V, nPad, s * T, scratch);
            WG(gradient2)(dy + s * O * H * W, O, mPad, H, W, D, nPad, s * T, scratch);
        }
    }
    // Columns past the tiles, and rows past C and O: zero.
    for (int p = 0; p < P; p++) {
        for (int64_t r = 0; r < kPad; r++) {
            float *row = V + p * WG_STRIDE(kPad * nPad) + r * nPad;
            if (r >= C) memset(row, 0, (size_t)nPad * sizeof(float));
            else if (used < nPad) memset(row + used, 0, (size_t)(nPad - used) * sizeof(float));
        }
        for (int64_t r = 0; r < mPad; r++) {
            float *row = D + p * WG_STRIDE(mPad * nPad) + r * nPad;
            if (r >= O) memset(row, 0, (size_t)nPad * sizeof(float));
            else if (used < nPad) memset(row + used, 0, (size_t)(nPad - used) * sizeof(float));
        }
    }
    WG(multiply_nt)(P, D, V, dU, mPad, kPad, nPad);
}

#undef WG_VEC
#undef WG_BLOCK_N
