// One instruction set's variant of the Winograd F(2x2, 3x3) convolution.
// winograd.c includes this file once per variant, after defining
//   WG_VW      floats per vector (16 AVX-512, 8 AVX2, 4 baseline),
//   WG_NV      vectors per row of the multiply's register block,
//   WG(name)   the variant's name for `name`.
// Layouts (see strata_kernels.h): V [16][K][nPad], U [16][mPad][K],
// M [16][mPad][nPad], D [16][mPad][nPad], positions of V, M and D
// WG_STRIDE(rows * nPad) floats apart; tile t of sample s of a chunk is
// column s*T + t.

typedef float WG(vec) __attribute__((ext_vector_type(WG_VW)));
#define WG_VEC WG(vec)
#define WG_BLOCK_M 4
#define WG_BLOCK_N (WG_NV * WG_VW)

static inline WG_VEC WG(load)(const float *p) {
    WG_VEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void WG(store)(float *p, WG_VEC v) { memcpy(p, &v, sizeof v); }

// A short row copy, inline (a libc memcpy call per 8-32 floats costs more
// than the copy).
__attribute__((no_builtin("memcpy"))) static inline void WG(copy)(float *restrict dst, const float *restrict src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = src[i];
}

// V[p][c][n0 + t] = (B^T d B)[p] for every tile t of one sample's C planes;
// V holds `rows` >= C rows a position. `pad` holds (2*th + 2) x (2*tw + 2)
// floats: the plane with a zero border.
__attribute__((noinline, no_builtin("memcpy"))) static void WG(input)(const float *x, int64_t C, int64_t rows, int64_t H, int64_t W,
                                                float *V, int64_t nPad, int64_t n0, float *pad) {
    const int64_t th = (H + 1) / 2, tw = (W + 1) / 2, pw = 2 * tw + 2, ph = 2 * th + 2;
    const int64_t ps = WG_STRIDE(rows * nPad);  // distance between two positions of V
    memset(pad, 0, (size_t)(ph * pw) * sizeof(float));
    for (int64_t c = 0; c < C; c++) {
        const float *plane = x + c * H * W;
        for (int64_t y = 0; y < H; y++) WG(copy)(pad + (y + 1) * pw + 1, plane + y * W, W);
        for (int64_t ty = 0; ty < th; ty++) {
            const float *restrict r0 = pad + 2 * ty * pw;
            const float *restrict r1 = r0 + pw, *restrict r2 = r1 + pw, *restrict r3 = r2 + pw;
            float *restrict v = V + c * nPad + n0 + ty * tw;
            // 16 stores a tile, to 16 rows of V that never overlap the pad.
#pragma clang loop vectorize(assume_safety)
            for (int64_t tx = 0; tx < tw; tx++) {
                const int64_t i = 2 * tx;
                // Rows: t = B^T d.
                float t0[4], t1[4], t2[4], t3[4];
                for (int k = 0; k < 4; k++) {
                    t0[k] = r0[i + k] - r2[i + k];
                    t1[k] = r1[i + k] + r2[i + k];
                    t2[k] = r2[i + k] - r1[i + k];
                    t3[k] = r1[i + k] - r3[i + k];
                }
                // Columns: v = t B.
#define WG_COLUMNS(t, row)                                  \
    v[(row * 4 + 0) * ps + tx] = t[0] - t[2];               \
    v[(row * 4 + 1) * ps + tx] = t[1] + t[2];               \
    v[(row * 4 + 2) * ps + tx] = t[2] - t[1];               \
    v[(row * 4 + 3) * ps + tx] = t[1] - t[3];
                WG_COLUMNS(t0, 0)
                WG_COLUMNS(t1, 1)
                WG_COLUMNS(t2, 2)
                WG_COLUMNS(t3, 3)
#undef WG_COLUMNS
            }
        }
    }
}

// M[p] (mPad x nPad) = U[p] (mPad x K) * V[p] (K x nPad) for the 16
// positions; mPad a multiple of 4, nPad of 64. Column blocks outside, row
// blocks inside, so one block of V stays in L1 while all rows pass over it.
__attribute__((noinline)) static void WG(multiply)(const float *U, const float *V, float *M, int64_t mPad, int64_t K, int64_t nPad) {
    for (int p = 0; p < 16; p++) {
        const float *u = U + p * mPad * K, *v = V + p * WG_STRIDE(K * nPad);
        float *m = M + p * WG_STRIDE(mPad * nPad);
        for (int64_t n = 0; n < nPad; n += WG_BLOCK_N) {
            for (int64_t o = 0; o < mPad; o += WG_BLOCK_M) {
                WG_VEC acc[WG_BLOCK_M][WG_NV];
                for (int r = 0; r < WG_BLOCK_M; r++)
                    for (int j = 0; j < WG_NV; j++) acc[r][j] = (WG_VEC)0;
                const float *a = u + o * K;
                for (int64_t k = 0; k < K; k++) {
                    WG_VEC b[WG_NV];
                    for (int j = 0; j < WG_NV; j++) b[j] = WG(load)(v + k * nPad + n + j * WG_VW);
                    for (int r = 0; r < WG_BLOCK_M; r++) {
                        const WG_VEC s = (WG_VEC)a[r * K + k];
                        for (int j = 0; j < WG_NV; j++) acc[r][j] += s * b[j];
                    }
                }
                for (int r = 0; r < WG_BLOCK_M; r++)
                    for (int j = 0; j < WG_NV; j++) WG(store)(m + (o + r) * nPad + n + j * WG_VW, acc[r][j]);
            }
        }
    }
}

// out[o] (=, or += when `accumulate`) A^T m A for every tile of one sample.
// `rows` holds 4 * tw floats: a row of tiles' two output rows.
__attribute__((noinline, no_builtin("memcpy"))) static void WG(output)(const float *M, int64_t mPad, int64_t nPad, int64_t n0, int64_t O, int64_t H, int64_t W,
                       float *out, int accumulate, float *rows) {
    const int64_t th = (H + 1) / 2, tw = (W + 1) / 2;
    const int64_t ps = WG_STRIDE(mPad * nPad);
    float *restrict y0 = rows, *restrict y1 = rows + 2 * tw;
    for (int64_t o = 0; o < O; o++) {
        float *plane = out + o * H * W;
        for (int64_t ty = 0; ty < th; ty++) {
            const float *restrict m = M + o * nPad + n0 + ty * tw;
#pragma clang loop vectorize(assume_safety)
            for (int64_t tx = 0; tx < tw; tx++) {
                // Rows: s = A^T m (2 x 4), then columns: y = s A (2 x 2).
                float s0[4], s1[4];
                for (int k = 0; k < 4; k++) {
                    const float a = m[k * ps + tx], b = m[(4 + k) * ps + tx];
                    const float c = m[(8 + k) * ps + tx], d = m[(12 + k) * ps + tx];
                    s0[k] = a + b + c;
                    s1[k] = b - c - d;
                }
                y0[2 * tx] = s0[0] + s0[1] + s0[2];
                y0[2 * tx + 1] = s0[1] - s0[2] - s0[3];
                y1[2 * tx] = s1[0] + s1[1] + s1[2];
                y1[2 * tx + 1] = s1[1] - s1[2] - s1[3];
            }
            for (int r = 0; r < 2 && 2 * ty + r < H; r++) {
                float *restrict dst = plane + (2 * ty + r) * W;
                const float *restrict src = r == 0 ? y0 : y1;
                if (accumulate) {
                    for (int64_t i = 0; i < W; i++) dst[i] += src[i];
                } else {
                    WG(copy)(dst, src, W);
                }
            }
        }
    }
}

__attribute__((noinline)) static void WG(conv3x3)(const float *x, int64_t samples, int64_t K, int64_t H, int64_t W, const float *U,
                        int64_t mPad, int64_t O, float *out, int accumulate, float *V, float *M, float *scratch) {
    const int64_t th = (H + 1) / 2, tw = (W + 1) / 2, T = th * tw;
    const int64_t used = samples * T, nPad = (used + 63) / 64 * 64;
    for (int64_t s = 0; s < samples; s++) WG(input)(x + s * K * H * W, K, K, H, W, V, nPad, s * T, scratch);
    if (used < nPad) {
        for (int p = 0; p < 16; p++)
            for (int64_t r = 0; r < K; r++)
                memset(V + p * WG_STRIDE(K * nPad) + r * nPad + used, 0, (size_t)(nPad - used) * sizeof(float));
    }
    WG(multiply)(U, V, M, mPad, K, nPad);
    for (int64_t s = 0; s < samples; s++) WG(output)(M, mPad, nPad, s * T, O, H, W, out + s * O * H * W, accumulate, scratch);
}

// D[p][o][n0 + t] = (A dY A^T)[p] for every 2x2 tile dY of one sample's O
// output-gradient planes (outside the plane: zero); D holds `rows` >= O
// rows a position. `pad` holds (2*th) x (2*tw) floats.
__attribute__((noinline, no_builtin("memcpy"))) static void WG(gradient)(const float *dy, int64_t O, int64_t rows, int64_t H, int64_t W,
                                                   float *D, int64_t nPad, int64_t n0, float *pad) {
    const int64_t th = (H + 1) / 2, tw = (W + 1) / 2, pw = 2 * tw;
    const int64_t ps = WG_STRIDE(rows * nPad);
    memset(pad, 0, (size_t)(2 * th * pw) * sizeof(float));
    for (int64_t o = 0; o < O; o++) {
        const float *plane = dy + o * H * W;
        for (int64_t y = 0; y < H; y++) WG(copy)(pad + y * pw, plane + y * W, W);
        for (int64_t ty = 0; ty < th; ty++) {
            const float *restrict r0 = pad + 2 * ty * pw, *restrict r1 = r0 + pw;
            float *restrict d = D + o * nPad + n0 + ty * tw;
#pragma clang loop vectorize(assume_safety)
            for (int64_t tx = 0; tx < tw; tx++) {
                const float p = r0[2 * tx], q = r0[2 * tx + 1], r = r1[2 * tx], s = r1[2 * tx + 1];
                // Rows: t = A dY (4 x 2), then columns: t A^T (4 x 4).
                const float t[4][2] = {{p, q}, {p + r, q + s}, {p - r, q - s}, {-r, -s}};
                for (int i = 0; i < 4; i++) {
                    d[(i * 4 + 0) * ps + tx] = t[i][0];
                    d[(i * 4 + 1) * ps + tx] = t[i][0] + t[i][1];
                    d[(i * 4 + 2) * ps + tx] = t[i][0] - t[i][1];
                    d[(i * 4 + 3) * ps + tx] = -t[i][1];
                }
            }
        }
    }
}

static inline float WG(sum)(WG_VEC v) {
#if WG_VW == 16
    const wg_f8 a = v.lo + v.hi;
    const wg_f4 b = a.lo + a.hi;
#elif WG_VW == 8
    const wg_f4 b = v.lo + v.hi;
#else
    const wg_f4 b = v;
#endif
    const wg_f2 c = b.lo + b.hi;
    return c.x + c.y;
}

// dU[p] (mPad x kPad) += D[p] (mPad x nPad) * V[p]^T (nPad x kPad): sums
// over the tiles, in blocks of 4 x 4 sums kept as vectors until the end.
__attribute__((noinline)) static void WG(multiply_nt)(const float *D, const float *V, float *dU, int64_t mPad,
                                                      int64_t kPad, int64_t nPad) {
    for (int p = 0; p < 16; p++) {
        const float *d = D + p * WG_STRIDE(mPad * nPad), *v = V + p * WG_STRIDE(kPad * nPad);
        float *u = dU + p * mPad * kPad;
        for (int64_t o = 0; o < mPad; o += 4) {
            for (int64_t c = 0; c < kPad; c += 4) {
                WG_VEC acc[4][4];
                for (int r = 0; r < 4; r++)
                    for (int j = 0; j < 4; j++) acc[r][j] = (WG_VEC)0;
                for (int64_t n = 0; n < nPad; n += WG_VW) {
                    WG_VEC a[4], b[4];
                    for (int r = 0; r < 4; r++) a[r] = WG(load)(d + (o + r) * nPad + n);
                    for (int j = 0; j < 4; j++) b[j] = WG(load)(v + (c + j) * nPad + n);
                    for (int r = 0; r < 4; r++)
                        for (int j = 0; j < 4; j++) acc[r][j] += a[r] * b[j];
                }
                for (int r = 0; r < 4; r++)
                    for (int j = 0; j < 4; j++) u[(o + r) * kPad + c + j] += WG(sum)(acc[r][j]);
            }
        }
    }
}

static void WG(weight_grad)(const float *x, const float *dy, int64_t samples, int64_t C, int64_t O, int64_t H,
                            int64_t W, float *dU, int64_t mPad, int64_t kPad, float *V, float *D, float *scratch) {
    const int64_t th = (H + 1) / 2, tw = (W + 1) / 2, T = th * tw;
    const int64_t used = samples * T, nPad = (used + 63) / 64 * 64;
    for (int64_t s = 0; s < samples; s++) {
        WG(input)(x + s * C * H * W, C, kPad, H, W, V, nPad, s * T, scratch);
        WG(gradient)(dy + s * O * H * W, O, mPad, H, W, D, nPad, s * T, scratch);
    }
    // Columns past the tiles, and rows past C and O: zero.
    for (int p = 0; p < 16; p++) {
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
    WG(multiply_nt)(D, V, dU, mPad, kPad, nPad);
}

#undef WG_VEC
#undef WG_BLOCK_M
#undef WG_BLOCK_N
