#include "strata_kernels.h"

// Compare-and-take as selects: clang vectorises the row loop (stride-2
// loads, vector compares and blends), so nothing branches on the data.
#define STRATA_TAKE(v, i)                        \
    do {                                         \
        int take = ((v) > best) | ((v) != (v));  \
        best = take ? (v) : best;                \
        index = take ? (i) : index;              \
    } while (0)

void strata_maxpool2x2_stride2(const float *input, int64_t planes, int64_t height, int64_t width,
                               int64_t outH, int64_t outW, float *out, int32_t *argmax) {
    const int64_t inPlane = height * width, outPlane = outH * outW;
    for (int64_t p = 0; p < planes; p++) {
        const float *src = input + p * inPlane;
        float *dst = out + p * outPlane;
        int32_t *idx = argmax + p * outPlane;
        for (int64_t oy = 0; oy < outH; oy++) {
            const float *restrict r0 = src + 2 * oy * width;
            const float *restrict r1 = r0 + width;
            float *restrict d = dst + oy * outW;
            int32_t *restrict ix = idx + oy * outW;
            const int32_t top = (int32_t)(2 * oy * width), w = (int32_t)width;
            for (int64_t ox = 0; ox < outW; ox++) {
                const int32_t i0 = top + 2 * (int32_t)ox;
                float best = r0[2 * ox];
                int32_t index = i0;
                STRATA_TAKE(r0[2 * ox + 1], i0 + 1);
                STRATA_TAKE(r1[2 * ox], i0 + w);
                STRATA_TAKE(r1[2 * ox + 1], i0 + w + 1);
                d[ox] = best;
                ix[ox] = index;
            }
        }
    }
}
