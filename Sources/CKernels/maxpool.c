#include "strata_kernels.h"

// Compare-and-take as selects: clang vectorises the row loop (strided
// loads, vector compares and blends), so nothing branches on the data.
#define STRATA_TAKE(v, i)                        \
    do {                                         \
        int take = ((v) > best) | ((v) != (v));  \
        best = take ? (v) : best;                \
        index = take ? (i) : index;              \
    } while (0)

// One plane. Inlined twice below: with the strides as constants 2 (the
// common MaxPool2d(2), whose stride-2 loads vectorise) and as variables.
static inline void maxpool2x2_plane(const float *src, int64_t width, int64_t sh, int64_t sw, int64_t outH,
                                    int64_t outW, float *dst, int32_t *idx) {
    const int32_t w = (int32_t)width;
    for (int64_t oy = 0; oy < outH; oy++) {
        const float *restrict r0 = src + oy * sh * width;
        const float *restrict r1 = r0 + width;
        float *restrict d = dst + oy * outW;
        int32_t *restrict ix = idx + oy * outW;
        const int32_t top = (int32_t)(oy * sh * width);
        for (int64_t ox = 0; ox < outW; ox++) {
            const int32_t i0 = top + (int32_t)(ox * sw);
            const float *a = r0 + ox * sw, *b = r1 + ox * sw;
            float best = a[0];
            int32_t index = i0;
            STRATA_TAKE(a[1], i0 + 1);
            STRATA_TAKE(b[0], i0 + w);
            STRATA_TAKE(b[1], i0 + w + 1);
            d[ox] = best;
            ix[ox] = index;
        }
    }
}

void strata_maxpool2x2(const float *input, int64_t planes, int64_t height, int64_t width, int64_t strideH,
                       int64_t strideW, int64_t outH, int64_t outW, float *out, int32_t *argmax) {
    const int64_t inPlane = height * width, outPlane = outH * outW;
    for (int64_t p = 0; p < planes; p++) {
        const float *src = input + p * inPlane;
        float *dst = out + p * outPlane;
        int32_t *idx = argmax + p * outPlane;
        if (strideH == 2 && strideW == 2) {
            maxpool2x2_plane(src, width, 2, 2, outH, outW, dst, idx);
        } else {
            maxpool2x2_plane(src, width, strideH, strideW, outH, outW, dst, idx);
        }
    }
}
