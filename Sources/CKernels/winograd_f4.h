// One instruction set's variant of the F(4x4, 3x3) transforms: 6x6 input
// patches, 4x4 output tiles, 36 positions (Lavin & Gray 2016, interpolation
// points 0, 1, -1, 2, -2 and infinity). Per output, 2.25 multiplies a
// channel pair instead of F(2x2)'s 4, and V is 2.25 floats a channel
// instead of 4. Included by winograd_impl.h.
//
// With P the plane padded by one zero row and column before it and zeros
// after it, tile t = ty*tw + tx (th = ceil(H/4), tw = ceil(W/4)) reads the
// patch d[a][b] = P[4ty + a][4tx + b], a, b < 6, and writes out[4ty + r]
// [4tx + c], r, c < 4.

// The transforms' loops over 4 and 6 run over all the plane's tiles at
// once; unrolled in full, so that the loop over the tiles vectorises.
//
// Sample groups: an 8x8 plane has 4 tiles, a quarter of an AVX-512 vector,
// so the transforms take `group` samples at once (wg_group: 4 for planes 8
// wide, else 1), their planes side by side in one row of tiles each tile
// row: the group's tile t = ty*(group*tw) + g*tw + tx (g the sample in the
// group), and its columns of V, M and D are that order. Each sample keeps
// its own zero border; no tile reads across two samples. A group's row of
// 8 floats a sample is split and interleaved by shuffles with AVX-512 and
// AVX2 (the 4 rows are one row of 32); without them (and at the baseline)
// one float at a time: with AVX2, conv3x3-64 (64 channels, 8x8) took
// 7.2-8.0 ms against 9.7-12.7 (2 threads, alternating, 5 runs each) and
// resnet20-step 1.11x (median of 6 alternating ratios). Each transform is
// compiled twice: its noinline entry calls an always-inline body with
// `group` 1 as a constant or with the group's size, since a loop over the
// group left in the one-sample path made clang compile the 16x16 output
// and gradient transforms 40-80% slower (-O2, as the package builds).
#define WG4_UNROLL _Pragma("clang loop unroll(full)")

// 4 vectors of 4 (rows) turned into their 4 columns, in place.
static inline void WG(transpose4)(wg_f4 *a, wg_f4 *b, wg_f4 *c, wg_f4 *d) {
    const wg_f4 t0 = __builtin_shufflevector(*a, *b, 0, 4, 1, 5), t1 = __builtin_shufflevector(*a, *b, 2, 6, 3, 7);
    const wg_f4 t2 = __builtin_shufflevector(*c, *d, 0, 4, 1, 5), t3 = __builtin_shufflevector(*c, *d, 2, 6, 3, 7);
    *a = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    *b = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    *c = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    *d = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
}

// One block of 16 floats split 4 apart: q_r[0..3] = block[r], block[4 + r],
// block[8 + r], block[12 + r] by a 4x4 transpose; q0 and q3 also returned.
static inline void WG(quad_block)(const float *restrict block, float *restrict q0, float *restrict q1,
                                  float *restrict q2, float *restrict q3, wg_f4 *first, wg_f4 *last) {
    wg_f4 a, b, c, d;
    memcpy(&a, block, sizeof a);
    memcpy(&b, block + 4, sizeof b);
    memcpy(&c, block + 8, sizeof c);
    memcpy(&d, block + 12, sizeof d);
    WG(transpose4)(&a, &b, &c, &d);
    memcpy(q0, &a, sizeof a);
    memcpy(q1, &b, sizeof b);
    memcpy(q2, &c, sizeof c);
    memcpy(q3, &d, sizeof d);
    *first = a;
    *last = d;
}

#if WG_VW == 16
// AVX-512: 32 floats of a row split 4 apart by two two-register shuffles,
// a = q0 | q1 and b = q2 | q3 (q_r[j] = block[4j + r], 8 floats each),
// where the 4x4 transposes of quad_block take 12 four-float shuffles.
static inline void WG(quads32)(WG_VEC lo, WG_VEC hi, WG_VEC *a, WG_VEC *b) {
    *a = __builtin_shufflevector(lo, hi, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    *b = __builtin_shufflevector(lo, hi, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
}

// Rows of 8 floats of 4 samples, `stride` apart, side by side in one
// vector pair (lo: samples 0 and 1, hi: samples 2 and 3).
static inline void WG(rows8x4)(const float *row, int64_t stride, WG_VEC *lo, WG_VEC *hi) {
    wg_f8 r[4];
    for (int g = 0; g < 4; g++) memcpy(&r[g], row + g * stride, sizeof r[g]);
    *lo = __builtin_shufflevector(r[0], r[1], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    *hi = __builtin_shufflevector(r[2], r[3], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

// The quads of rows of 8 floats of 4 samples, as the AVX2 WG(quads8x4)
// below: the rows side by side (WG(rows8x4)), then WG(quads32).
static inline void WG(quads8x4)(const float *row, int64_t stride, wg_f8 q[4]) {
    WG_VEC lo, hi, a, b;
    WG(rows8x4)(row, stride, &lo, &hi);
    WG(quads32)(lo, hi, &a, &b);
    q[0] = a.lo;
    q[1] = a.hi;
    q[2] = b.lo;
    q[3] = b.hi;
}

static inline void WG(store8)(float *p, wg_f8 v) { memcpy(p, &v, sizeof v); }
#elif WG_VW == 8
// AVX2: a 4x4 transpose within each 128-bit half: half h of q[r] holds
// float r of half h of x[0], x[1], x[2] and x[3].
static inline void WG(transpose_halves)(const wg_f8 x[4], wg_f8 q[4]) {
    const wg_f8 t0 = __builtin_shufflevector(x[0], x[1], 0, 8, 1, 9, 4, 12, 5, 13);
    const wg_f8 t1 = __builtin_shufflevector(x[0], x[1], 2, 10, 3, 11, 6, 14, 7, 15);
    const wg_f8 t2 = __builtin_shufflevector(x[2], x[3], 0, 8, 1, 9, 4, 12, 5, 13);
    const wg_f8 t3 = __builtin_shufflevector(x[2], x[3], 2, 10, 3, 11, 6, 14, 7, 15);
    q[0] = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
    q[1] = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    q[2] = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
    q[3] = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
}

// Four rows of 8 floats, r0..r3, split 4 apart as if they were one row of
// 32: q[c] = (r0[c], r0[4 + c], r1[c], r1[4 + c], ..., r3[4 + c]), each
// row's two tiles in turn. The halves of x are r0 | r2, and so on, so that
// WG(transpose_halves) gives the quads in order.
static inline void WG(quads_rows)(const float *r0, const float *r1, const float *r2, const float *r3, wg_f8 q[4]) {
    wg_f8 r[4];
    memcpy(&r[0], r0, sizeof r[0]);
    memcpy(&r[1], r1, sizeof r[1]);
    memcpy(&r[2], r2, sizeof r[2]);
    memcpy(&r[3], r3, sizeof r[3]);
    const wg_f8 x[4] = {
        __builtin_shufflevector(r[0], r[2], 0, 1, 2, 3, 8, 9, 10, 11),
        __builtin_shufflevector(r[0], r[2], 4, 5, 6, 7, 12, 13, 14, 15),
        __builtin_shufflevector(r[1], r[3], 0, 1, 2, 3, 8, 9, 10, 11),
        __builtin_shufflevector(r[1], r[3], 4, 5, 6, 7, 12, 13, 14, 15),
    };
    WG(transpose_halves)(x, q);
}

// The rows of 8 floats of 4 samples, `stride` apart (the group's tile
// order: each sample's two tiles in turn).
static inline void WG(quads8x4)(const float *row, int64_t stride, wg_f8 q[4]) {
    WG(quads_rows)(row, row + stride, row + 2 * stride, row + 3 * stride, q);
}

static inline void WG(store8)(float *p, wg_f8 v) { memcpy(p, &v, sizeof v); }
#endif

// Rows whose tiles fill whole blocks of 16 floats though the row does not
// (W % 16 of 13 to 15: a 14x14 plane's rows are 4 tiles, 16 floats of the
// padded plane) are read through a copy padded with zeros to the block,
// WG(load_padded), so that they take the paths of whole blocks instead of
// one float at a time. Returns that padded width, or 0 for the other rows
// (and for rows longer than WG_PAD_MAX, the copy's size).
#define WG_PAD_MAX STRATA_WINOGRAD_PADDED_ROW_MAX
static inline int64_t WG(padded_width)(int64_t W) {
    const int64_t W16 = (W + 15) / 16 * 16;
    return W % 16 != 0 && (W + 3) / 4 * 4 == W16 && W16 <= WG_PAD_MAX ? W16 : 0;
}

// buf[0..<W16] = the row of W floats, then zeros (W16 = WG(padded_width)).
static inline void WG(load_padded)(const float *restrict row, int64_t W, float *restrict buf) {
    int64_t k = 0;
    for (; k + 16 <= W; k += 16) memcpy(buf + k, row + k, 16 * sizeof(float));
#if WG_VW == 16
    const __mmask16 mask = (__mmask16)((1u << (W - k)) - 1);
    _mm512_storeu_ps(buf + k, _mm512_maskz_loadu_ps(mask, row + k));
#else
    for (int64_t i = 0; i < 16; i++) buf[k + i] = k + i < W ? row[k + i] : 0;
#endif
}

// A row's floats 4 apart: q_r[j] = row[4j + r] for r < 4 and j < ceil(W/4),
// zero past the row's end. Whole blocks of 16 floats by a 4x4 transpose
// (a padded copy first for the rows WG(padded_width) takes), the rest one
// float at a time.
static inline void WG(quads)(const float *restrict row, int64_t W, float *restrict q0, float *restrict q1,
                             float *restrict q2, float *restrict q3) {
    float padded[WG_PAD_MAX] __attribute__((aligned(64)));
    const int64_t W16 = WG(padded_width)(W);
    if (W16) {
        WG(load_padded)(row, W, padded);
        row = padded;
        W = W16;
    }
    const int64_t blocks = W / 16, tw = (W + 3) / 4;
    int64_t k = 0;
#if WG_VW == 16
    for (; k + 2 <= blocks; k += 2) {
        WG_VEC a, b;
        WG(quads32)(WG(load)(row + 16 * k), WG(load)(row + 16 * k + 16), &a, &b);
        WG(store8)(q0 + 4 * k, a.lo);
        WG(store8)(q1 + 4 * k, a.hi);
        WG(store8)(q2 + 4 * k, b.lo);
        WG(store8)(q3 + 4 * k, b.hi);
    }
#endif
    // A last block of 16 (or all, below AVX-512): the 4x4 transpose (one
    // 16-wide shuffle and four 4-float stores measured 19% slower on
    // 16-wide gradient planes).
    for (; k < blocks; k++) {
        wg_f4 first, last;
        WG(quad_block)(row + 16 * k, q0 + 4 * k, q1 + 4 * k, q2 + 4 * k, q3 + 4 * k, &first, &last);
    }
    for (int64_t j = 4 * blocks; j < tw; j++) {
        q0[j] = row[4 * j];
        q1[j] = 4 * j + 1 < W ? row[4 * j + 1] : 0;
        q2[j] = 4 * j + 2 < W ? row[4 * j + 2] : 0;
        q3[j] = 4 * j + 3 < W ? row[4 * j + 3] : 0;
    }
}

// The padded plane split by row modulo 4 and column offset: for padded row
// y = 4i + r (r < 4, i <= th) and b < 6, S[r][b][i][j] = P[y][4j + b], so
// d[a][b] of tile t is S[a%4][b][t + (a/4)*tw], one contiguous run over
// all the plane's tiles. S holds 24 * (th + 1) * tw floats
// (strata_winograd_scratch). The rows from P's zero border (y = 0 and
// y > H) are the same for every plane: zeroed once per call, here.
static inline void WG(split_border4)(int64_t H, int64_t W, int64_t group, float *S) {
    const int64_t th = (H + 3) / 4, L = group * ((W + 3) / 4), n = (th + 1) * L;
    for (int64_t y = 0; y < 4 * th + 2; y++) {
        if (y >= 1 && y <= H) continue;
        float *s = S + (y & 3) * 6 * n + (y >> 2) * L;
        for (int b = 0; b < 6; b++) memset(s + b * n, 0, (size_t)L * sizeof(float));
    }
}

#if WG_VW == 16
// One row of a group of 4 planes 8 wide (WG(split4)): the quads as for a
// 32-float row; s0 and s5 take a zero at each sample's own border (s0 at
// its first tile, s5 at its second).
static inline void WG(split_row8x4)(const float *row, int64_t stride, float *s, int64_t n) {
    WG_VEC lo, hi, a, b;
    WG(rows8x4)(row, stride, &lo, &hi);
    WG(quads32)(lo, hi, &a, &b);
    const WG_VEC c = __builtin_shufflevector(lo, hi, 0, 3, 0, 11, 0, 19, 0, 27, 4, 0, 12, 0, 20, 0, 28, 0);
    const WG_VEC z = __builtin_shufflevector(c, (WG_VEC)0, 16, 1, 16, 3, 16, 5, 16, 7, 8, 16, 10, 16, 12, 16, 14, 16);
    WG(store8)(s, z.lo);
    WG(store8)(s + n, a.lo);
    WG(store8)(s + 2 * n, a.hi);
    WG(store8)(s + 3 * n, b.lo);
    WG(store8)(s + 4 * n, b.hi);
    WG(store8)(s + 5 * n, z.hi);
}
#elif WG_VW == 8
// The same with AVX2: s0 = (0, q3[0], 0, q3[2], ...), s5 = (q0[1], 0,
// q0[3], 0, ...).
static inline void WG(split_row8x4)(const float *row, int64_t stride, float *s, int64_t n) {
    wg_f8 q[4];
    WG(quads8x4)(row, stride, q);
    for (int c = 0; c < 4; c++) WG(store8)(s + (c + 1) * n, q[c]);
    WG(store8)(s, __builtin_shufflevector(q[3], (wg_f8)0, 8, 0, 8, 2, 8, 4, 8, 6));
    WG(store8)(s + 5 * n, __builtin_shufflevector(q[0], (wg_f8)0, 1, 8, 3, 8, 5, 8, 7, 8));
}
#endif

// One row of a plane of width W (a multiple of 16) split by WG(split4):
// s1..s4 = the row's quads, s0 = quad 3 moved right by one (a zero first),
// s5 = quad 0 moved left by one (a zero last), carried between blocks
// of 16 floats instead of copied afterwards.
static inline void WG(split_row16)(const float *restrict row, int64_t W, float *restrict s0, float *restrict s1,
                                   float *restrict s2, float *restrict s3, float *restrict s4, float *restrict s5) {
#if WG_VW == 16
    // s0 | s5 from the same two registers (their ends, which come from the
    // neighbouring blocks or the zero border, set one float at a time).
    int64_t k = 0;
    for (; k + 32 <= W; k += 32) {
        WG_VEC a, b;
        const WG_VEC lo = WG(load)(row + k), hi = WG(load)(row + k + 16);
        WG(quads32)(lo, hi, &a, &b);
        const WG_VEC c = __builtin_shufflevector(lo, hi, 3, 3, 7, 11, 15, 19, 23, 27, 4, 8, 12, 16, 20, 24, 28, 28);
        const int64_t j = k / 4;
        WG(store8)(s1 + j, a.lo);
        WG(store8)(s2 + j, a.hi);
        WG(store8)(s3 + j, b.lo);
        WG(store8)(s4 + j, b.hi);
        WG(store8)(s0 + j, c.lo);
        WG(store8)(s5 + j, c.hi);
        s0[j] = k > 0 ? row[k - 1] : 0;
        s5[j + 7] = k + 32 < W ? row[k + 32] : 0;
    }
    if (k < W) {  // a last block of 16: the 4x4 transpose, as in WG(quads)
        const int64_t j = k / 4;
        wg_f4 q0, q3, prev0 = (wg_f4)0, prev3 = (wg_f4)0;
        WG(quad_block)(row + k, s1 + j, s2 + j, s3 + j, s4 + j, &q0, &q3);
        WG(shift_pieces)(0, q3, &prev3, s0 + j, q0, &prev0, s5 + j);
        WG(shift_finish)(1, prev0, s5 + j);
        s0[j] = k > 0 ? row[k - 1] : 0;
    }
#else
    wg_f4 prev0 = (wg_f4)0, prev3 = (wg_f4)0;
    for (int64_t k = 0; k < W / 16; k++) {
        wg_f4 q0, q3;
        WG(quad_block)(row + 16 * k, s1 + 4 * k, s2 + 4 * k, s3 + 4 * k, s4 + 4 * k, &q0, &q3);
        WG(shift_pieces)(k, q3, &prev3, s0, q0, &prev0, s5);
    }
    WG(shift_finish)(W / 16, prev0, s5);
#endif
}

#if WG_VW == 8
// AVX2: one row of a plane whose width is a multiple of 32, split by
// WG(split4) 32 floats at a time: the row's four runs of 8 taken as
// WG(quads8x4)'s four rows (each run holds two tiles), s0 and s5 the
// quads 3 and 0 moved by one float across the runs (six stores of 8
// floats where two blocks of 16 take twelve stores of 4).
static inline __attribute__((always_inline)) void WG(split_row32)(const float *restrict row, int64_t W,
                                                                  float *restrict s, int64_t n) {
    for (int64_t k = 0; k < W; k += 32) {
        wg_f8 q[4];
        WG(quads8x4)(row + k, 8, q);
        const int64_t j = k / 4;
        for (int c = 0; c < 4; c++) WG(store8)(s + (c + 1) * n + j, q[c]);
        const float before = k > 0 ? row[k - 1] : 0, after = k + 32 < W ? row[k + 32] : 0;
        WG(store8)(s + j, __builtin_shufflevector(q[3], (wg_f8)before, 8, 0, 1, 2, 3, 4, 5, 6));
        WG(store8)(s + 5 * n + j, __builtin_shufflevector(q[0], (wg_f8)after, 1, 2, 3, 4, 5, 6, 7, 8));
    }
}

// AVX2: rows y and y + 4 of a plane 16 wide (`a` and `b`), split together:
// their S rows are neighbours (4 tiles each), so the two rows' four runs of
// 8 go through WG(quads_rows) as one row of 32, s0 and s5 moved by one
// float within each row's 4 tiles (zeros at the plane's border).
static inline __attribute__((always_inline)) void WG(split_rows16x2)(const float *restrict a, const float *restrict b,
                                                                     float *restrict s, int64_t n) {
    wg_f8 q[4];
    WG(quads_rows)(a, a + 8, b, b + 8, q);
    for (int c = 0; c < 4; c++) WG(store8)(s + (c + 1) * n, q[c]);
    WG(store8)(s, __builtin_shufflevector(q[3], (wg_f8)0, 8, 0, 1, 2, 8, 4, 5, 6));
    WG(store8)(s + 5 * n, __builtin_shufflevector(q[0], (wg_f8)0, 1, 2, 3, 8, 5, 6, 7, 8));
}
#endif

// The planes of `group` samples (`stride` floats apart) into S, each
// sample's tiles at its own offset g*tw of every row of tiles.
static inline void WG(split4)(const float *plane, int64_t stride, int64_t group, int64_t H, int64_t W, float *S) {
    const int64_t th = (H + 3) / 4, tw = (W + 3) / 4, L = group * tw, n = (th + 1) * L;
#if WG_VW == 8
    if (group == 1 && W % 32 == 0) {  // a loop of its own: no per-row choice of path
        for (int64_t y = 1; y <= H; y++) WG(split_row32)(plane + (y - 1) * W, W, S + (y & 3) * 6 * n + (y >> 2) * L, n);
        return;
    }
    if (group == 1 && W == 16) {  // rows y and y + 4 in pairs, a last row of a class alone
        for (int64_t r = 0; r < 4; r++) {
            int64_t y = r == 0 ? 4 : r;
            for (; y + 4 <= H; y += 8)
                WG(split_rows16x2)(plane + (y - 1) * W, plane + (y + 3) * W, S + r * 6 * n + (y >> 2) * L, n);
            if (y <= H) {
                float *t = S + r * 6 * n + (y >> 2) * L;
                WG(split_row16)(plane + (y - 1) * W, W, t, t + n, t + 2 * n, t + 3 * n, t + 4 * n, t + 5 * n);
            }
        }
        return;
    }
#endif
    const int64_t W16 = WG(padded_width)(W);
    float padded[WG_PAD_MAX] __attribute__((aligned(64)));
    for (int64_t y = 1; y <= H; y++) {
        float *s = S + (y & 3) * 6 * n + (y >> 2) * L;
#if WG_VW >= 8
        if (group == 4 && W == 8) {
            WG(split_row8x4)(plane + (y - 1) * W, stride, s, n);
            continue;
        }
#endif
        // One sample (the planes 16 or more wide): no loop over the group.
        // The split is not inlined into the transforms' copies for one
        // sample, and with the loop clang compiled it 40% slower.
        if (group == 1 && W % 16 == 0) {
            WG(split_row16)(plane + (y - 1) * W, W, s, s + n, s + 2 * n, s + 3 * n, s + 4 * n, s + 5 * n);
            continue;
        }
        if (group == 1 && W16) {
            WG(load_padded)(plane + (y - 1) * W, W, padded);
            WG(split_row16)(padded, W16, s, s + n, s + 2 * n, s + 3 * n, s + 4 * n, s + 5 * n);
            continue;
        }
        for (int64_t g = 0; g < group; g++) {
            float *sg = s + g * tw;
            float *restrict s0 = sg, *restrict s1 = sg + n, *restrict s4 = sg + 4 * n, *restrict s5 = sg + 5 * n;
            const float *row = plane + g * stride + (y - 1) * W;
            if (W % 16 == 0) {
                WG(split_row16)(row, W, s0, s1, sg + 2 * n, sg + 3 * n, s4, s5);
                continue;
            }
            // P[y][4j + b] = row[4j + b - 1]: b = 1..4 are the row's quads;
            // b = 0 is quad 3 moved right by one, b = 5 quad 0 moved left by one.
            WG(quads)(row, W, s1, sg + 2 * n, sg + 3 * n, s4);
            s0[0] = 0;
            for (int64_t j = 1; j < tw; j++) s0[j] = s4[j - 1];
            for (int64_t j = 0; j + 1 < tw; j++) s5[j] = s1[j + 1];
            s5[tw - 1] = 0;
        }
    }
}

// r = B^T d for one column of 6, B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0;
// 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1].
static inline void WG(bt6)(const float *d, float *r) {
    const float t0 = d[4] - 4 * d[2], t1 = d[3] - 4 * d[1], t2 = d[4] - d[2], t3 = 2 * (d[3] - d[1]);
    r[0] = 4 * d[0] - 5 * d[2] + d[4];
    r[1] = t0 + t1;
    r[2] = t0 - t1;
    r[3] = t2 + t3;
    r[4] = t2 - t3;
    r[5] = 4 * d[1] - 5 * d[3] + d[5];
}

// y = A^T m for one column of 6, A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0;
// 0 1 1 4 4 0; 0 1 -1 8 -8 1].
static inline void WG(at6)(const float *m, float *y) {
    const float a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
    y[0] = m[0] + a + c;
    y[1] = b + 2 * d;
    y[2] = a + 4 * c;
    y[3] = b + 8 * d + m[5];
}

// e = A g for one column of 4 (A = (A^T)^T, 6 x 4).
static inline void WG(a4)(const float *g, float *e) {
    const float p = g[0] + g[2], q = g[1] + g[3], p2 = g[0] + 4 * g[2], q2 = 2 * g[1] + 8 * g[3];
    e[0] = g[0];
    e[1] = p + q;
    e[2] = p - q;
    e[3] = p2 + q2;
    e[4] = p2 - q2;
    e[5] = g[3];
}

// V[p][c][n0 + t] = (B^T d B)[p] for every tile t of a group of `group`
// samples' C planes (36 positions, tiles in the group's order); V holds
// `rows` >= C rows a position.
static inline __attribute__((always_inline)) void WG(input4_body)(const float *x, int64_t C, int64_t rows, int64_t H,
                                                                  int64_t W, int64_t group, float *V, int64_t nPad,
                                                                  int64_t n0, float *scratch) {
    const int64_t th = (H + 3) / 4, L = group * ((W + 3) / 4), T = th * L, n = (th + 1) * L;
    const int64_t ps = WG_STRIDE(rows * nPad);
    float *S = scratch;
    WG(split_border4)(H, W, group, S);
    for (int64_t c = 0; c < C; c++) {
        if (c + 1 < C && WG(prefetches)(H, W, group)) WG(prefetch)(x + (c + 1) * H * W, H * W);
        WG(split4)(x + c * H * W, C * H * W, group, H, W, S);
        float *restrict v = V + c * nPad + n0;
        const float *restrict s = S;
#pragma clang loop vectorize(assume_safety)
        for (int64_t t = 0; t < T; t++) {
            // Columns: bd[b] = B^T (column b of the patch), so bd[b][i] = (B^T d)[i][b].
            float bd[6][6];
            WG4_UNROLL for (int b = 0; b < 6; b++) {
                float col[6];
                WG4_UNROLL for (int a = 0; a < 6; a++) col[a] = s[((a & 3) * 6 + b) * n + (a >> 2) * L + t];
                WG(bt6)(col, bd[b]);
            }
            // Rows: v[i][.] = (B^T d)[i][.] B.
            WG4_UNROLL for (int i = 0; i < 6; i++) {
                const float row[6] = {bd[0][i], bd[1][i], bd[2][i], bd[3][i], bd[4][i], bd[5][i]};
                float vi[6];
                WG(bt6)(row, vi);
                WG4_UNROLL for (int j = 0; j < 6; j++) v[(i * 6 + j) * ps + t] = vi[j];
            }
        }
    }
}

__attribute__((noinline)) static void WG(input4)(const float *x, int64_t C, int64_t rows, int64_t H, int64_t W,
                                                 int64_t group, float *V, int64_t nPad, int64_t n0, float *scratch) {
    if (group == 1) WG(input4_body)(x, C, rows, H, W, 1, V, nPad, n0, scratch);
    else WG(input4_body)(x, C, rows, H, W, group, V, nPad, n0, scratch);
}

// Block k of 16 output floats of a row: the 4 floats at 4k of each y_c,
// transposed, so that a..d are its floats 0-3, 4-7, 8-11 and 12-15.
static inline void WG(unquad_block)(const float *restrict y0, const float *restrict y1, const float *restrict y2,
                                    const float *restrict y3, int64_t k, wg_f4 *a, wg_f4 *b, wg_f4 *c, wg_f4 *d) {
    memcpy(a, y0 + 4 * k, sizeof *a);
    memcpy(b, y1 + 4 * k, sizeof *b);
    memcpy(c, y2 + 4 * k, sizeof *c);
    memcpy(d, y3 + 4 * k, sizeof *d);
    WG(transpose4)(a, b, c, d);
}

// Y[r][c] (4 floats of `dst` a tile row) written or added into one plane
// row: dst[4j + c] = y_c[j] for 4j + c < W.
static inline void WG(unquads)(const float *restrict y0, const float *restrict y1, const float *restrict y2,
                               const float *restrict y3, int64_t W, float *restrict dst, int accumulate) {
    const int64_t blocks = W / 16, tw = (W + 3) / 4;
    for (int64_t k = 0; k < blocks; k++) {
        wg_f4 a, b, c, d;
        WG(unquad_block)(y0, y1, y2, y3, k, &a, &b, &c, &d);
        const wg_f4 rows[4] = {a, b, c, d};
        for (int i = 0; i < 4; i++) {
            wg_f4 v = rows[i];
            if (accumulate) {
                wg_f4 old;
                memcpy(&old, dst + 16 * k + 4 * i, sizeof old);
                v += old;
            }
            memcpy(dst + 16 * k + 4 * i, &v, sizeof v);
        }
    }
#if WG_VW == 16
    if (WG(padded_width)(W)) {  // the last block, partly past the row's end: a masked store
        const int64_t k = blocks;
        wg_f4 a, b, c, d;
        WG(unquad_block)(y0, y1, y2, y3, k, &a, &b, &c, &d);
        const wg_f8 ab = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7);
        const wg_f8 cd = __builtin_shufflevector(c, d, 0, 1, 2, 3, 4, 5, 6, 7);
        WG_VEC v = __builtin_shufflevector(ab, cd, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const __mmask16 mask = (__mmask16)((1u << (W - 16 * k)) - 1);
        if (accumulate) v += (WG_VEC)_mm512_maskz_loadu_ps(mask, dst + 16 * k);
        _mm512_mask_storeu_ps(dst + 16 * k, mask, (__m512)v);
        return;
    }
#endif
    for (int64_t j = 4 * blocks; j < tw; j++) {
        const float y[4] = {y0[j], y1[j], y2[j], y3[j]};
        for (int c = 0; c < 4 && 4 * j + c < W; c++) dst[4 * j + c] = accumulate ? dst[4 * j + c] + y[c] : y[c];
    }
}

#if WG_VW >= 8
// The inverse of the quads of four rows of 8 floats (WG(quads_rows)): y_c
// holds the 2 tiles of each row in turn; row g goes to d_g (written, or
// added to with `accumulate`).
static inline void WG(unquads_rows)(const float *y0, const float *y1, const float *y2, const float *y3, float *d0,
                                    float *d1, float *d2, float *d3, int accumulate) {
    wg_f8 r[4];
    memcpy(&r[0], y0, sizeof r[0]);
    memcpy(&r[1], y1, sizeof r[1]);
    memcpy(&r[2], y2, sizeof r[2]);
    memcpy(&r[3], y3, sizeof r[3]);
#if WG_VW == 8
    // AVX2: half 0 of the transpose's rows is samples 0 and 1, half 1
    // samples 2 and 3, each sample's row in two rows of the transpose.
    wg_f8 z[4];
    WG(transpose_halves)(r, z);
    const wg_f8 rows[4] = {
        __builtin_shufflevector(z[0], z[1], 0, 1, 2, 3, 8, 9, 10, 11),
        __builtin_shufflevector(z[2], z[3], 0, 1, 2, 3, 8, 9, 10, 11),
        __builtin_shufflevector(z[0], z[1], 4, 5, 6, 7, 12, 13, 14, 15),
        __builtin_shufflevector(z[2], z[3], 4, 5, 6, 7, 12, 13, 14, 15),
    };
#else
    const WG_VEC ab = __builtin_shufflevector(r[0], r[1], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const WG_VEC cd = __builtin_shufflevector(r[2], r[3], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const WG_VEC lo = __builtin_shufflevector(ab, cd, 0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27);
    const WG_VEC hi = __builtin_shufflevector(ab, cd, 4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31);
    const wg_f8 rows[4] = {lo.lo, lo.hi, hi.lo, hi.hi};
#endif
    float *const d[4] = {d0, d1, d2, d3};
    for (int g = 0; g < 4; g++) {
        wg_f8 v = rows[g];
        if (accumulate) {
            wg_f8 old;
            memcpy(&old, d[g], sizeof old);
            v += old;
        }
        WG(store8)(d[g], v);
    }
}

// WG(unquads) for a group of 4 planes 8 wide: y_c holds the 2 tiles of each
// sample in turn; sample g's row goes to dst + g*stride.
static inline void WG(unquads8x4)(const float *y0, const float *y1, const float *y2, const float *y3,
                                  float *dst, int64_t stride, int accumulate) {
    WG(unquads_rows)(y0, y1, y2, y3, dst, dst + stride, dst + 2 * stride, dst + 3 * stride, accumulate);
}
#endif

#if WG_VW == 8
// AVX2, one sample's plane 16 wide or a multiple of 32 wide, whole rows
// of 8 floats by shuffles of 8 (the 4x4 transposes of WG(quads) and
// WG(unquads) store 4 floats at a time, and their per-row choices of path
// cost more than the shuffles on rows of 16 and 32). A plane 16 wide
// takes rows y and y + 4 together: their tiles are neighbours in the
// transforms' layouts (4 tiles a row of tiles), so the pair is a row of 32
// (a last row of its class alone, by the 4-float path). Returns 0 for
// other widths. Tile layout of G and Y: row y's quad c (float 4j + c of
// the row, tile j) at (y & 3) * 4 * T + c * T + (y >> 2) * L + j.
static inline int WG(quads_plane)(const float *plane, int64_t H, int64_t W, float *G, int64_t T, int64_t L) {
    wg_f8 q[4];
    if (W % 32 == 0) {
        for (int64_t y = 0; y < H; y++) {
            float *g = G + (y & 3) * 4 * T + (y >> 2) * L;
            for (int64_t k = 0; k < W; k += 32) {
                WG(quads8x4)(plane + y * W + k, 8, q);
                for (int c = 0; c < 4; c++) WG(store8)(g + c * T + k / 4, q[c]);
            }
        }
        return 1;
    }
    if (W != 16) return 0;
    for (int64_t r = 0; r < 4; r++) {
        int64_t y = r;
        for (; y + 4 < H; y += 8) {
            const float *a = plane + y * W, *b = a + 4 * W;
            float *g = G + r * 4 * T + (y >> 2) * L;
            WG(quads_rows)(a, a + 8, b, b + 8, q);
            for (int c = 0; c < 4; c++) WG(store8)(g + c * T, q[c]);
        }
        if (y < H) {
            float *g = G + r * 4 * T + (y >> 2) * L;
            WG(quads)(plane + y * W, W, g, g + T, g + 2 * T, g + 3 * T);
        }
    }
    return 1;
}

// The inverse, for the output transform: Y's rows into the plane (written,
// or added to with `accumulate`); same widths and layout.
static inline int WG(unquads_plane)(const float *Y, int64_t H, int64_t W, float *plane, int64_t T, int64_t L,
                                    int accumulate) {
    if (W % 32 == 0) {
        for (int64_t y = 0; y < H; y++) {
            const float *yr = Y + (y & 3) * 4 * T + (y >> 2) * L;
            for (int64_t k = 0; k < W; k += 32)
                WG(unquads8x4)(yr + k / 4, yr + T + k / 4, yr + 2 * T + k / 4, yr + 3 * T + k / 4, plane + y * W + k, 8,
                               accumulate);
        }
        return 1;
    }
    if (W != 16) return 0;
    for (int64_t r = 0; r < 4; r++) {
        int64_t y = r;
        for (; y + 4 < H; y += 8) {
            const float *yr = Y + r * 4 * T + (y >> 2) * L;
            float *a = plane + y * W, *b = a + 4 * W;
            WG(unquads_rows)(yr, yr + T, yr + 2 * T, yr + 3 * T, a, a + 8, b, b + 8, accumulate);
        }
        if (y < H) {
            const float *yr = Y + r * 4 * T + (y >> 2) * L;
            WG(unquads)(yr, yr + T, yr + 2 * T, yr + 3 * T, W, plane + y * W, accumulate);
        }
    }
    return 1;
}
#endif

// out[o] (=, or += when `accumulate`) A^T m A (+ bias[o] when `bias` is not
// null) for every tile of a group of
// `group` samples (`stride` floats apart in out): the 4x4 outputs of all
// the group's tiles into Y[r][c][t] (16 * T floats of `scratch`), then
// interleaved into the planes' rows.
static inline __attribute__((always_inline)) void WG(output4_body)(const float *M, int64_t mPad, int64_t nPad,
                                                                   int64_t n0, int64_t O, int64_t H, int64_t W,
                                                                   int64_t group, float *out, int64_t stride,
                                                                   const float *bias, int accumulate,
                                                                   float *scratch) {
    const int64_t th = (H + 3) / 4, tw = (W + 3) / 4, L = group * tw, T = th * L;
    const int64_t ps = WG_STRIDE(mPad * nPad);
    float *restrict Y = scratch;
    for (int64_t o = 0; o < O; o++) {
        const float *restrict m = M + o * nPad + n0;
        const float bo = bias ? bias[o] : 0;
#pragma clang loop vectorize(assume_safety)
        for (int64_t t = 0; t < T; t++) {
            // Columns: s = A^T m (4 x 6), then rows: y = s A (4 x 4).
            float s[6][4];
            WG4_UNROLL for (int k = 0; k < 6; k++) {
                float col[6];
                WG4_UNROLL for (int i = 0; i < 6; i++) col[i] = m[(i * 6 + k) * ps + t];
                WG(at6)(col, s[k]);  // s[k][r] = (A^T m)[r][k]
            }
            WG4_UNROLL for (int r = 0; r < 4; r++) {
                const float row[6] = {s[0][r], s[1][r], s[2][r], s[3][r], s[4][r], s[5][r]};
                float y[4];
                WG(at6)(row, y);
                WG4_UNROLL for (int c = 0; c < 4; c++) Y[(r * 4 + c) * T + t] = y[c] + bo;
            }
        }
        float *plane = out + o * H * W;
#if WG_VW == 8
        if (group == 1 && WG(unquads_plane)(Y, H, W, plane, T, L, accumulate)) continue;
#endif
        for (int64_t y = 0; y < H; y++) {
            const float *yr = Y + (y & 3) * 4 * T + (y >> 2) * L;
#if WG_VW >= 8
            if (group == 4 && W == 8) {
                WG(unquads8x4)(yr, yr + T, yr + 2 * T, yr + 3 * T, plane + y * W, stride, accumulate);
                continue;
            }
#endif
            for (int64_t g = 0; g < group; g++) {
                const float *yg = yr + g * tw;
                WG(unquads)(yg, yg + T, yg + 2 * T, yg + 3 * T, W, plane + g * stride + y * W, accumulate);
            }
        }
    }
}

__attribute__((noinline)) static void WG(output4)(const float *M, int64_t mPad, int64_t nPad, int64_t n0, int64_t O,
                                                  int64_t H, int64_t W, int64_t group, float *out, int64_t stride,
                                                  const float *bias, int accumulate, float *scratch) {
    if (group == 1) WG(output4_body)(M, mPad, nPad, n0, O, H, W, 1, out, stride, bias, accumulate, scratch);
    else WG(output4_body)(M, mPad, nPad, n0, O, H, W, group, out, stride, bias, accumulate, scratch);
}

// D[p][o][n0 + t] = (A dY A^T)[p] for every 4x4 tile dY of a group of
// `group` samples' O output-gradient planes (zero outside the plane, tiles
// in the group's order); D holds `rows` >= O rows a position. Each plane
// is first split into G[r][c][t] = dY[4ty + r][4tx + c] (16 * T floats of
// `scratch`).
static inline __attribute__((always_inline)) void WG(gradient4_body)(const float *dy, int64_t O, int64_t rows,
                                                                     int64_t H, int64_t W, int64_t group, float *D,
                                                                     int64_t nPad, int64_t n0, float *scratch) {
    const int64_t th = (H + 3) / 4, tw = (W + 3) / 4, L = group * tw, T = th * L;
    const int64_t ps = WG_STRIDE(rows * nPad);
    float *restrict G = scratch;
    // Rows of the last row of tiles below the plane: zero for every plane.
    for (int64_t y = H; y < 4 * th; y++)
        for (int c = 0; c < 4; c++) memset(G + ((y & 3) * 4 + c) * T + (th - 1) * L, 0, (size_t)L * sizeof(float));
    for (int64_t o = 0; o < O; o++) {
        const float *plane = dy + o * H * W;
        if (o + 1 < O && WG(prefetches)(H, W, group)) WG(prefetch)(plane + H * W, H * W);
#if WG_VW == 8
        const int split = group == 1 && WG(quads_plane)(plane, H, W, G, T, L);
#else
        const int split = 0;
#endif
        for (int64_t y = 0; y < H && !split; y++) {
            float *g = G + (y & 3) * 4 * T + (y >> 2) * L;
#if WG_VW >= 8
            if (group == 4 && W == 8) {
                wg_f8 q[4];
                WG(quads8x4)(plane + y * W, O * H * W, q);
                for (int c = 0; c < 4; c++) WG(store8)(g + c * T, q[c]);
                continue;
            }
#endif
            for (int64_t k = 0; k < group; k++)
                WG(quads)(plane + k * O * H * W + y * W, W, g + k * tw, g + T + k * tw, g + 2 * T + k * tw,
                          g + 3 * T + k * tw);
        }
        float *restrict d = D + o * nPad + n0;
        const float *restrict gs = G;
#pragma clang loop vectorize(assume_safety)
        for (int64_t t = 0; t < T; t++) {
            // Columns: e = A dY (6 x 4), then rows: e A^T (6 x 6).
            float e[4][6];
            WG4_UNROLL for (int c = 0; c < 4; c++) {
                const float col[4] = {gs[c * T + t], gs[(4 + c) * T + t], gs[(8 + c) * T + t], gs[(12 + c) * T + t]};
                WG(a4)(col, e[c]);  // e[c][i] = (A dY)[i][c]
            }
            WG4_UNROLL for (int i = 0; i < 6; i++) {
                const float row[4] = {e[0][i], e[1][i], e[2][i], e[3][i]};
                float f[6];
                WG(a4)(row, f);
                WG4_UNROLL for (int j = 0; j < 6; j++) d[(i * 6 + j) * ps + t] = f[j];
            }
        }
    }
}

__attribute__((noinline)) static void WG(gradient4)(const float *dy, int64_t O, int64_t rows, int64_t H, int64_t W,
                                                    int64_t group, float *D, int64_t nPad, int64_t n0,
                                                    float *scratch) {
    if (group == 1) WG(gradient4_body)(dy, O, rows, H, W, 1, D, nPad, n0, scratch);
    else WG(gradient4_body)(dy, O, rows, H, W, group, D, nPad, n0, scratch);
}

#undef WG4_UNROLL
