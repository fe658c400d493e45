#include <string.h>

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

typedef float mp_f8 __attribute__((ext_vector_type(8)));
typedef int32_t mp_i8 __attribute__((ext_vector_type(8)));
typedef float mp_f4 __attribute__((ext_vector_type(4)));
typedef int32_t mp_i4 __attribute__((ext_vector_type(4)));

// STRATA_TAKE on vectors: compares and bit selects.
#define MP_TAKE(fv, iv, v, i)                                         \
    do {                                                              \
        const iv take = ((v) > best) | ((v) != (v));                  \
        best = (fv)(((iv)(v) & take) | ((iv)best & ~take));           \
        index = ((i) & take) | (index & ~take);                       \
    } while (0)

// VW windows of one row pair starting at window ox: two rows of 2*VW
// floats split into even and odd columns by shuffles. Window k's first
// candidate is column 2k, so the even indices are also the lanes' offsets.
#define MP_WINDOWS(fv, iv, VW, EVEN, ODD)                                     \
    do {                                                                             \
        fv a0, a1, b0, b1;                                                           \
        memcpy(&a0, r0 + 2 * ox, sizeof a0);                                         \
        memcpy(&a1, r0 + 2 * ox + VW, sizeof a1);                                    \
        memcpy(&b0, r1 + 2 * ox, sizeof b0);                                         \
        memcpy(&b1, r1 + 2 * ox + VW, sizeof b1);                                    \
        const fv ae = __builtin_shufflevector(a0, a1, EVEN), ao = __builtin_shufflevector(a0, a1, ODD); \
        const fv be = __builtin_shufflevector(b0, b1, EVEN), bo = __builtin_shufflevector(b0, b1, ODD); \
        const iv i0 = (iv)(top + (int32_t)(2 * ox)) + (iv){EVEN};                   \
        fv best = ae;                                                                \
        iv index = i0;                                                               \
        MP_TAKE(fv, iv, ao, i0 + 1);                                                 \
        MP_TAKE(fv, iv, be, i0 + w);                                                 \
        MP_TAKE(fv, iv, bo, i0 + w + 1);                                             \
        memcpy(d + ox, &best, sizeof best);                                          \
        memcpy(ix + ox, &index, sizeof index);                                       \
    } while (0)

#define MP_E8 0, 2, 4, 6, 8, 10, 12, 14
#define MP_O8 1, 3, 5, 7, 9, 11, 13, 15
#define MP_E4 0, 2, 4, 6
#define MP_O4 1, 3, 5, 7

#if defined(__x86_64__) && defined(__clang__)
// MaxPool2d(2) with strides 2 (at least 4 windows a row) on AVX2: 8
// windows at a time, or 4 in rows of fewer than 8; a row's last partial
// vector is taken again over the row's last 8 (or 4) windows, so nothing
// is scalar (a window computed twice gets the same result).
__attribute__((target("avx2"))) static void maxpool2x2_stride2_avx2(const float *src, int64_t planes,
                                                                    int64_t height, int64_t width, int64_t outH,
                                                                    int64_t outW, float *out, int32_t *argmax) {
    const int32_t w = (int32_t)width;
    for (int64_t p = 0; p < planes; p++) {
        const float *plane = src + p * height * width;
        for (int64_t oy = 0; oy < outH; oy++) {
            const float *r0 = plane + oy * 2 * width, *r1 = r0 + width;
            float *d = out + (p * outH + oy) * outW;
            int32_t *ix = argmax + (p * outH + oy) * outW;
            const int32_t top = (int32_t)(oy * 2 * width);
            if (outW >= 8) {
                for (int64_t start = 0; start < outW; start += 8) {
                    const int64_t ox = start + 8 <= outW ? start : outW - 8;
                    MP_WINDOWS(mp_f8, mp_i8, 8, MP_E8, MP_O8);
                }
            } else {
                for (int64_t start = 0; start < outW; start += 4) {
                    const int64_t ox = start + 4 <= outW ? start : outW - 4;
                    MP_WINDOWS(mp_f4, mp_i4, 4, MP_E4, MP_O4);
                }
            }
        }
    }
}
#endif

void strata_maxpool2x2(const float *input, int64_t planes, int64_t height, int64_t width, int64_t strideH,
                       int64_t strideW, int64_t outH, int64_t outW, float *out, int32_t *argmax) {
    const int64_t inPlane = height * width, outPlane = outH * outW;
#if defined(__x86_64__) && defined(__clang__)
    if (strideH == 2 && strideW == 2 && outW >= 4 && strata_vector_width() >= 8) {
        maxpool2x2_stride2_avx2(input, planes, height, width, outH, outW, out, argmax);
        return;
    }
#endif
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

// relu((x - mean) * a + b) over one plane, rounded step by step as the
// Swift BatchNorm loops (contraction into a fused multiply-add would change
// the bits).
static inline __attribute__((always_inline)) void affine_relu_plane(const float *restrict x, int64_t count,
                                                                     float mean, float a, float b,
                                                                     float *restrict y) {
#pragma clang fp contract(off)
    for (int64_t i = 0; i < count; i++) {
        const float v = (x[i] - mean) * a + b;
        y[i] = v < 0 ? 0.0f : v;
    }
}

#define MP_AFFINE_PLANES(affine_relu)                                                                   \
    const int64_t inPlane = height * width, outH = height / 2, outW = width / 2, outPlane = outH * outW; \
    for (int64_t q = 0; q < planes; q++) {                                                              \
        const float *t = affine + 3 * ((first + q) % channels);                                         \
        affine_relu(x + q * inPlane, inPlane, t[0], t[1], t[2], scratch);                               \
        strata_maxpool2x2(scratch, 1, height, width, 2, 2, outH, outW, out + q * outPlane,              \
                          argmax + q * outPlane);                                                       \
    }

#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx2"))) static void affine_relu_plane_avx2(const float *restrict x, int64_t count,
                                                                   float mean, float a, float b, float *restrict y) {
    affine_relu_plane(x, count, mean, a, b, y);
}
#endif

void strata_affine_relu_maxpool2x2(const float *x, int64_t first, int64_t planes, int64_t channels, int64_t height,
                                   int64_t width, const float *affine, float *scratch, float *out, int32_t *argmax) {
#if defined(__x86_64__) && defined(__clang__)
    if (strata_vector_width() >= 8) {
        MP_AFFINE_PLANES(affine_relu_plane_avx2);
        return;
    }
#endif
    MP_AFFINE_PLANES(affine_relu_plane);
}

// VW windows of one row pair from window ox: each of the four candidates
// gets the window's gradient where it is the argmax, else 0 (AND with the
// compare's mask); the even and odd columns of each row interleaved back
// by shuffles into 2*VW floats.
#define MP_BACKWARD(fv, iv, VW, EVEN, LO, HI)                                                     \
    do {                                                                                         \
        fv v;                                                                                    \
        iv k;                                                                                    \
        memcpy(&v, g + ox, sizeof v);                                                            \
        memcpy(&k, ix + ox, sizeof k);                                                           \
        const iv i0 = (iv)(top + (int32_t)(2 * ox)) + (iv){EVEN};                               \
        const fv a = (fv)((iv)v & (k == i0)), b = (fv)((iv)v & (k == i0 + 1));                  \
        const fv c = (fv)((iv)v & (k == i0 + w)), d = (fv)((iv)v & (k == i0 + w + 1));          \
        const fv a0 = __builtin_shufflevector(a, b, LO), a1 = __builtin_shufflevector(a, b, HI); \
        const fv c0 = __builtin_shufflevector(c, d, LO), c1 = __builtin_shufflevector(c, d, HI); \
        memcpy(r0 + 2 * ox, &a0, sizeof a0);                                                     \
        memcpy(r0 + 2 * ox + VW, &a1, sizeof a1);                                                \
        memcpy(r1 + 2 * ox, &c0, sizeof c0);                                                     \
        memcpy(r1 + 2 * ox + VW, &c1, sizeof c1);                                                \
    } while (0)

#define MP_LO8 0, 8, 1, 9, 2, 10, 3, 11
#define MP_HI8 4, 12, 5, 13, 6, 14, 7, 15
#define MP_LO4 0, 4, 1, 5
#define MP_HI4 2, 6, 3, 7

// One plane, `vw` (8 or 4, at most outW) windows at a time, a row's last
// vector taken again over its last vw windows (the floats written twice
// get the same values).
static inline __attribute__((always_inline)) void maxpool2x2_backward_plane(const float *gradOut,
                                                                             const int32_t *argmax, int64_t height,
                                                                             int64_t width, float *plane) {
    const int64_t outH = height / 2, outW = width / 2;
    const int32_t w = (int32_t)width;
    for (int64_t oy = 0; oy < outH; oy++) {
        const float *g = gradOut + oy * outW;
        const int32_t *ix = argmax + oy * outW;
        float *r0 = plane + 2 * oy * width, *r1 = r0 + width;
        const int32_t top = (int32_t)(2 * oy * width);
        if (outW >= 8) {
            for (int64_t start = 0; start < outW; start += 8) {
                const int64_t ox = start + 8 <= outW ? start : outW - 8;
                MP_BACKWARD(mp_f8, mp_i8, 8, MP_E8, MP_LO8, MP_HI8);
            }
        } else if (outW >= 4) {
            for (int64_t start = 0; start < outW; start += 4) {
                const int64_t ox = start + 4 <= outW ? start : outW - 4;
                MP_BACKWARD(mp_f4, mp_i4, 4, MP_E4, MP_LO4, MP_HI4);
            }
        } else {
            for (int64_t ox = 0; ox < outW; ox++) {
                const int32_t i0 = top + 2 * (int32_t)ox, k = ix[ox];
                const float v = g[ox];
                r0[2 * ox] = k == i0 ? v : 0.0f;
                r0[2 * ox + 1] = k == i0 + 1 ? v : 0.0f;
                r1[2 * ox] = k == i0 + w ? v : 0.0f;
                r1[2 * ox + 1] = k == i0 + w + 1 ? v : 0.0f;
            }
        }
        if (width & 1) r0[width - 1] = r1[width - 1] = 0.0f;
    }
    if (height & 1) memset(plane + (height - 1) * width, 0, (size_t)width * sizeof(float));
}

#define MP_BACKWARD_PLANES                                                                          \
    const int64_t inPlane = height * width, outPlane = (height / 2) * (width / 2);                  \
    for (int64_t p = 0; p < planes; p++)                                                            \
        maxpool2x2_backward_plane(gradOut + p * outPlane, argmax + p * outPlane, height, width, gradIn + p * inPlane)

#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx2"))) static void maxpool2x2_backward_avx2(const float *gradOut, const int32_t *argmax,
                                                                     int64_t planes, int64_t height, int64_t width,
                                                                     float *gradIn) {
    MP_BACKWARD_PLANES;
}
#endif

// Compiled for AVX2 (8 windows a vector) and for the baseline (the same
// vector types in narrower instructions).
void strata_maxpool2x2_backward(const float *gradOut, const int32_t *argmax, int64_t planes, int64_t height,
                                int64_t width, float *gradIn) {
#if defined(__x86_64__) && defined(__clang__)
    if (strata_vector_width() >= 8) {
        maxpool2x2_backward_avx2(gradOut, argmax, planes, height, width, gradIn);
        return;
    }
#endif
    MP_BACKWARD_PLANES;
}
