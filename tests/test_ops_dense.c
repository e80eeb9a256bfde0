/* Dense-op kernels and wrappers: optimised versus plain reference kernels on shapes large
 * enough for the OpenMP / BLAS paths, known values, bad-argument handling of the ag_*
 * wrappers (sticky errors, messages naming the op) and allocation-free repeated steps. */
#include <string.h>

#include "autograd/ag.h"
#include "ops/eltwise.h"
#include "ops/index.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "test_util.h"

static mgsd_rng rng_;

static float *rnd(int64_t n, float scale) {
    float *p = mgsd_malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = mgsd_rng_normal(&rng_) * scale;
    return p;
}

static float *zeros(int64_t n) { return mgsd_calloc((size_t)n, sizeof(float)); }

static float *copyf(const float *x, int64_t n) {
    float *p = mgsd_malloc((size_t)n * sizeof(float));
    memcpy(p, x, (size_t)n * sizeof(float));
    return p;
}

/* ---- kernels versus references -------------------------------------------------------- */

static void test_binary_kernels(void) {
    int64_t R = test_quick() ? 256 : 4096, S = 256;
    float *a = rnd(R * S, 1), *b = rnd(S, 1), *dy = rnd(R * S, 1);
    for (int k = OPS_BIN_ADD; k <= OPS_BIN_SQERR; k++) {
        float *y1 = zeros(R * S), *y2 = zeros(R * S);
        float *da1 = rnd(R * S, 1), *da2 = copyf(da1, R * S), *db1 = rnd(S, 1), *db2 = copyf(db1, S);
        ops_binary_forward((ops_binary_kind)k, y1, a, b, R, S);
        ops_binary_forward_ref((ops_binary_kind)k, y2, a, b, R, S);
        CHECK_CLOSE("binary forward", y1, y2, R * S, 0, 0);
        ops_binary_backward((ops_binary_kind)k, da1, db1, dy, a, b, R, S);
        ops_binary_backward_ref((ops_binary_kind)k, da2, db2, dy, a, b, R, S);
        CHECK_CLOSE("binary backward da", da1, da2, R * S, 0, 0);
        /* db sums R terms in a different order: float rounding only */
        CHECK_CLOSE("binary backward db (broadcast reduction)", db1, db2, S, 1e-3, 1e-4);
        mgsd_free(y1), mgsd_free(y2), mgsd_free(da1), mgsd_free(da2), mgsd_free(db1), mgsd_free(db2);
    }
    mgsd_free(a), mgsd_free(b), mgsd_free(dy);
}

static void test_unary_kernels(void) {
    int64_t n = test_quick() ? 1 << 14 : 1 << 20;
    float *x = rnd(n, 2), *dy = rnd(n, 1);
    for (int k = OPS_UN_RELU; k <= OPS_UN_TANH; k++) {
        float *y1 = zeros(n), *y2 = zeros(n), *d1 = zeros(n), *d2 = zeros(n);
        ops_unary_forward((ops_unary_kind)k, y1, x, n);
        ops_unary_forward_ref((ops_unary_kind)k, y2, x, n);
        CHECK_CLOSE("unary forward", y1, y2, n, 1e-6, 1e-6);
        ops_unary_backward((ops_unary_kind)k, d1, dy, x, y2, n);
        ops_unary_backward_ref((ops_unary_kind)k, d2, dy, x, y2, n);
        CHECK_CLOSE("unary backward", d1, d2, n, 1e-6, 1e-6);
        mgsd_free(y1), mgsd_free(y2), mgsd_free(d1), mgsd_free(d2);
    }
    mgsd_free(x), mgsd_free(dy);
}

/* The fast erf/exp behind gelu against glibc on a fine grid. */
static void test_fast_math(void) {
    double e_erf = 0, e_exp = 0;
    for (int i = -200000; i <= 200000; i++) {
        float x = (float)i * 5e-5f; /* [-10, 10] */
        double a = fabs((double)ops_erf_fast(x) - erf((double)x));
        double r = fabs((double)ops_exp_fast(x) - exp((double)x)) / exp((double)x);
        if (a > e_erf) e_erf = a;
        if (r > e_exp) e_exp = r;
    }
    printf("fast erf max abs error %.3g, fast exp max rel error %.3g on [-10, 10]\n", e_erf, e_exp);
    CHECK(e_erf < 5e-7);
    CHECK(e_exp < 5e-7);
    CHECK(ops_exp_fast(-200.0f) >= 0.0f && ops_exp_fast(-200.0f) < 1e-37f);
}

static void test_layernorm_kernels(void) {
    int64_t N = test_quick() ? 256 : 4096;
    int C = 128;
    float *x = rnd(N * C, 3), *w = rnd(C, 1), *b = rnd(C, 1), *dy = rnd(N * C, 1);
    for (int64_t i = 0; i < N * C; i++) x[i] += 5.0f; /* offset mean: tests the two-pass variance */
    float *y1 = zeros(N * C), *y2 = zeros(N * C), *m1 = zeros(N), *m2 = zeros(N), *r1 = zeros(N), *r2 = zeros(N);
    ops_layernorm_forward(y1, m1, r1, x, w, b, N, C, 1e-5f);
    ops_layernorm_forward_ref(y2, m2, r2, x, w, b, N, C, 1e-5f);
    CHECK_CLOSE("layernorm forward", y1, y2, N * C, 1e-4, 1e-4);
    CHECK_CLOSE("layernorm rstd", r1, r2, N, 0, 1e-4);
    float *dx1 = zeros(N * C), *dx2 = zeros(N * C), *dw1 = zeros(C), *dw2 = zeros(C), *db1 = zeros(C), *db2 = zeros(C);
    ops_layernorm_backward(dx1, dw1, db1, dy, x, w, m2, r2, N, C);
    ops_layernorm_backward_ref(dx2, dw2, db2, dy, x, w, m2, r2, N, C);
    CHECK_CLOSE("layernorm backward dx", dx1, dx2, N * C, 1e-4, 1e-3);
    CHECK_CLOSE("layernorm backward dw", dw1, dw2, C, 1e-2, 1e-3);
    CHECK_CLOSE("layernorm backward db", db1, db2, C, 1e-2, 1e-3);
    mgsd_free(x), mgsd_free(w), mgsd_free(b), mgsd_free(dy), mgsd_free(y1), mgsd_free(y2), mgsd_free(m1);
    mgsd_free(m2), mgsd_free(r1), mgsd_free(r2), mgsd_free(dx1), mgsd_free(dx2), mgsd_free(dw1), mgsd_free(dw2);
    mgsd_free(db1), mgsd_free(db2);
}

static void test_softmax_kernels(void) {
    int64_t N = test_quick() ? 128 : 2048;
    int C = 300;
    float *x = rnd(N * C, 4), *dy = rnd(N * C, 1);
    for (int ls = 0; ls <= 1; ls++) {
        float *y1 = zeros(N * C), *y2 = zeros(N * C), *d1 = zeros(N * C), *d2 = zeros(N * C);
        ops_softmax_forward(y1, x, N, C, ls);
        ops_softmax_forward_ref(y2, x, N, C, ls);
        /* log_softmax: x - (max + log sum) cancels in float, hence the absolute 1e-5 */
        CHECK_CLOSE(ls ? "log_softmax forward" : "softmax forward", y1, y2, N * C, 1e-5, 1e-4);
        ops_softmax_backward(d1, dy, y2, N, C, ls);
        ops_softmax_backward_ref(d2, dy, y2, N, C, ls);
        CHECK_CLOSE(ls ? "log_softmax backward" : "softmax backward", d1, d2, N * C, 1e-5, 1e-4);
        mgsd_free(y1), mgsd_free(y2), mgsd_free(d1), mgsd_free(d2);
    }
    mgsd_free(x), mgsd_free(dy);
}

static void test_cosine_kernels(void) {
    int64_t N = test_quick() ? 256 : 8192;
    int C = 64;
    float *a = rnd(N * C, 1), *b = rnd(N * C, 1), *dy = rnd(N, 1);
    memset(a, 0, (size_t)C * sizeof(float)); /* a zero row: the eps clamp */
    for (int bc = 0; bc <= 1; bc++) {
        int64_t nb_el = bc ? C : N * C;
        float *y = zeros(N), *na = zeros(N), *nb = zeros(N);
        ops_cosine_forward(y, na, nb, a, b, N, C, bc, 1e-8f);
        CHECK(y[0] == 0.0f);
        float *da1 = zeros(N * C), *da2 = zeros(N * C), *db1 = zeros(nb_el), *db2 = zeros(nb_el);
        ops_cosine_backward(da1, db1, dy, y, na, nb, a, b, N, C, bc, 1e-8f);
        ops_cosine_backward_ref(da2, db2, dy, y, na, nb, a, b, N, C, bc, 1e-8f);
        CHECK_CLOSE("cosine backward da", da1, da2, N * C, 1e-6, 1e-5);
        CHECK_CLOSE("cosine backward db", db1, db2, nb_el, 1e-4, 1e-4);
        mgsd_free(y), mgsd_free(na), mgsd_free(nb), mgsd_free(da1), mgsd_free(da2), mgsd_free(db1), mgsd_free(db2);
    }
    mgsd_free(a), mgsd_free(b), mgsd_free(dy);
}

static void test_scatter_kernels(void) {
    int64_t M = test_quick() ? 4096 : 1 << 15;
    int C = 64, V = 1000;
    int32_t *idx = mgsd_malloc((size_t)M * sizeof(int32_t));
    for (int64_t m = 0; m < M; m++) idx[m] = (int32_t)mgsd_rng_below(&rng_, (uint64_t)V); /* many repeats */
    float *dout = rnd(M * C, 1), *d1 = zeros((int64_t)V * C), *d2 = zeros((int64_t)V * C);
    ops_scatter_add_rows(d1, dout, idx, M, C);
    ops_scatter_add_rows_ref(d2, dout, idx, M, C);
    /* per column the threaded version adds in the same row order: identical results */
    CHECK_CLOSE("scatter_add_rows (repeated indices)", d1, d2, (int64_t)V * C, 0, 0);
    float *d3 = zeros((int64_t)V * C);
    ops_scatter_add_rows_par(d3, dout, idx, M, C);
    CHECK_CLOSE("scatter_add_rows_par (column blocks per thread)", d3, d2, (int64_t)V * C, 0, 0);
    mgsd_free(d3);
    float *g = zeros(M * C);
    ops_gather_rows(g, d2, idx, M, C, 0);
    CHECK_CLOSE("gather_rows last row", g + (M - 1) * C, d2 + (int64_t)idx[M - 1] * C, C, 0, 0);
    mgsd_free(idx), mgsd_free(dout), mgsd_free(d1), mgsd_free(d2), mgsd_free(g);
}

static void test_segment_kernels(void) {
    int B = test_quick() ? 64 : 2048, C = 64;
    int32_t *offs = mgsd_malloc((size_t)(B + 1) * sizeof(int32_t));
    offs[0] = 0;
    for (int b = 0; b < B; b++) offs[b + 1] = offs[b] + (int32_t)mgsd_rng_below(&rng_, 21); /* 0..20, empties */
    int64_t N = offs[B];
    float *x = rnd(N * C, 1), *w = rnd(N, 1), *dout = rnd((int64_t)B * C, 1);
    for (int mode = 0; mode < 3; mode++) { /* sum, mean, weighted */
        const float *wp = mode == 2 ? w : NULL;
        float *y1 = zeros((int64_t)B * C), *y2 = zeros((int64_t)B * C);
        ops_segment_forward(y1, x, wp, offs, B, C, mode == 1);
        ops_segment_forward_ref(y2, x, wp, offs, B, C, mode == 1);
        CHECK_CLOSE("segment forward", y1, y2, (int64_t)B * C, 1e-5, 1e-5);
        float *dx1 = zeros(N * C), *dx2 = zeros(N * C), *dw1 = zeros(N), *dw2 = zeros(N);
        ops_segment_backward(dx1, mode == 2 ? dw1 : NULL, dout, x, wp, offs, B, C, mode == 1);
        ops_segment_backward_ref(dx2, mode == 2 ? dw2 : NULL, dout, x, wp, offs, B, C, mode == 1);
        CHECK_CLOSE("segment backward dx", dx1, dx2, N * C, 1e-6, 1e-5);
        CHECK_CLOSE("segment backward dw", dw1, dw2, N, 1e-5, 1e-4);
        mgsd_free(y1), mgsd_free(y2), mgsd_free(dx1), mgsd_free(dx2), mgsd_free(dw1), mgsd_free(dw2);
    }
    mgsd_free(offs), mgsd_free(x), mgsd_free(w), mgsd_free(dout);
}

static void test_transpose_matmul_kernels(void) {
    int64_t M = 300, N = 517, K = 130;
    float *x = rnd(M * N, 1), *t1 = rnd(M * N, 1), *t2 = copyf(t1, M * N);
    ops_transpose(t1, x, M, N, 1);
    ops_transpose_ref(t2, x, M, N, 1);
    CHECK_CLOSE("transpose (accumulating)", t1, t2, M * N, 0, 0);
    /* matmul backward through BLAS against the plain gemm reference, all flag pairs */
    float *a = rnd(M * K, 1), *b = rnd(K * N, 1), *dc = rnd(M * N, 1);
    for (int ta = 0; ta <= 1; ta++)
        for (int tb = 0; tb <= 1; tb++) {
            float *da = zeros(M * K), *db = zeros(K * N), *ra = zeros(M * K), *rb = zeros(K * N);
            ops_matmul_backward(da, db, dc, a, b, ta, tb, M, N, K);
            /* reference: dop(a) = dc . op(b)^T, dop(b) = op(a)^T . dc, then transposed back */
            float *dopa = zeros(M * K), *dopb = zeros(K * N);
            float *opa = zeros(M * K), *opb = zeros(K * N);
            if (ta) ops_transpose_ref(opa, a, K, M, 0); else memcpy(opa, a, (size_t)(M * K) * sizeof(float));
            if (tb) ops_transpose_ref(opb, b, N, K, 0); else memcpy(opb, b, (size_t)(K * N) * sizeof(float));
            ops_gemm_ref(0, 1, M, K, N, 1.0f, dc, opb, 0.0f, dopa);
            ops_gemm_ref(1, 0, K, N, M, 1.0f, opa, dc, 0.0f, dopb);
            if (ta) ops_transpose_ref(ra, dopa, M, K, 0); else memcpy(ra, dopa, (size_t)(M * K) * sizeof(float));
            if (tb) ops_transpose_ref(rb, dopb, K, N, 0); else memcpy(rb, dopb, (size_t)(K * N) * sizeof(float));
            CHECK_CLOSE("matmul backward da", da, ra, M * K, 1e-3, 1e-4);
            CHECK_CLOSE("matmul backward db", db, rb, K * N, 1e-3, 1e-4);
            mgsd_free(da), mgsd_free(db), mgsd_free(ra), mgsd_free(rb), mgsd_free(dopa), mgsd_free(dopb);
            mgsd_free(opa), mgsd_free(opb);
        }
    mgsd_free(x), mgsd_free(t1), mgsd_free(t2), mgsd_free(a), mgsd_free(b), mgsd_free(dc);
}

/* ops_gemm splits large products into one block of C per thread: every flag pair, uneven
 * blocks by rows (M >= N) and by columns, accumulating beta = 1, against the plain
 * reference; a repeated call is bitwise identical, and one thread agrees within rounding
 * (OpenBLAS may pick another kernel for a smaller block, so not bit for bit). */
static void test_gemm_split(void) {
    const int64_t shapes[2][3] = {{1037, 70, 101}, {45, 3001, 67}};
    for (int sh = 0; sh < 2; sh++) {
        int64_t M = shapes[sh][0], N = shapes[sh][1], K = shapes[sh][2];
        float *a = rnd(M * K, 1), *b = rnd(K * N, 1), *c0 = rnd(M * N, 1);
        for (int ta = 0; ta <= 1; ta++)
            for (int tb = 0; tb <= 1; tb++) {
                float *c = copyf(c0, M * N), *r = copyf(c0, M * N), *c1 = copyf(c0, M * N), *c2 = copyf(c0, M * N);
                ops_gemm(ta, tb, M, N, K, 0.5f, a, b, 1.0f, c);
                ops_gemm(ta, tb, M, N, K, 0.5f, a, b, 1.0f, c2);
                ops_gemm_ref(ta, tb, M, N, K, 0.5f, a, b, 1.0f, r);
                CHECK_CLOSE("gemm split vs reference", c, r, M * N, 1e-3, 1e-4);
                CHECK(memcmp(c, c2, sizeof(float) * (size_t)(M * N)) == 0);
                int nt = mgsd_get_num_threads();
                mgsd_set_num_threads(1);
                ops_gemm(ta, tb, M, N, K, 0.5f, a, b, 1.0f, c1);
                mgsd_set_num_threads(nt);
                CHECK_CLOSE("gemm split vs one thread", c, c1, M * N, 1e-5, 1e-5);
                mgsd_free(c), mgsd_free(r), mgsd_free(c1), mgsd_free(c2);
            }
        mgsd_free(a), mgsd_free(b), mgsd_free(c0);
    }
}

/* Bias gradient (with and without the fused relu mask) against the plain reference on
 * shapes that take the column-split path (odd widths, a width above one stack tile),
 * and one thread gives the same bits (each column is summed in row order). */
/* Linear backward, accumulating (+=) and writing (=) the input gradient, against the
 * references; the "=" form must not read what dinp held (here NaN). With a workspace, tall
 * weights (OC >= 4 C: {513, 100, 2048} and {1001, 37, 160}) take the transposed
 * weight-gradient product, and a product whose long operand has rows 4 KiB-multiples apart
 * ({513, 100, 2048}: dout, 2048 wide; {600, 1024, 96}: inp, 1024 wide) goes through the
 * padded chunked copy (256 tokens a chunk: 513 and 600 end in a partial chunk); without a
 * workspace, the direct product. */
static void test_linear_backward_kernels(void) {
    const int shapes[5][3] = {{300, 40, 70}, {7, 5, 3}, {513, 100, 2048}, {1001, 37, 160}, {600, 1024, 96}};
    for (int sh = 0; sh < 5; sh++) {
        int64_t N = shapes[sh][0];
        int C = shapes[sh][1], OC = shapes[sh][2];
        int64_t nws = ops_linear_ws_floats(C, OC);
#ifdef MGSD_HAVE_BLAS
        const int tall = OC >= 4 * C;
        const int64_t tpart = tall ? (int64_t)OC * C : 0;
        const int padded = (tall ? OC : C) % 1024 == 0;
        CHECK(padded ? nws > tpart : nws == tpart);
#endif
        float *x = rnd(N * C, 1), *w = rnd((int64_t)OC * C, 0.1f), *dy = rnd(N * OC, 1);
        float *dx0 = rnd(N * C, 1), *dw0 = rnd((int64_t)OC * C, 1), *db0 = rnd(OC, 1);
        for (int k = 0; k < 4; k++) {
            int set = k & 1, use_ws = k >> 1;
            float *ws = use_ws && nws > 0 ? rnd(nws, 1) : NULL;
            float *dx1 = copyf(dx0, N * C), *dx2 = copyf(dx0, N * C);
            float *dw1 = copyf(dw0, (int64_t)OC * C), *dw2 = copyf(dw0, (int64_t)OC * C);
            float *db1 = copyf(db0, OC), *db2 = copyf(db0, OC);
            if (set) {
                for (int64_t i = 0; i < N * C; i++) dx1[i] = NAN;
                ops_linear_backward_set(dx1, dw1, db1, dy, x, w, N, C, OC, ws, ws ? nws : 0);
                ops_linear_backward_set_ref(dx2, dw2, db2, dy, x, w, N, C, OC);
            } else {
                ops_linear_backward(dx1, dw1, db1, dy, x, w, N, C, OC, ws, ws ? nws : 0);
                ops_linear_backward_ref(dx2, dw2, db2, dy, x, w, N, C, OC);
            }
            CHECK_CLOSE(set ? "linear backward (=) dx" : "linear backward (+=) dx", dx1, dx2, N * C, 1e-3, 1e-3);
            CHECK_CLOSE(ws ? "linear backward dw (transposed product)" : "linear backward dw", dw1, dw2,
                        (int64_t)OC * C, 1e-2, 1e-3);
            CHECK_CLOSE("linear backward db", db1, db2, OC, 1e-2, 1e-3);
            mgsd_free(dx1), mgsd_free(dx2), mgsd_free(dw1), mgsd_free(dw2), mgsd_free(db1), mgsd_free(db2);
            mgsd_free(ws);
        }
        mgsd_free(x), mgsd_free(w), mgsd_free(dy), mgsd_free(dx0), mgsd_free(dw0), mgsd_free(db0);
    }
}

/* A workspace smaller than ops_linear_ws_floats asks for (sized for fewer threads, or with
 * no room for the padded copy) still gives the right gradient: the padded product takes
 * fewer, wider blocks, or the plain product runs. */
static void test_linear_backward_small_ws(void) {
    const int64_t N = 700;
    const int C = 100, OC = 2048;
    float *x = rnd(N * C, 1), *w = rnd((int64_t)OC * C, 0.1f), *dy = rnd(N * OC, 1);
    float *dw0 = rnd((int64_t)OC * C, 1);
    float *ref = copyf(dw0, (int64_t)OC * C);
    ops_linear_backward_ref(NULL, ref, NULL, dy, x, w, N, C, OC);
    /* the transposed result only; plus one 256-token chunk of the padded copy (row stride
     * 2064 for 2048 columns), a buffer for one thread; the full size */
    const int64_t sizes[3] = {(int64_t)OC * C, (int64_t)OC * C + 256 * 2064, ops_linear_ws_floats(C, OC)};
    for (int i = 0; i < 3; i++) {
        float *ws = rnd(sizes[i], 1), *dw = copyf(dw0, (int64_t)OC * C);
        ops_gemm_profile(1);
        ops_linear_backward(NULL, dw, NULL, dy, x, w, N, C, OC, ws, sizes[i]);
        ops_gemm_profile(0);
        ops_gemm_stat st[4];
        int n = ops_gemm_profile_read(st, 4);
#ifdef MGSD_HAVE_BLAS
        /* the product is profiled as padded exactly when the buffer was there */
        CHECK_INT_EQ(n, 1);
        if (n == 1) CHECK_INT_EQ(st[0].padded, i > 0);
#else
        (void)n;
#endif
        CHECK_CLOSE(i == 0 ? "dw, workspace without the padded buffer"
                           : i == 1 ? "dw, padded buffer for one thread"
                                    : "dw, full workspace",
                    dw, ref, (int64_t)OC * C, 1e-2, 1e-3);
        mgsd_free(ws), mgsd_free(dw);
    }
    mgsd_free(x), mgsd_free(w), mgsd_free(dy), mgsd_free(dw0), mgsd_free(ref);
}

/* The per-shape product profile: only while on, one entry per shape (a dimension above
 * 1024 pooled), calls and flops counted, slowest first; small products (plain loops) and
 * products inside a parallel region are not timed. */
static void test_gemm_profile(void) {
#ifdef MGSD_HAVE_BLAS
    float *a = rnd(3000 * 64, 1), *b = rnd(64 * 96, 1), *c = rnd(3000 * 96, 1);
    ops_gemm(0, 0, 3000, 96, 64, 1.0f, a, b, 0.0f, c); /* before profiling: not counted */
    ops_gemm_profile(1);
    ops_gemm(0, 0, 3000, 96, 64, 1.0f, a, b, 0.0f, c);
    ops_gemm(0, 0, 1500, 96, 64, 1.0f, a, b, 0.0f, c); /* pooled with the first: M > 1024 */
    ops_gemm(0, 0, 100, 96, 64, 1.0f, a, b, 0.0f, c);
    ops_gemm(0, 0, 4, 4, 4, 1.0f, a, b, 0.0f, c); /* plain loops: not timed */
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
    {
        float *cc = rnd(100 * 96, 1);
        ops_gemm(0, 0, 100, 96, 64, 1.0f, a, b, 0.0f, cc); /* inside a region: not timed */
        mgsd_free(cc);
    }
#endif
    ops_gemm_profile(0);
    ops_gemm(0, 0, 100, 96, 64, 1.0f, a, b, 0.0f, c); /* after: not counted */
    ops_gemm_stat st[8];
    int n = ops_gemm_profile_read(st, 8);
    CHECK_INT_EQ(n, 2);
    int big = st[0].M == OPS_GEMM_PROFILE_POOLED ? 0 : 1;
    CHECK_INT_EQ(st[big].M, OPS_GEMM_PROFILE_POOLED);
    CHECK_INT_EQ(st[big].calls, 2);
    CHECK(fabs(st[big].flops - 2.0 * (3000 + 1500) * 96 * 64) < 1.0);
    CHECK_INT_EQ(st[1 - big].M, 100);
    CHECK_INT_EQ(st[1 - big].calls, 1);
    CHECK(st[0].seconds >= st[1].seconds && st[1].seconds > 0);
    CHECK_INT_EQ(st[0].padded + st[1].padded, 0);
    ops_gemm_profile(1); /* clears */
    CHECK_INT_EQ(ops_gemm_profile_read(st, 8), 0);
    ops_gemm_profile(0);
    mgsd_free(a), mgsd_free(b), mgsd_free(c);
#endif
}

static void test_bias_grad(void) {
    const int64_t shapes[4][2] = {{3001, 2048}, {2999, 100}, {777, 37}, {64, 2500}};
    for (int sh = 0; sh < 4; sh++) {
        int64_t N = shapes[sh][0];
        int OC = (int)shapes[sh][1];
        float *dy = rnd(N * OC, 1), *y = rnd(N * OC, 1), *db0 = rnd(OC, 1);
        for (int relu = 0; relu <= 1; relu++) {
            float *g1 = copyf(dy, N * OC), *g2 = copyf(dy, N * OC), *g3 = copyf(dy, N * OC);
            float *d1 = copyf(db0, OC), *d2 = copyf(db0, OC), *d3 = copyf(db0, OC);
            ops_bias_grad(d1, g1, relu ? y : NULL, N, OC);
            ops_bias_grad_ref(d2, g2, relu ? y : NULL, N, OC);
            CHECK_CLOSE("bias grad vs reference", d1, d2, OC, 1e-3, 1e-4);
            CHECK_CLOSE("relu mask of bias grad", g1, g2, N * OC, 0, 0);
            int nt = mgsd_get_num_threads();
            mgsd_set_num_threads(1);
            ops_bias_grad(d3, g3, relu ? y : NULL, N, OC);
            mgsd_set_num_threads(nt);
            CHECK(memcmp(d1, d3, sizeof(float) * (size_t)OC) == 0);
            mgsd_free(g1), mgsd_free(g2), mgsd_free(g3), mgsd_free(d1), mgsd_free(d2), mgsd_free(d3);
        }
        mgsd_free(dy), mgsd_free(y), mgsd_free(db0);
    }
}

static void test_dropout_kernels(void) {
    int64_t n = test_quick() ? 1 << 16 : 1 << 20;
    float *x = rnd(n, 1), *y = zeros(n), *dx = zeros(n), *dy = rnd(n, 1);
    uint64_t *mask = mgsd_malloc((size_t)((n + 63) / 64) * sizeof(uint64_t));
    const float ps[] = {0.1f, 0.5f, 0.9f, 0.123456f};
    for (int k = 0; k < 4; k++) {
        float p = ps[k];
        for (int ref = 0; ref <= 1; ref++) {
            mgsd_rng r;
            mgsd_rng_seed(&r, 77 + (uint64_t)k);
            if (ref) ops_dropout_forward_ref(y, mask, x, n, p, &r);
            else ops_dropout_forward(y, mask, x, n, p, &r);
            int64_t kept = 0, bad = 0;
            for (int64_t i = 0; i < n; i++) {
                int m = (int)((mask[i / 64] >> (i % 64)) & 1u);
                kept += m;
                if (y[i] != (m ? x[i] * (1.0f / (1.0f - p)) : 0.0f)) bad++;
            }
            /* binomial: 5 standard deviations */
            double want = (1.0 - p) * (double)n, sd = sqrt((double)n * p * (1.0 - p));
            CHECK_NEAR((double)kept, want, 5 * sd);
            CHECK_INT_EQ(bad, 0);
        }
        memset(dx, 0, (size_t)n * sizeof(float));
        ops_dropout_backward(dx, dy, mask, n, p);
        int64_t bad = 0;
        for (int64_t i = 0; i < n; i++) {
            int m = (int)((mask[i / 64] >> (i % 64)) & 1u);
            if (dx[i] != (m ? dy[i] * (1.0f / (1.0f - p)) : 0.0f)) bad++;
        }
        CHECK_INT_EQ(bad, 0);
    }
    /* adjacent bits are independent: P(both kept) = (1-p)^2 for p = 0.5 */
    {
        mgsd_rng r;
        mgsd_rng_seed(&r, 5);
        ops_dropout_forward(y, mask, x, n, 0.5f, &r);
        int64_t both = 0;
        for (int64_t i = 0; i + 1 < n; i += 2) both += ((mask[i / 64] >> (i % 64)) & 3u) == 3u;
        double want = 0.25 * (double)(n / 2), sd = sqrt((double)(n / 2) * 0.25 * 0.75);
        CHECK_NEAR((double)both, want, 5 * sd);
    }
    mgsd_free(x), mgsd_free(y), mgsd_free(dx), mgsd_free(dy), mgsd_free(mask);
}

/* ---- wrappers: values -------------------------------------------------------------------- */

static void test_known_values(void) {
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 20, 1));
    float xv[4] = {1.0f, 0.0f, -1.0f, 1000.0f};
    int s4[1] = {4};
    mgsd_tensor x;
    ag_tensor_wrap(&x, xv, NULL, 1, s4);
    mgsd_tensor *g = ag_gelu(&t, &x);
    CHECK_NEAR(g->data[0], 0.8413447f, 1e-6);
    CHECK_NEAR(g->data[2], -0.1586553f, 1e-6);
    mgsd_tensor *l = ag_log(&t, &x);
    CHECK_NEAR(l->data[1], logf(1e-30f), 1e-4); /* clamped, finite */
    CHECK_NEAR(l->data[2], logf(1e-30f), 1e-4);
    mgsd_tensor *sm = ag_softmax(&t, &x); /* large input: no overflow */
    CHECK_NEAR(sm->data[3], 1.0f, 1e-6);
    CHECK(!isnan(sm->data[0]));
    mgsd_tensor *ls = ag_log_softmax(&t, &x);
    CHECK_NEAR(ls->data[3], 0.0f, 1e-6);
    CHECK_NEAR(ls->data[2], -1001.0f, 1e-2);

    /* masked_mean: empty segment gives a zero row, no NaN */
    float pv[6] = {1, 2, 3, 4, 5, 6};
    int s32[2] = {3, 2};
    mgsd_tensor p;
    ag_tensor_wrap(&p, pv, NULL, 2, s32);
    int32_t offs[3] = {0, 0, 3};
    ag_seqs sq = {2, offs, 3};
    mgsd_tensor *mm = ag_masked_mean(&t, &p, &sq);
    CHECK(mm && mm->data[0] == 0.0f && mm->data[1] == 0.0f);
    CHECK_NEAR(mm->data[2], 3.0f, 1e-6);
    CHECK_NEAR(mm->data[3], 4.0f, 1e-6);

    /* dropout outside training: x itself, no node */
    t.training = 0;
    int n0 = t.n_nodes;
    CHECK(ag_dropout(&t, &x, 0.5f) == &x);
    t.training = 1;
    CHECK(ag_dropout(&t, &x, 0.0f) == &x);
    CHECK_INT_EQ(t.n_nodes, n0);

    /* reshape is a view sharing data and grad */
    float gv[6] = {0};
    mgsd_tensor q;
    ag_tensor_wrap(&q, pv, gv, 2, s32);
    int s23[2] = {2, -1};
    mgsd_tensor *v = ag_reshape(&t, &q, 2, s23);
    CHECK(v && v->data == q.data && v->grad == q.grad && v->shape[1] == 3 && v->n == 6);
    CHECK_OK(ag_status(&t));
    ag_tape_free(&t);
}

/* ---- wrappers: bad arguments ------------------------------------------------------------ */

#define EXPECT_FAIL(call, status, needle)                 \
    do {                                                  \
        ag_tape_reset(&t);                                \
        mgsd_tensor *r_ = (call);                         \
        CHECK(r_ == NULL);                                \
        CHECK_STATUS(ag_status(&t), status);              \
        CHECK_CONTAINS(mgsd_last_error(), needle);        \
    } while (0)

static void test_bad_args(void) {
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 20, 1));
    static float buf[4096], gbuf[4096];
    mgsd_tensor a45, b4, w7, x3d, zero, m35, m45, m54;
    int s45[2] = {4, 5}, s4[1] = {4}, s7[1] = {7}, s3d[3] = {2, 3, 4}, s0[2] = {3, 0}, s35[2] = {3, 5},
        s54[2] = {5, 4};
    ag_tensor_wrap(&a45, buf, gbuf, 2, s45);
    ag_tensor_wrap(&b4, buf, NULL, 1, s4);
    ag_tensor_wrap(&w7, buf, NULL, 1, s7);
    ag_tensor_wrap(&x3d, buf, NULL, 3, s3d);
    ag_tensor_wrap(&zero, buf, NULL, 2, s0);
    ag_tensor_wrap(&m35, buf, NULL, 2, s35);
    ag_tensor_wrap(&m45, buf, NULL, 2, s45);
    ag_tensor_wrap(&m54, buf, NULL, 2, s54);

    /* NULL inputs propagate NULL and leave the status alone (OK, or an earlier error) */
    ag_tape_reset(&t);
    CHECK(ag_add(&t, NULL, &a45) == NULL);
    CHECK(ag_relu(&t, NULL) == NULL);
    CHECK(ag_layernorm(&t, &a45, NULL, &b4, 1e-5f) == NULL);
    mgsd_tensor *xs[2] = {&a45, NULL};
    CHECK(ag_concat(&t, xs, 2) == NULL);
    CHECK(ag_masked_sum(&t, NULL, NULL) == NULL);
    CHECK_OK(ag_status(&t));
    CHECK(ag_add(&t, &a45, &b4) == NULL); /* first error */
    CHECK(ag_gelu(&t, NULL) == NULL);
    CHECK(ag_matmul(&t, &m35, &m35, 0, 0) == NULL); /* second error: not recorded */
    CHECK_STATUS(ag_status(&t), MGSD_ERR_SHAPE);
    CHECK_CONTAINS(mgsd_last_error(), "add:");

    EXPECT_FAIL(ag_add(&t, &a45, &b4), MGSD_ERR_SHAPE, "add: b [4] must equal a [4,5]");
    EXPECT_FAIL(ag_sub(&t, &b4, &a45), MGSD_ERR_SHAPE, "sub:");
    EXPECT_FAIL(ag_mul(&t, &x3d, &m35), MGSD_ERR_SHAPE, "mul:");
    EXPECT_FAIL(ag_squared_error(&t, &a45, &w7), MGSD_ERR_SHAPE, "squared_error:");
    EXPECT_FAIL(ag_relu(&t, &zero), MGSD_ERR_SHAPE, "relu: x dim 1 is 0");
    EXPECT_FAIL(ag_scale(&t, &zero, 1, 0), MGSD_ERR_SHAPE, "scale:");
    mgsd_tensor neg;
    int sneg[2] = {-3, 4};
    ag_tensor_wrap(&neg, buf, NULL, 2, sneg);
    EXPECT_FAIL(ag_softmax(&t, &neg), MGSD_ERR_SHAPE, "softmax: x dim 0 is -3");
    EXPECT_FAIL(ag_add(&t, &a45, &neg), MGSD_ERR_SHAPE, "add: b dim 0 is -3");
    EXPECT_FAIL(ag_layernorm(&t, &a45, &w7, &w7, 1e-5f), MGSD_ERR_SHAPE, "layernorm: weight has 7 elements, expected 5");
    EXPECT_FAIL(ag_layernorm(&t, &a45, &a45 /*20*/, &w7, 1e-5f), MGSD_ERR_SHAPE, "layernorm: weight");
    mgsd_tensor w5;
    int s5[1] = {5};
    ag_tensor_wrap(&w5, buf, NULL, 1, s5);
    EXPECT_FAIL(ag_layernorm(&t, &a45, &w5, &b4, 1e-5f), MGSD_ERR_SHAPE, "layernorm: bias has 4 elements");
    EXPECT_FAIL(ag_layernorm(&t, &a45, &w5, &w5, -1.0f), MGSD_ERR_INVALID_ARG, "layernorm: eps");
    EXPECT_FAIL(ag_dropout(&t, &a45, 1.0f), MGSD_ERR_INVALID_ARG, "dropout: p = 1");
    EXPECT_FAIL(ag_dropout(&t, &a45, -0.1f), MGSD_ERR_INVALID_ARG, "dropout:");
    int32_t idx[3] = {0, 3, 4};
    EXPECT_FAIL(ag_embedding(&t, &a45, idx, 3), MGSD_ERR_INVALID_ARG, "embedding: index 4 at position 2 outside [0, 4)");
    EXPECT_FAIL(ag_embedding(&t, &x3d, idx, 2), MGSD_ERR_SHAPE, "embedding: table must be 2-D");
    EXPECT_FAIL(ag_embedding(&t, &a45, NULL, 2), MGSD_ERR_INVALID_ARG, "embedding: index array is NULL");
    EXPECT_FAIL(ag_gather_rows(&t, &a45, idx, 0), MGSD_ERR_SHAPE, "gather_rows: 0 indices");
    EXPECT_FAIL(ag_index_add(&t, &a45, idx, 0), MGSD_ERR_SHAPE, "index_add: 0 output rows");
    EXPECT_FAIL(ag_index_add(&t, &m35, idx, 4), MGSD_ERR_INVALID_ARG, "index_add: index 4");
    int32_t offs_bad[3] = {0, 3, 2}, offs_short[3] = {0, 1, 3};
    ag_seqs sq_bad = {2, offs_bad, 3}, sq_short = {2, offs_short, 2};
    EXPECT_FAIL(ag_masked_sum(&t, &a45, &sq_bad), MGSD_ERR_INVALID_ARG, "masked_sum: offsets decrease");
    EXPECT_FAIL(ag_masked_mean(&t, &a45, &sq_short), MGSD_ERR_SHAPE, "masked_mean: offsets cover 3 rows, x has 4");
    EXPECT_FAIL(ag_masked_mean(&t, &a45, NULL), MGSD_ERR_INVALID_ARG, "masked_mean:");
    int32_t offs4[3] = {0, 1, 4};
    ag_seqs sq4 = {2, offs4, 3};
    EXPECT_FAIL(ag_masked_wsum(&t, &a45, &w7, &sq4), MGSD_ERR_SHAPE, "masked_wsum: w has 7 elements");
    EXPECT_FAIL(ag_cosine_similarity(&t, &a45, &b4, 1e-8f), MGSD_ERR_SHAPE, "cosine_similarity:");
    EXPECT_FAIL(ag_cosine_similarity(&t, &a45, &w5, 0.0f), MGSD_ERR_INVALID_ARG, "cosine_similarity: eps");
    mgsd_tensor *cx[2] = {&a45, &m35};
    EXPECT_FAIL(ag_concat(&t, cx, 2), MGSD_ERR_SHAPE, "concat: input 1 [3,5]");
    EXPECT_FAIL(ag_concat(&t, cx, 5), MGSD_ERR_INVALID_ARG, "concat: 5 tensors");
    EXPECT_FAIL(ag_slice_cols(&t, &a45, 3, 6), MGSD_ERR_SHAPE, "slice_cols: columns [3, 6)");
    EXPECT_FAIL(ag_slice_cols(&t, &a45, 2, 2), MGSD_ERR_SHAPE, "slice_cols:");
    int rs_bad[2] = {3, -1}, rs_neg[2] = {-2, 10}, rs_cnt[2] = {2, 11};
    EXPECT_FAIL(ag_reshape(&t, &a45, 2, rs_bad), MGSD_ERR_SHAPE, "reshape: 20 elements do not divide");
    EXPECT_FAIL(ag_reshape(&t, &a45, 2, rs_neg), MGSD_ERR_SHAPE, "reshape: dim 0 is -2");
    EXPECT_FAIL(ag_reshape(&t, &a45, 2, rs_cnt), MGSD_ERR_SHAPE, "reshape: new shape has 22 elements");
    EXPECT_FAIL(ag_matmul(&t, &m35, &m35, 0, 0), MGSD_ERR_SHAPE, "matmul: inner dims differ");
    EXPECT_FAIL(ag_matmul(&t, &x3d, &m35, 0, 0), MGSD_ERR_SHAPE, "matmul: operands must be 2-D");
    EXPECT_FAIL(ag_transpose2d(&t, &x3d), MGSD_ERR_SHAPE, "transpose2d:");
    EXPECT_FAIL(ag_sum_rows(&t, &zero), MGSD_ERR_SHAPE, "sum_rows:");
    EXPECT_FAIL(ag_mean(&t, &zero), MGSD_ERR_SHAPE, "mean:");
    /* valid calls on the same tensors succeed */
    ag_tape_reset(&t);
    CHECK(ag_matmul(&t, &m35, &m54, 0, 0) != NULL);
    CHECK(ag_matmul(&t, &m45, &m35, 0, 1) != NULL);
    CHECK(ag_add(&t, &a45, &w5) != NULL);
    CHECK_OK(ag_status(&t));
    ag_tape_free(&t);
}

/* ---- a repeated step allocates nothing ----------------------------------------------- */

static void test_no_alloc_after_first_step(void) {
    enum { V = 50, C = 32, B = 4 };
    float *table = rnd(V * C, 1), *dtable = zeros(V * C), *lw = rnd(C * C, 0.2f), *dlw = zeros(C * C);
    float *lnw = rnd(C, 1), *dlnw = zeros(C), *lnb = rnd(C, 1), *dlnb = zeros(C), *tgt = rnd(B * C, 1);
    mgsd_tensor T, W, LW, LB, TG;
    int sT[2] = {V, C}, sW[2] = {C, C}, sC[1] = {C}, sBC[2] = {B, C};
    ag_tensor_wrap(&T, table, dtable, 2, sT);
    ag_tensor_wrap(&W, lw, dlw, 2, sW);
    ag_tensor_wrap(&LW, lnw, dlnw, 1, sC);
    ag_tensor_wrap(&LB, lnb, dlnb, 1, sC);
    ag_tensor_wrap(&TG, tgt, NULL, 2, sBC);
    int32_t ids[20], offs[B + 1] = {0, 5, 5, 12, 20}, last[B] = {4, 11, 11, 19};
    for (int i = 0; i < 20; i++) ids[i] = (i * 7) % V;
    ag_seqs sq = {B, offs, 8};
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 16, 3)); /* small blocks: the first step grows the arena */
    uint64_t before = 0;
    for (int step = 0; step < 3; step++) {
        ag_tape_reset(&t);
        if (step == 2) before = mgsd_alloc_count();
        mgsd_tensor *h = ag_embedding(&t, &T, ids, 20);
        h = ag_layernorm(&t, h, &LW, &LB, 1e-12f);
        h = ag_dropout(&t, h, 0.2f);
        h = ag_gelu(&t, ag_linear(&t, h, &W, NULL));
        mgsd_tensor *pooled = ag_masked_mean(&t, h, &sq);
        mgsd_tensor *lastt = ag_gather_rows(&t, h, last, B);
        mgsd_tensor *z = ag_softmax(&t, ag_concat(&t, (mgsd_tensor *[]){pooled, lastt}, 2));
        mgsd_tensor *cs = ag_cosine_similarity(&t, ag_slice_cols(&t, z, 0, C), &TG, 1e-8f);
        mgsd_tensor *loss = ag_add(&t, ag_mean(&t, cs), ag_mse(&t, pooled, &TG));
        CHECK_OK(ag_status(&t));
        CHECK_OK(ag_backward(&t, loss));
    }
    CHECK_INT_EQ(mgsd_alloc_count() - before, 0);
    ag_tape_free(&t);
    mgsd_free(table), mgsd_free(dtable), mgsd_free(lw), mgsd_free(dlw), mgsd_free(lnw), mgsd_free(dlnw);
    mgsd_free(lnb), mgsd_free(dlnb), mgsd_free(tgt);
}

/* An activation beyond the memory limit fails the tape with the allocator's message. */
static void test_tape_memory_limit(void) {
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, (size_t)1 << 16, 1));
    mgsd_set_memory_limit(mgsd_alloc_bytes() + ((size_t)4 << 20));
    CHECK(ag_new2(&t, 256, 256, 1) != NULL);           /* 2 x 256 KiB */
    CHECK(ag_new2(&t, 4096, 1024, 1) == NULL);         /* 16 MiB of values */
    CHECK_STATUS(ag_status(&t), MGSD_ERR_NOMEM);
    CHECK_CONTAINS(mgsd_last_error(), "activations: no room for a buffer of 16 MiB");
    CHECK_CONTAINS(mgsd_last_error(), "above its limit of");
    CHECK_CONTAINS(mgsd_last_error(), "MAX_ITEM_LIST_LENGTH");
    mgsd_set_memory_limit(0);
    ag_tape_free(&t);
}

int main(void) {
    mgsd_rng_seed(&rng_, 2024);
    test_tape_memory_limit();
    test_binary_kernels();
    test_unary_kernels();
    test_fast_math();
    test_layernorm_kernels();
    test_softmax_kernels();
    test_cosine_kernels();
    test_scatter_kernels();
    test_segment_kernels();
    test_transpose_matmul_kernels();
    test_gemm_split();
    test_linear_backward_kernels();
    test_linear_backward_small_ws();
    test_gemm_profile();
    test_bias_grad();
    test_dropout_kernels();
    test_known_values();
    test_bad_args();
    test_no_alloc_after_first_step();
    return test_summary();
}
