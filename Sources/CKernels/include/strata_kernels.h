// Small C kernels of StrataCore: loops that Swift compiles poorly (data-
// dependent selects that must not become branches). Plain C, vectorised by
// clang; no allocation, no global state.
#ifndef STRATA_KERNELS_H
#define STRATA_KERNELS_H

#include <stdint.h>

/// 2x2 max pooling without padding over `planes` consecutive planes of
/// `height` x `width` floats, windows `strideH` rows and `strideW` columns
/// apart, outH x outW of them, each inside the plane. Writes each window's
/// maximum to `out` and its flat index within the input plane to `argmax`
/// (both [planes, outH, outW]). Candidates in row-major order; a candidate
/// is taken when it is greater than the running maximum or NaN, so the
/// first maximum wins ties and the last NaN of a window wins (PyTorch's CPU
/// rules).
void strata_maxpool2x2(const float *input, int64_t planes, int64_t height, int64_t width, int64_t strideH,
                       int64_t strideW, int64_t outH, int64_t outW, float *out, int32_t *argmax);

#endif
