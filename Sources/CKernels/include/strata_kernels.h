// Small C kernels of StrataCore: loops that Swift compiles poorly (data-
// dependent selects that must not become branches, register-blocked vector
// products built for several instruction sets with a runtime choice). Plain
// C with clang's vector extensions; no allocation, no global state (the
// worker pool, strata_pool.h, is the one exception).
#ifndef STRATA_KERNELS_H
#define STRATA_KERNELS_H

#include <stdint.h>

/// The vector width the running CPU supports: 16 (AVX-512), 8 (AVX2 and
/// FMA) or 4 (baseline). The multi-variant kernels below choose by it; pass
/// it (or a smaller width) as `isa` to the Winograd calls.
int strata_vector_width(void);

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

/// The input gradient of strata_maxpool2x2 with strides 2 over `planes`
/// planes of height x width (out [planes, height / 2, width / 2]), written,
/// not added: each window's four floats get gradOut where the argmax is,
/// 0 elsewhere, by selects; a last row or column outside every window (odd
/// height or width) gets 0. Every float of the planes is written.
void strata_maxpool2x2_backward(const float *gradOut, const int32_t *argmax, int64_t planes, int64_t height,
                                int64_t width, float *gradIn);

/// MaxPool2d(2) of a fused BatchNorm + ReLU's output, without writing that
/// output: for each of `planes` consecutive planes of height x width (plane
/// q of the call is plane first + q of a tensor of `channels` channels, so
/// channel (first + q) % channels), v = (x - mean) * a + b with (mean, a, b)
/// at affine[3 * channel], then max(v, 0) (NaN stays NaN), each step
/// rounded as BatchNormKernels' Swift loops round it (no fused
/// multiply-add), so the values are those of the unfused output bit for
/// bit. The plane goes through `scratch` (height * width floats) into
/// strata_maxpool2x2 with strides 2: out and argmax are
/// [planes, height / 2, width / 2], the argmax flat within its plane.
void strata_affine_relu_maxpool2x2(const float *x, int64_t first, int64_t planes, int64_t channels, int64_t height,
                                   int64_t width, const float *affine, float *scratch, float *out, int32_t *argmax);

/// For each of `rows` rows r: d[j] = s[2j] for j < count, with
/// s = src + r*srcStride, d = dst + r*dstStride. Reads nothing past
/// s[2(count-1)].
void strata_gather_even(const float *src, int64_t srcStride, float *dst, int64_t dstStride, int64_t rows,
                        int64_t count);

/// For each of `rows` rows r: d[2j] += s[j] for j < count, with
/// s = src + r*srcStride, d = dst + r*dstStride (the odd floats between are
/// loaded and stored back unchanged; nothing past d[2(count-1)] is touched,
/// so rows may interleave with other rows' floats but must not overlap).
void strata_scatter_add_even(const float *src, int64_t srcStride, float *dst, int64_t dstStride, int64_t rows,
                             int64_t count);

/// Winograd convolution of [N, K, H, W] inputs with 3x3 kernels, stride 1,
/// padding 1, into [N, O, H, W] outputs. `tile` chooses F(2x2, 3x3)
/// (tile 2: 2x2 output tiles, P = 16 positions) or F(4x4, 3x3) (tile 4:
/// 4x4 output tiles, P = 36 positions). Below, th = ceil(H/tile),
/// tw = ceil(W/tile), T = th*tw tiles a plane.
///
/// The transformed kernels U [P][mPad][K] (mPad: the output channels
/// rounded up to a multiple of 4, extra rows zero). With `inputGradient`
/// 0, U[p][o][c] transforms w[o][c] (w is [O][C][3][3]): the forward
/// convolution, K = C. With 1, U[p][c][o] transforms w[o][c] turned by 180
/// degrees: the convolution that maps the output gradient [N, O, H, W] to
/// the input gradient [N, C, H, W], K = O. Writes rows [rowStart, rowEnd)
/// of every position (rows past O, or C, as zeros), so that calls on
/// disjoint row ranges can run in parallel; [0, mPad) is all of U.
void strata_winograd_weights(int tile, const float *w, int64_t O, int64_t C, int inputGradient, float *U,
                             int64_t mPad, int64_t rowStart, int64_t rowEnd);

/// The widest rows that the tile-4 transforms read through a copy padded
/// with zeros to a multiple of 16 floats (rows of width 13 to 15 past a
/// multiple of 16, whose tiles fill whole blocks of 16; a 14-wide row is
/// 4 tiles). Wider rows of those widths are split one float at a time.
#define STRATA_WINOGRAD_PADDED_ROW_MAX 256

/// Floats of the per-call scratch of the two calls below for H x W planes:
/// the padded plane split by row and column offset, 8*(th+1)*tw for tile
/// 2 and 24*(th+1)*tw for tile 4 (times 4 for planes 8 wide, whose tile-4
/// transforms take 4 samples' planes side by side).
int64_t strata_winograd_scratch(int tile, int64_t H, int64_t W);

/// Convolves `samples` consecutive inputs x [samples, K, H, W] with U
/// (from strata_winograd_weights with the same tile, output channels
/// O <= mPad) into out [samples, O, H, W], overwriting it or, with
/// `accumulate`, adding to it; `bias` (O floats, or null) is added to
/// every output of its channel. Scratch, with nPad = samples*T rounded up to
/// a multiple of 64: V: P*(K*nPad + 16) floats, M: P*(mPad*nPad + 16)
/// floats, scratch: strata_winograd_scratch(tile, H, W) floats. (Each of
/// the P positions takes one cache line more than its rows, so that
/// positions never lie a multiple of 4 KB apart.)
void strata_winograd_conv3x3(int tile, const float *x, int64_t samples, int64_t K, int64_t H, int64_t W,
                             const float *U, int64_t mPad, int64_t O, float *out, const float *bias, int accumulate,
                             float *V, float *M, float *scratch, int isa);

/// The weight gradient of the same convolution, in two steps. First, for
/// each chunk of `samples` inputs x [samples, C, H, W] and output gradients
/// dy [samples, O, H, W], accumulates dU [P][mPad][kPad] += the
/// transformed gradients times the transformed inputs, summed over the
/// tiles (mPad, kPad: O and C rounded up to a multiple of 4; dU starts at
/// zero). Scratch, with nPad as above: V: P*(kPad*nPad + 16) floats, D:
/// P*(mPad*nPad + 16) floats, scratch: strata_winograd_scratch(tile, H, W)
/// floats.
void strata_winograd_weight_grad(int tile, const float *x, const float *dy, int64_t samples, int64_t C, int64_t O,
                                 int64_t H, int64_t W, float *dU, int64_t mPad, int64_t kPad, float *V, float *D,
                                 float *scratch, int isa);

/// Then adds the kernel-space gradient of dU to dw [O][C][3][3].
void strata_winograd_weight_grad_finish(int tile, const float *dU, int64_t O, int64_t C, int64_t mPad, int64_t kPad,
                                        float *dw);

#endif
