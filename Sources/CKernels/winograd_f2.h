// One instruction set's variant of the F(2x2, 3x3) transforms (4x4 input
// patches, 2x2 output tiles, 16 positions). Included by winograd_impl.h.

// One row of a plane of width W (a multiple of 8) split by WG(split2):
// s1 = row[0::2], s2 = row[1::2], s0 = s2 moved right by one (a zero
// first), s3 = s1 moved left by one (a zero last), in 4-float pieces
// whatever the variant, so that rows of 8 and 16 need no scalar tail.
static inline void WG(split_row8)(const float *restrict row, int64_t W, float *restrict s0, float *restrict s1,
                                  float *restrict s2, float *restrict s3) {
    wg_f4 prevOdd = (wg_f4)0, prevEven = (wg_f4)0;
    for (int64_t q = 0; q < W / 8; q++) {
        wg_f4 lo, hi;
        memcpy(&lo, row + 8 * q, sizeof lo);
        memcpy(&hi, row + 8 * q + 4, sizeof hi);
        const wg_f4 even = __builtin_shufflevector(lo, hi, 0, 2, 4, 6);
        const wg_f4 odd = __builtin_shufflevector(lo, hi, 1, 3, 5, 7);
        memcpy(s1 + 4 * q, &even, sizeof even);
        memcpy(s2 + 4 * q, &odd, sizeof odd);
        WG(shift_pieces)(q, odd, &prevOdd, s0, even, &prevEven, s3);
    }
    WG(shift_finish)(W / 8, prevEven, s3);
}

// The plane's rows with a zero border, split by parity: for padded row
// y = 2i + a (0 <= y < 2*th + 2) and b = 0..3, S[a][b][i][j] = P[y][2j + b],
// where P is the plane with one zero row and column before it and zeros
// after it. Then the 4x4 patch of tile t = ty*tw + tx has d[a][b] =
// S[a%2][b][t + (a/2)*tw], so each of the 16 inputs of all the plane's
// tiles is one contiguous run: the transforms run over every tile of the
// plane at full vector width (a plane of 8 x 8 is 16 tiles), not over one
// row of tiles. S holds 8 * (th + 1) * tw floats. The rows are read
// straight from the plane (a copy into a padded row first would make the
// strided reads wait on the copy's stores).
// The rows of S that come from P's zero border (y = 0 and y > H): the
// same for every plane, so zeroed once per call, before WG(split2).
static inline void WG(split_border2)(int64_t H, int64_t W, float *S) {
    const int64_t th = (H + 1) / 2, tw = (W + 1) / 2, n = (th + 1) * tw;
    for (int64_t y = 0; y < 2 * th + 2; y++) {
        if (y >= 1 && y <= H) continue;
        float *s0 = S + ((y & 1) * 4) * n + (y >> 1) * tw;
        for (int b = 0; b < 4; b++) memset(s0 + b * n, 0, (size_t)tw * sizeof(float));
    }
}

static inline void WG(split2)(const float *plane, int64_t H, int64_t W, float *S) {
    const int64_t th = (H + 1) / 2, tw = (W + 1) / 2, n = (th + 1) * tw, half = W / 2;
    for (int64_t y = 1; y <= H; y++) {
        const int64_t a = y & 1, i = y >> 1;
        float *restrict s0 = S + (a * 4) * n + i * tw, *restrict s1 = s0 + n, *restrict s2 = s1 + n,
                        *restrict s3 = s2 + n;
        // P[y][2j + b] = row[2j + b - 1].
        const float *restrict row = plane + (y - 1) * W;
        if (W % 8 == 0) {
            WG(split_row8)(row, W, s0, s1, s2, s3);
            continue;
        }
        // Other widths: pairs of neighbours from the row's start (s1, s2),
        // then from its second element (s0 moved by one, s3).
        WG(pairs)(row, half, s1, s2);
        if (half < tw) {
            s1[tw - 1] = row[W - 1];
            s2[tw - 1] = 0;
        }
        WG(pairs)(row + 1, tw - 1, s0 + 1, s3);
        s0[0] = 0;
        s3[tw - 1] = 0;
    }
}

// V[p][c][n0 + t] = (B^T d B)[p] for every tile t of one sample's C planes;
// V holds `rows` >= C rows a position. `scratch`: strata_winograd_scratch.
__attribute__((noinline)) static void WG(input2)(const float *x, int64_t C, int64_t rows, int64_t H, int64_t W,
                                                float *V, int64_t nPad, int64_t n0, float *scratch) {
    const int64_t th = (H + 1) / 2, tw = (W + 1) / 2, T = th * tw, n = (th + 1) * tw;
    const int64_t ps = WG_STRIDE(rows * nPad);  // distance between two positions of V
    float *S = scratch;
    WG(split_border2)(H, W, S);
    for (int64_t c = 0; c < C; c++) {
        WG(split2)(x + c * H * W, H, W, S);
        // Even rows of P in S[0], odd in S[1]; d row a = S[a % 2] + (a / 2) * tw.
        const float *restrict e0 = S, *restrict e1 = S + n, *restrict e2 = S + 2 * n, *restrict e3 = S + 3 * n;
        const float *restrict o0 = S + 4 * n, *restrict o1 = S + 5 * n, *restrict o2 = S + 6 * n,
                              *restrict o3 = S + 7 * n;
        float *restrict v = V + c * nPad + n0;
#pragma clang loop vectorize(assume_safety)
        for (int64_t t = 0; t < T; t++) {
            const int64_t u = t + tw;
            const float d[4][4] = {{e0[t], e1[t], e2[t], e3[t]},
                                   {o0[t], o1[t], o2[t], o3[t]},
                                   {e0[u], e1[u], e2[u], e3[u]},
                                   {o0[u], o1[u], o2[u], o3[u]}};
            // Rows: r = B^T d.
            float r[4][4];
            for (int k = 0; k < 4; k++) {
                r[0][k] = d[0][k] - d[2][k];
                r[1][k] = d[1][k] + d[2][k];
                r[2][k] = d[2][k] - d[1][k];
                r[3][k] = d[1][k] - d[3][k];
            }
            // Columns: v = r B.
            for (int i = 0; i < 4; i++) {
                v[(i * 4 + 0) * ps + t] = r[i][0] - r[i][2];
                v[(i * 4 + 1) * ps + t] = r[i][1] + r[i][2];
                v[(i * 4 + 2) * ps + t] = r[i][2] - r[i][1];
                v[(i * 4 + 3) * ps + t] = r[i][1] - r[i][3];
            }
        }
    }
}

// out[o] (=, or += when `accumulate`) A^T m A for every tile of one sample:
// the 2x2 outputs of all the plane's tiles into Y[r][c][t] (4 * T floats
// of `scratch`), then interleaved into the plane's rows.
__attribute__((noinline)) static void WG(output2)(const float *M, int64_t mPad, int64_t nPad,
                                                                        int64_t n0, int64_t O, int64_t H, int64_t W,
                                                                        float *out, const float *bias, int accumulate,
                                                                        float *scratch) {
    const int64_t th = (H + 1) / 2, tw = (W + 1) / 2, T = th * tw;
    const int64_t ps = WG_STRIDE(mPad * nPad);
    float *restrict y00 = scratch, *restrict y01 = scratch + T, *restrict y10 = scratch + 2 * T,
                    *restrict y11 = scratch + 3 * T;
    for (int64_t o = 0; o < O; o++) {
        const float *restrict m = M + o * nPad + n0;
        const float bo = bias ? bias[o] : 0;
#pragma clang loop vectorize(assume_safety)
        for (int64_t t = 0; t < T; t++) {
            // Rows: s = A^T m (2 x 4), then columns: y = s A (2 x 2).
            float s0[4], s1[4];
            for (int k = 0; k < 4; k++) {
                const float a = m[k * ps + t], b = m[(4 + k) * ps + t];
                const float c = m[(8 + k) * ps + t], d = m[(12 + k) * ps + t];
                s0[k] = a + b + c;
                s1[k] = b - c - d;
            }
            y00[t] = s0[0] + s0[1] + s0[2] + bo;
            y01[t] = s0[1] - s0[2] - s0[3] + bo;
            y10[t] = s1[0] + s1[1] + s1[2] + bo;
            y11[t] = s1[1] - s1[2] - s1[3] + bo;
        }
        float *plane = out + o * H * W;
        const int64_t pairs = W / 2;  // whole 2-wide columns of tiles
        for (int64_t y = 0; y < H; y++) {
            const int64_t base = (y >> 1) * tw;
            const float *restrict a = ((y & 1) ? y10 : y00) + base, *restrict b = ((y & 1) ? y11 : y01) + base;
            float *restrict dst = plane + y * W;
            if (accumulate) {
                for (int64_t j = 0; j < pairs; j++) {
                    dst[2 * j] += a[j];
                    dst[2 * j + 1] += b[j];
                }
                if (W & 1) dst[W - 1] += a[pairs];
            } else {
                for (int64_t j = 0; j < pairs; j++) {
                    dst[2 * j] = a[j];
                    dst[2 * j + 1] = b[j];
                }
                if (W & 1) dst[W - 1] = a[pairs];
            }
        }
    }
}

// D[p][o][n0 + t] = (A dY A^T)[p] for every 2x2 tile dY of one sample's O
// output-gradient planes (outside the plane: zero); D holds `rows` >= O
// rows a position. The plane is first split into G[a][b][t] = dY[2ty + a]
// [2tx + b] (4 * T floats of `scratch`), so the
// transform runs over all the plane's tiles at full vector width.
__attribute__((noinline)) static void WG(gradient2)(const float *dy, int64_t O, int64_t rows,
                                                                          int64_t H, int64_t W, float *D, int64_t nPad,
                                                                          int64_t n0, float *scratch) {
    const int64_t th = (H + 1) / 2, tw = (W + 1) / 2, T = th * tw;
    const int64_t ps = WG_STRIDE(rows * nPad);
    float *restrict g00 = scratch, *restrict g01 = scratch + T, *restrict g10 = scratch + 2 * T,
                    *restrict g11 = scratch + 3 * T;
    const int64_t half = W / 2;
    // An odd H leaves the last row of tiles half outside the plane: that
    // row of G is zero for every plane, so it is written once.
    if (H & 1) {
        memset(g10 + (th - 1) * tw, 0, (size_t)tw * sizeof(float));
        memset(g11 + (th - 1) * tw, 0, (size_t)tw * sizeof(float));
    }
    for (int64_t o = 0; o < O; o++) {
        const float *plane = dy + o * H * W;
        for (int64_t y = 0; y < H; y++) {
            float *restrict ga = ((y & 1) ? g10 : g00) + (y >> 1) * tw, *restrict gb = ((y & 1) ? g11 : g01) + (y >> 1) * tw;
            const float *restrict row = plane + y * W;
            WG(pairs)(row, half, ga, gb);
            if (half < tw) {
                ga[tw - 1] = row[W - 1];
                gb[tw - 1] = 0;
            }
        }
        float *restrict d = D + o * nPad + n0;
#pragma clang loop vectorize(assume_safety)
        for (int64_t t = 0; t < T; t++) {
            const float p = g00[t], q = g01[t], r = g10[t], s = g11[t];
            // Rows: t = A dY (4 x 2), then columns: t A^T (4 x 4).
            const float e[4][2] = {{p, q}, {p + r, q + s}, {p - r, q - s}, {-r, -s}};
            for (int i = 0; i < 4; i++) {
                d[(i * 4 + 0) * ps + t] = e[i][0];
                d[(i * 4 + 1) * ps + t] = e[i][0] + e[i][1];
                d[(i * 4 + 2) * ps + t] = e[i][0] - e[i][1];
                d[(i * 4 + 3) * ps + t] = -e[i][1];
            }
        }
    }
}

