// Every other float, read or added to: the column copies of im2col and
// col2im for convolutions with stride 2 in width (ResNet's downsampling
// 3x3 and 1x1 convolutions). Written with shuffles: the plain strided loop
// compiles to one float at a time.
#include <string.h>

#include "strata_kernels.h"

typedef float st_f4 __attribute__((ext_vector_type(4)));

static inline st_f4 st_load(const float *p) {
    st_f4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void st_store(float *p, st_f4 v) { memcpy(p, &v, sizeof v); }

static inline void gather_even(const float *src, int64_t count, float *dst) {
    if (count < 5) {
        for (int64_t j = 0; j < count; j++) dst[j] = src[2 * j];
        return;
    }
    // Blocks of 4 read src[2j .. 2j+7]; the last block reads
    // src[2j-1 .. 2j+6] and takes the odd lanes, so nothing past
    // src[2(count-1)] is read.
    int64_t j = 0;
    for (; j + 4 < count; j += 4) {
        const st_f4 lo = st_load(src + 2 * j), hi = st_load(src + 2 * j + 4);
        st_store(dst + j, __builtin_shufflevector(lo, hi, 0, 2, 4, 6));
    }
    j = count - 4;
    const st_f4 lo = st_load(src + 2 * j - 1), hi = st_load(src + 2 * j + 3);
    st_store(dst + j, __builtin_shufflevector(lo, hi, 1, 3, 5, 7));
}

static inline void scatter_add_even(const float *src, int64_t count, float *dst) {
    // Blocks of 4 sums: 8 floats of dst loaded and stored back, the 4 even
    // ones with src added, while the block ends before dst[2(count-1)];
    // the last 1 to 4 sums one at a time (a shifted vector block, as in the
    // gather, would reload floats just stored and wait for them).
    const st_f4 zero = (st_f4)0;
    int64_t j = 0;
    for (; j + 4 < count; j += 4) {
        const st_f4 s = st_load(src + j);
        st_store(dst + 2 * j, st_load(dst + 2 * j) + __builtin_shufflevector(s, zero, 0, 4, 1, 5));
        st_store(dst + 2 * j + 4, st_load(dst + 2 * j + 4) + __builtin_shufflevector(s, zero, 2, 6, 3, 7));
    }
    for (; j < count; j++) dst[2 * j] += src[j];
}

void strata_gather_even(const float *src, int64_t srcStride, float *dst, int64_t dstStride, int64_t rows,
                        int64_t count) {
    for (int64_t r = 0; r < rows; r++) gather_even(src + r * srcStride, count, dst + r * dstStride);
}

void strata_scatter_add_even(const float *src, int64_t srcStride, float *dst, int64_t dstStride, int64_t rows,
                             int64_t count) {
    for (int64_t r = 0; r < rows; r++) scatter_add_even(src + r * srcStride, count, dst + r * dstStride);
}
