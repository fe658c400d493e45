// One instruction set's variant of the pieces both Winograd tile sizes share:
// vector loads and stores, the row split into neighbour pairs, and the two
// multiplies. Included by winograd_impl.h.


typedef float WG(vec) __attribute__((ext_vector_type(WG_VW)));
#define WG_VEC WG(vec)
#define WG_BLOCK_N (WG_NV * WG_VW)

static inline WG_VEC WG(load)(const float *p) {
    WG_VEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void WG(store)(float *p, WG_VEC v) { memcpy(p, &v, sizeof v); }

// Asks the caches for the plane of `floats` floats that a transform reads
// next, while it works on the current one. perf put half of the input
// split's samples on two loads: a plane is a short run that the hardware
// prefetchers do not get ahead of. Used by the F(4x4) input and gradient
// transforms for one sample's planes of at most 1 KB (16x16; see
// WG(prefetches)).
static inline void WG(prefetch)(const float *p, int64_t floats) {
    const char *b = (const char *)p;
    for (int64_t i = 0; i < floats * (int64_t)sizeof(float); i += 64) __builtin_prefetch(b + i, 0, 3);
}

// Measured over a batch of 128 on cold data (-O2 harness, medians of 5
// alternating runs, one thread): 16x16 x 32 channels forward 3.32 -> 3.06
// ms, weight gradient 3.98 -> 3.58 ms; 8x8 planes in groups of 4 samples
// and 32x32 planes did not gain (8x8 forward 1.91 -> 2.06 ms, 32x32 within
// noise).
static inline int WG(prefetches)(int64_t H, int64_t W, int64_t group) { return group == 1 && H * W <= 256; }

// The two shifted copies a row split keeps, in 4-float pieces: for piece k
// of `curR`, `right` gets the previous piece's last float and curR[0..2]
// (the split row moved right by one, a zero first); for piece k of `curL`,
// `left` gets the previous piece's floats 1..3 and curL[0] (moved left by
// one), stored one piece behind; WG(shift_finish) then stores left's last
// piece, with a zero last. prevR and prevL start at zero.
static inline void WG(shift_pieces)(int64_t k, wg_f4 curR, wg_f4 *prevR, float *right, wg_f4 curL, wg_f4 *prevL,
                                    float *left) {
    const wg_f4 r = __builtin_shufflevector(*prevR, curR, 3, 4, 5, 6);
    memcpy(right + 4 * k, &r, sizeof r);
    if (k > 0) {
        const wg_f4 l = __builtin_shufflevector(*prevL, curL, 1, 2, 3, 4);
        memcpy(left + 4 * (k - 1), &l, sizeof l);
    }
    *prevR = curR;
    *prevL = curL;
}

static inline void WG(shift_finish)(int64_t pieces, wg_f4 prevL, float *left) {
    const wg_f4 l = __builtin_shufflevector(prevL, (wg_f4)0, 1, 2, 3, 4);
    memcpy(left + 4 * (pieces - 1), &l, sizeof l);
}

// even[j] = src[2j], odd[j] = src[2j + 1] for j < count: 4 pairs at a
// time by shuffles, the last 4 taken again overlapping the previous ones
// when count is not a multiple of 4 (no scalar tail from 4 pairs up).
static inline void WG(pairs)(const float *restrict src, int64_t count, float *restrict even, float *restrict odd) {
    if (count < 4) {
        for (int64_t j = 0; j < count; j++) {
            even[j] = src[2 * j];
            odd[j] = src[2 * j + 1];
        }
        return;
    }
    for (int64_t start = 0; start < count; start += 4) {
        const int64_t j = start + 4 <= count ? start : count - 4;
        wg_f4 lo, hi;
        memcpy(&lo, src + 2 * j, sizeof lo);
        memcpy(&hi, src + 2 * j + 4, sizeof hi);
        const wg_f4 e = __builtin_shufflevector(lo, hi, 0, 2, 4, 6);
        const wg_f4 o = __builtin_shufflevector(lo, hi, 1, 3, 5, 7);
        memcpy(even + j, &e, sizeof e);
        memcpy(odd + j, &o, sizeof o);
    }
}

// Rows of U (and of D in multiply_nt) a register block takes. With the 16
// vector registers of AVX2 and SSE, blocks of 6 rows (12 sums, 2 + 1
// loads a step) where 4 rows left 8 sums: too few to cover the FMA's
// latency on two pipes. One thread, C harness at -O2, 36 positions of 256
// tiles, hot caches, medians of 200 calls, AVX2, 4 -> 6 rows: multiply
// 76.5 -> 77.0 GFLOP/s at 16 channels, 73.7 -> 81.1 at 32, 74.1 -> 84.4 at
// 64; multiply_nt 71.8 -> 75.5, 75.5 -> 80.5, 77.7 -> 83.3 (a register
// FMA loop: 101.6 and 101.8 in two runs). Every sum is formed in the same
// order for either block, so the results are the same bits. AVX-512 keeps
// 4 rows (its 16 sums already fill the pipes; 6 rows could not be
// measured here).
#if WG_VW == 16
#define WG_ROWS 4
#else
#define WG_ROWS 6
#endif

// Blocks of WG_ROWS rows first, then of 4 for the rest: mPad (a multiple
// of 4) = WG_ROWS * WG(row_blocks)(mPad) + a multiple of 4.
static inline int64_t WG(row_blocks)(int64_t mPad) {
    int64_t big = mPad / WG_ROWS;
    while ((mPad - WG_ROWS * big) % 4 != 0) big--;
    return big;
}

// m rows o..o+R-1 of columns n..n+WG_BLOCK_N-1 = u rows o.. times v (R a
// constant where it is inlined: 4 or WG_ROWS).
static inline __attribute__((always_inline)) void WG(multiply_block)(int R, const float *a, const float *v, float *m,
                                                                     int64_t K, int64_t nPad, int64_t n) {
    WG_VEC acc[WG_ROWS][WG_NV];
    for (int r = 0; r < R; r++)
        for (int j = 0; j < WG_NV; j++) acc[r][j] = (WG_VEC)0;
    for (int64_t k = 0; k < K; k++) {
        WG_VEC b[WG_NV];
        for (int j = 0; j < WG_NV; j++) b[j] = WG(load)(v + k * nPad + n + j * WG_VW);
        for (int r = 0; r < R; r++) {
            const WG_VEC s = (WG_VEC)a[r * K + k];
            for (int j = 0; j < WG_NV; j++) acc[r][j] += s * b[j];
        }
    }
    for (int r = 0; r < R; r++)
        for (int j = 0; j < WG_NV; j++) WG(store)(m + r * nPad + n + j * WG_VW, acc[r][j]);
}

// M[p] (mPad x nPad) = U[p] (mPad x K) * V[p] (K x nPad) for the P
// positions (16 or 36); mPad a multiple of 4, nPad of 64. Column blocks
// outside, row blocks inside, so one block of V stays in L1 while all rows
// pass over it.
__attribute__((noinline)) static void WG(multiply)(int P, const float *U, const float *V, float *M, int64_t mPad, int64_t K,
                                                   int64_t nPad) {
    const int64_t big = WG(row_blocks)(mPad);
    for (int p = 0; p < P; p++) {
        const float *u = U + p * mPad * K, *v = V + p * WG_STRIDE(K * nPad);
        float *m = M + p * WG_STRIDE(mPad * nPad);
        for (int64_t n = 0; n < nPad; n += WG_BLOCK_N) {
            int64_t o = 0;
            for (int64_t b = 0; b < big; b++, o += WG_ROWS) WG(multiply_block)(WG_ROWS, u + o * K, v, m + o * nPad, K, nPad, n);
            for (; o < mPad; o += 4) WG(multiply_block)(4, u + o * K, v, m + o * nPad, K, nPad, n);
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

#if WG_VW == 16
// u[r * ld + j] += the sum of the 16 lanes of acc[r][j] (r, j < 4), the 16
// sums formed together: four levels of pairing halves of two vectors
// (two shuffles and an add each) take the 16 vectors to one whose lane
// 4r + j is acc[r][j]'s sum, 15 steps in all, where 16 separate
// horizontal sums take 4 each and a scalar add. With the weight gradient's
// 16 vector steps per 4 x 4 block (chunks of 256 tiles), the separate sums
// were a third of its products' time.
static inline void WG(reduce16)(WG_VEC acc[4][4], float *u, int64_t ld) {
    WG_VEC w[8], x[4], y[2];
    for (int i = 0; i < 8; i++) {  // w[i]: 8 partials of v[i], then 8 of v[i + 8] (v[4r + j] = acc[r][j])
        const WG_VEC p = acc[i / 4][i % 4], q = acc[(i + 8) / 4][(i + 8) % 4];
        w[i] = __builtin_shufflevector(p, q, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
               __builtin_shufflevector(p, q, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    }
    for (int i = 0; i < 4; i++)  // x[i]: quad q holds 4 partials of v[i + 4q]
        x[i] = __builtin_shufflevector(w[i], w[i + 4], 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27) +
               __builtin_shufflevector(w[i], w[i + 4], 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    for (int i = 0; i < 2; i++)  // y[i]: pair m holds 2 partials of v[i + 2m]
        y[i] = __builtin_shufflevector(x[i], x[i + 2], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) +
               __builtin_shufflevector(x[i], x[i + 2], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    const WG_VEC z = __builtin_shufflevector(y[0], y[1], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) +
                     __builtin_shufflevector(y[0], y[1], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
    const wg_f4 rows[4] = {z.lo.lo, z.lo.hi, z.hi.lo, z.hi.hi};
    for (int r = 0; r < 4; r++) {
        wg_f4 old;
        memcpy(&old, u + r * ld, sizeof old);
        old += rows[r];
        memcpy(u + r * ld, &old, sizeof old);
    }
}
#endif

// Columns of V a block of multiply_nt takes: 4 with AVX-512's 32 vector
// registers (16 sums, 4 + 4 loads a step); 2 with the 16 of AVX2 and SSE,
// where the 4 x 4 block's 16 sums alone filled the registers and clang
// kept some on the stack, reloading and storing them at every step (the
// AVX2 products took 37-54 GFLOP/s; 4 x 2: 52-75, one thread, C harness
// at -O2, 16-64 channels, 96-384 tiles, medians of 200 calls).
#if WG_VW == 16
#define WG_NT_COLS 4
#else
#define WG_NT_COLS 2
#endif

#if WG_VW == 16
// dU rows o..o+3, columns c..c+3 += the 16 sums (AVX-512's one block shape).
static inline void WG(nt_store)(int R, WG_VEC acc[WG_ROWS][WG_NT_COLS], float *u, int64_t kPad) {
    (void)R;
    WG(reduce16)(acc, u, kPad);
}
#else
static inline __attribute__((always_inline)) void WG(nt_store)(int R, WG_VEC acc[WG_ROWS][WG_NT_COLS], float *u,
                                                                int64_t kPad) {
    for (int r = 0; r < R; r++)
        for (int j = 0; j < WG_NT_COLS; j++) u[r * kPad + j] += WG(sum)(acc[r][j]);
}
#endif

// dU rows o..o+R-1, columns c..c+WG_NT_COLS-1 += D rows o.. times V rows
// c.. summed over the nPad tiles (R a constant where it is inlined).
static inline __attribute__((always_inline)) void WG(multiply_nt_block)(int R, const float *d, const float *v,
                                                                        float *u, int64_t kPad, int64_t nPad) {
    WG_VEC acc[WG_ROWS][WG_NT_COLS];
    for (int r = 0; r < R; r++)
        for (int j = 0; j < WG_NT_COLS; j++) acc[r][j] = (WG_VEC)0;
    for (int64_t n = 0; n < nPad; n += WG_VW) {
        WG_VEC b[WG_NT_COLS];
        for (int j = 0; j < WG_NT_COLS; j++) b[j] = WG(load)(v + j * nPad + n);
        for (int r = 0; r < R; r++) {
            const WG_VEC a = WG(load)(d + r * nPad + n);
            for (int j = 0; j < WG_NT_COLS; j++) acc[r][j] += a * b[j];
        }
    }
    WG(nt_store)(R, acc, u, kPad);
}

// dU[p] (mPad x kPad) += D[p] (mPad x nPad) * V[p]^T (nPad x kPad) for the P
// positions: sums over the tiles, in blocks of WG_ROWS (then 4) x
// WG_NT_COLS sums kept as vectors until the end (each sum's order is the
// same for either block).
__attribute__((noinline)) static void WG(multiply_nt)(int P, const float *D, const float *V, float *dU, int64_t mPad,
                                                      int64_t kPad, int64_t nPad) {
    const int64_t big = WG(row_blocks)(mPad);
    for (int p = 0; p < P; p++) {
        const float *d = D + p * WG_STRIDE(mPad * nPad), *v = V + p * WG_STRIDE(kPad * nPad);
        float *u = dU + p * mPad * kPad;
        int64_t o = 0;
        for (int64_t b = 0; b < big; b++, o += WG_ROWS)
            for (int64_t c = 0; c < kPad; c += WG_NT_COLS)
                WG(multiply_nt_block)(WG_ROWS, d + o * nPad, v + c * nPad, u + o * kPad + c, kPad, nPad);
        for (; o < mPad; o += 4)
            for (int64_t c = 0; c < kPad; c += WG_NT_COLS)
                WG(multiply_nt_block)(4, d + o * nPad, v + c * nPad, u + o * kPad + c, kPad, nPad);
    }
}

#undef WG_NT_COLS
#undef WG_ROWS

