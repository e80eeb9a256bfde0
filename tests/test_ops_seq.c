/* Sequence ops: optimised kernels against their plain references on realistic shapes,
 * argument errors through the autograd wrappers, the straight-through gumbel contract,
 * and a training-step pattern that must allocate nothing once the arena is warm. */
#include <stdint.h>

#include "autograd/ag_seq.h"
#include "ops/attention.h"
#include "ops/gru.h"
#include "ops/gumbel.h"
#include "ops/seq.h"
#include "ops/xent.h"
#include "test_util.h"

static float *randv(mgsd_rng *r, int64_t n, float scale) {
    float *p = mgsd_malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = mgsd_rng_normal(r) * scale;
    return p;
}

static float *zerov(int64_t n) { return mgsd_calloc((size_t)n, sizeof(float)); }

/* max |a-b| / (1 + max|b|) */
static double relerr(const float *a, const float *b, int64_t n) {
    double m = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return m / (1.0 + s);
}

/* Random lengths 1..maxlen; returns Ntok. */
static int make_offs(int32_t *offs, int B, int maxlen, mgsd_rng *r) {
    offs[0] = 0;
    for (int b = 0; b < B; b++) offs[b + 1] = offs[b] + 1 + (int)mgsd_rng_below(r, (uint64_t)maxlen);
    return offs[B];
}

static void test_attention_vs_ref(int C, int NH, int causal, float p) {
    mgsd_rng r;
    mgsd_rng_seed(&r, 11 + C + causal);
    int B = 64;
    int32_t offs[65];
    int N = make_offs(offs, B, 50, &r);
    int64_t aoff[65];
    int64_t natt = ops_attention_offsets(aoff, offs, B, NH);
    float *qkv = randv(&r, (int64_t)N * 3 * C, 1.0f), *dout = randv(&r, (int64_t)N * C, 1.0f);
    float *drop = p > 0 ? zerov(natt) : NULL;
    if (drop) ops_attention_dropout_mask(drop, aoff, offs, B, NH, p, 77);
    float *o1 = zerov((int64_t)N * C), *o2 = zerov((int64_t)N * C), *a1 = zerov(natt), *a2 = zerov(natt);
    float *g1 = zerov((int64_t)N * 3 * C), *g2 = zerov((int64_t)N * 3 * C);
    float *scr = zerov(ops_attention_scratch_floats(50));
    ops_attention_forward(o1, a1, scr, qkv, drop, offs, aoff, B, C, NH, causal);
    ops_attention_forward_ref(o2, a2, qkv, drop, offs, aoff, B, C, NH, causal);
    ops_attention_backward(g1, scr, dout, qkv, a1, drop, offs, aoff, B, C, NH, causal);
    ops_attention_backward_ref(g2, dout, qkv, a2, drop, offs, aoff, B, C, NH, causal);
    CHECK(relerr(o1, o2, (int64_t)N * C) < 1e-5);
    CHECK(relerr(a1, a2, natt) < 1e-5);
    CHECK(relerr(g1, g2, (int64_t)N * 3 * C) < 1e-4);
    /* probabilities: rows sum to 1, nothing above the diagonal when causal */
    double worst = 0;
    int above = 0;
    for (int b = 0; b < B; b++) {
        int len = offs[b + 1] - offs[b];
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < len; i++) {
                double s = 0;
                for (int j = 0; j < len; j++) {
                    float v = a1[aoff[b] + (int64_t)h * len * len + (int64_t)i * len + j];
                    s += v;
                    if (causal && j > i && v != 0.0f) above++;
                }
                if (fabs(s - 1) > worst) worst = fabs(s - 1);
            }
    }
    CHECK(worst < 1e-5);
    CHECK_INT_EQ(above, 0);
    if (drop) { /* dropout rate near p, kept values scaled by 1/(1-p) */
        int64_t z = 0;
        for (int64_t i = 0; i < natt; i++) z += drop[i] == 0.0f;
        CHECK_NEAR((double)z / natt, p, 0.02);
    }
    mgsd_free(qkv); mgsd_free(dout); mgsd_free(drop); mgsd_free(o1); mgsd_free(o2);
    mgsd_free(a1); mgsd_free(a2); mgsd_free(g1); mgsd_free(g2); mgsd_free(scr);
}

/* Packed attention equals RecBole's padded computation with additive mask -10000. */
static void test_attention_padded_equivalence(void) {
    mgsd_rng r;
    mgsd_rng_seed(&r, 5);
    enum { B = 4, T = 7, C = 8, NH = 2, D = 4 };
    int32_t offs[B + 1] = {0, 7, 9, 10, 15};
    int N = offs[B];
    int64_t aoff[B + 1];
    int64_t natt = ops_attention_offsets(aoff, offs, B, NH);
    float *qkv = randv(&r, N * 3 * C, 2.0f), *o = zerov(N * C), *a = zerov(natt);
    float *scr = zerov(ops_attention_scratch_floats(T));
    for (int causal = 0; causal < 2; causal++) {
        ops_attention_forward(o, a, scr, qkv, NULL, offs, aoff, B, C, NH, causal);
        double worst = 0;
        for (int b = 0; b < B; b++) {
            int len = offs[b + 1] - offs[b];
            for (int h = 0; h < NH; h++)
                for (int i = 0; i < len; i++) {
                    float s[T], mx = -INFINITY, sum = 0; /* padded row: T keys, padding = 0 vectors */
                    for (int j = 0; j < T; j++) {
                        float acc = 0;
                        for (int d = 0; d < D; d++)
                            acc += j < len ? qkv[(offs[b] + i) * 3 * C + h * D + d] *
                                                 qkv[(offs[b] + j) * 3 * C + C + h * D + d]
                                           : 0.0f;
                        int masked = j >= len || (causal && j > i);
                        s[j] = acc / sqrtf((float)D) + (masked ? -10000.0f : 0.0f);
                        if (s[j] > mx) mx = s[j];
                    }
                    for (int j = 0; j < T; j++) sum += (s[j] = expf(s[j] - mx));
                    for (int d = 0; d < D; d++) {
                        float acc = 0;
                        for (int j = 0; j < len; j++) acc += s[j] / sum * qkv[(offs[b] + j) * 3 * C + 2 * C + h * D + d];
                        double e = fabs(acc - o[(offs[b] + i) * C + h * D + d]);
                        if (e > worst) worst = e;
                    }
                }
        }
        CHECK(worst < 1e-5);
    }
    mgsd_free(qkv); mgsd_free(o); mgsd_free(a); mgsd_free(scr);
}

static void test_xent_vs_ref(int C, int exclude0) {
    mgsd_rng r;
    mgsd_rng_seed(&r, 3 + C);
    int B = 256, V = test_quick() ? 1500 : 12102;
    float *u = randv(&r, (int64_t)B * C, 1.0f), *E = randv(&r, (int64_t)V * C, 0.3f);
    int32_t *tg = mgsd_malloc(B * sizeof(int32_t));
    for (int b = 0; b < B; b++) tg[b] = 1 + (int32_t)mgsd_rng_below(&r, (uint64_t)(V - 1));
    tg[1] = tg[0]; /* repeated target */
    float *G1 = zerov((int64_t)B * V), *G2 = zerov((int64_t)B * V);
    float *du1 = zerov((int64_t)B * C), *du2 = zerov((int64_t)B * C), *dE1 = zerov((int64_t)V * C),
          *dE2 = zerov((int64_t)V * C);
    double l1 = ops_softmax_xent_forward(G1, u, E, tg, B, C, V, exclude0);
    double l2 = ops_softmax_xent_forward_ref(G2, u, E, tg, B, C, V, exclude0);
    CHECK_NEAR(l1, l2, 1e-5 * (1 + fabs(l2)));
    CHECK(relerr(G1, G2, (int64_t)B * V) < 1e-5);
    if (exclude0) {
        int nz = 0;
        for (int b = 0; b < B; b++) nz += G1[(int64_t)b * V] != 0.0f;
        CHECK_INT_EQ(nz, 0);
    }
    ops_softmax_xent_backward(du1, dE1, G1, u, E, 0.5f, B, C, V);
    ops_softmax_xent_backward_ref(du2, dE2, G2, u, E, 0.5f, B, C, V);
    CHECK(relerr(du1, du2, (int64_t)B * C) < 1e-4);
    CHECK(relerr(dE1, dE2, (int64_t)V * C) < 1e-4);
    /* scores helper */
    float *s = zerov((int64_t)4 * V);
    ops_scores(s, u, E, 4, C, V);
    double e = 0;
    for (int v = 0; v < V; v += 97) {
        double acc = 0;
        for (int c = 0; c < C; c++) acc += (double)u[3 * C + c] * E[(int64_t)v * C + c];
        if (fabs(acc - s[3 * (int64_t)V + v]) > e) e = fabs(acc - s[3 * (int64_t)V + v]);
    }
    CHECK(e < 1e-4);
    mgsd_free(u); mgsd_free(E); mgsd_free(tg); mgsd_free(G1); mgsd_free(G2); mgsd_free(du1);
    mgsd_free(du2); mgsd_free(dE1); mgsd_free(dE2); mgsd_free(s);
}

static void test_gru_vs_ref(int C, int H) {
    mgsd_rng r;
    mgsd_rng_seed(&r, 9 + C);
    int B = 64, T = 50;
    int32_t offs[65];
    int N = make_offs(offs, B, T, &r);
    float *x = randv(&r, (int64_t)N * C, 1.0f), *wi = randv(&r, 3 * H * C, 0.15f), *wh = randv(&r, 3 * H * H, 0.15f);
    float *bb = randv(&r, 6 * H, 0.1f), *dout = randv(&r, (int64_t)N * H, 1.0f);
    int32_t *tm_off = mgsd_malloc((T + 1) * sizeof(int32_t)), *tm_tok = mgsd_malloc(N * sizeof(int32_t)),
            order[64];
    ops_gru_plan(tm_off, tm_tok, order, offs, B, T);
    /* plan: every token exactly once, step s holds the sequences longer than s */
    int *seen = mgsd_calloc(N, sizeof(int)), bad = 0;
    for (int i = 0; i < N; i++) seen[tm_tok[i]]++;
    for (int i = 0; i < N; i++) bad += seen[i] != 1;
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(tm_off[T], N);
    float *h1 = zerov((int64_t)N * H), *h2 = zerov((int64_t)N * H), *hprev = zerov((int64_t)N * H),
          *gates = zerov((int64_t)N * 4 * H), *gi = zerov((int64_t)N * 3 * H), *gh = zerov((int64_t)B * 3 * H);
    ops_gru_forward(h1, hprev, gates, gi, gh, x, wi, wh, bb, bb + 3 * H, tm_off, tm_tok, N, T, C, H);
    ops_gru_forward_ref(h2, x, wi, wh, bb, bb + 3 * H, offs, B, C, H);
    CHECK(relerr(h1, h2, (int64_t)N * H) < 1e-5);
    float *dx1 = zerov((int64_t)N * C), *dx2 = zerov((int64_t)N * C), *dwi1 = zerov(3 * H * C),
          *dwi2 = zerov(3 * H * C), *dwh1 = zerov(3 * H * H), *dwh2 = zerov(3 * H * H), *db1 = zerov(6 * H),
          *db2 = zerov(6 * H);
    float *dh = zerov((int64_t)N * H), *dgi = zerov((int64_t)N * 3 * H), *dgh = zerov((int64_t)N * 3 * H);
    ops_gru_backward(dx1, dwi1, dwh1, db1, db1 + 3 * H, dh, dgi, dgh, dout, x, wi, wh, hprev, gates, tm_off, tm_tok,
                     N, T, C, H);
    ops_gru_backward_ref(dx2, dwi2, dwh2, db2, db2 + 3 * H, dout, x, wi, wh, bb, bb + 3 * H, offs, B, C, H);
    CHECK(relerr(dx1, dx2, (int64_t)N * C) < 1e-4);
    CHECK(relerr(dwi1, dwi2, 3 * H * C) < 1e-4);
    CHECK(relerr(dwh1, dwh2, 3 * H * H) < 1e-4);
    CHECK(relerr(db1, db2, 6 * H) < 1e-4);
    mgsd_free(x); mgsd_free(wi); mgsd_free(wh); mgsd_free(bb); mgsd_free(dout); mgsd_free(tm_off);
    mgsd_free(tm_tok); mgsd_free(seen); mgsd_free(h1); mgsd_free(h2); mgsd_free(hprev); mgsd_free(gates);
    mgsd_free(gi); mgsd_free(gh); mgsd_free(dx1); mgsd_free(dx2); mgsd_free(dwi1); mgsd_free(dwi2);
    mgsd_free(dwh1); mgsd_free(dwh2); mgsd_free(db1); mgsd_free(db2); mgsd_free(dh); mgsd_free(dgi);
    mgsd_free(dgh);
}

static void test_gumbel(void) {
    mgsd_rng r;
    mgsd_rng_seed(&r, 21);
    int N = 300, K = 5;
    float *x = randv(&r, N * K, 1.0f), *g = zerov(N * K), *dy = randv(&r, N * K, 1.0f);
    ops_gumbel_noise(g, N * K, &r);
    int finite = 1;
    for (int i = 0; i < N * K; i++) finite &= isfinite(g[i]) != 0;
    CHECK(finite);
    float *y1 = zerov(N * K), *y2 = zerov(N * K), *s1 = zerov(N * K), *s2 = zerov(N * K);
    float *d1 = zerov(N * K), *d2 = zerov(N * K);
    for (int hard = 0; hard < 2; hard++) {
        ops_gumbel_softmax_forward(y1, s1, x, g, N, K, 0.5f, hard);
        ops_gumbel_softmax_forward_ref(y2, s2, x, g, N, K, 0.5f, hard);
        CHECK(relerr(s1, s2, N * K) < 1e-5);
        CHECK(relerr(y1, y2, N * K) < 1e-5);
    }
    ops_gumbel_softmax_backward(d1, dy, s1, N, K, 0.5f);
    ops_gumbel_softmax_backward_ref(d2, dy, s2, N, K, 0.5f);
    CHECK(relerr(d1, d2, N * K) < 1e-5);

    /* Autograd: hard output is the one-hot of argmax(ysoft); its gradient equals the soft
     * path's for the same noise (straight-through). */
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 20, 1));
    mgsd_tensor xt;
    float *dx[2] = {zerov(N * K), zerov(N * K)};
    float *ys = zerov(N * K);
    for (int hard = 1; hard >= 0; hard--) {
        ag_tensor_wrap(&xt, x, dx[hard], 2, (int[]){N, K});
        ag_tape_reset(&t);
        mgsd_rng_seed(&t.rng, 5);
        mgsd_tensor *y = ag_gumbel_softmax_st(&t, &xt, 0.5f, hard, 1);
        CHECK(y != NULL);
        if (!y) break;
        if (hard) {
            int bad = 0;
            for (int n = 0; n < N; n++) {
                int ones = 0;
                for (int k = 0; k < K; k++) ones += y->data[n * K + k] == 1.0f, bad += y->data[n * K + k] != 0.0f && y->data[n * K + k] != 1.0f;
                bad += ones != 1;
            }
            CHECK_INT_EQ(bad, 0);
        } else {
            memcpy(ys, y->data, N * K * sizeof(float));
        }
        CHECK_OK(ag_backward_seeded(&t, y, dy));
    }
    CHECK(memcmp(dx[0], dx[1], N * K * sizeof(float)) == 0);
    /* argmax agreement between the hard run and the soft run (same noise) */
    ag_tensor_wrap(&xt, x, NULL, 2, (int[]){N, K});
    ag_tape_reset(&t);
    mgsd_rng_seed(&t.rng, 5);
    mgsd_tensor *yh = ag_gumbel_softmax_st(&t, &xt, 0.5f, 1, 1);
    int mism = 0;
    for (int n = 0; n < N && yh; n++) {
        int am = 0;
        for (int k = 1; k < K; k++) if (ys[n * K + k] > ys[n * K + am]) am = k;
        mism += yh->data[n * K + am] != 1.0f;
    }
    CHECK_INT_EQ(mism, 0);
    /* no noise: deterministic, identical across calls */
    ag_tape_reset(&t);
    mgsd_tensor *a = ag_gumbel_softmax_st(&t, &xt, 0.5f, 0, 0), *b = ag_gumbel_softmax_st(&t, &xt, 0.5f, 0, 0);
    CHECK(a && b && memcmp(a->data, b->data, N * K * sizeof(float)) == 0);
    ag_tape_free(&t);
    mgsd_free(x); mgsd_free(g); mgsd_free(dy); mgsd_free(y1); mgsd_free(y2); mgsd_free(s1); mgsd_free(s2);
    mgsd_free(d1); mgsd_free(d2); mgsd_free(dx[0]); mgsd_free(dx[1]); mgsd_free(ys);
}

/* The hard gumbel draw is a sample of the categorical softmax(x): with two classes,
 * P(class 0) = sigmoid(x0 - x1). So on probabilities (0.9, 0.1) it keeps class 0 with
 * probability sigmoid(0.8) = 0.690, on their logits with probability 0.9. */
static void test_gumbel_distribution(void) {
    enum { R = 20000 };
    mgsd_rng r;
    mgsd_rng_seed(&r, 33);
    float *x = zerov(2 * R), *g = zerov(2 * R), *y = zerov(2 * R), *s = zerov(2 * R);
    const float in[2][2] = {{0.9f, 0.1f}, {logf(0.9f), logf(0.1f)}};
    const double want[2] = {1.0 / (1.0 + exp(-0.8)), 0.9};
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < R; i++) x[2 * i] = in[c][0], x[2 * i + 1] = in[c][1];
        ops_gumbel_noise(g, 2 * R, &r);
        ops_gumbel_softmax_forward(y, s, x, g, R, 2, 0.5f, 1);
        double kept = 0;
        for (int i = 0; i < R; i++) kept += y[2 * i];
        kept /= R;
        /* standard error ~0.0033 at R = 20000 */
        CHECK_NEAR(kept, want[c], 0.015);
    }
    mgsd_free(x); mgsd_free(g); mgsd_free(y); mgsd_free(s);
}

static void test_layout(void) {
    int32_t offs[4] = {0, 2, 2, 5};
    ag_seqs s = {3, offs, 3};
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 16, 1));
    float xd[10];
    for (int i = 0; i < 10; i++) xd[i] = (float)i + 1;
    mgsd_tensor x;
    ag_tensor_wrap(&x, xd, NULL, 2, (int[]){5, 2});
    mgsd_tensor *p = ag_unpack(&t, &x, &s, 4);
    CHECK(p && p->shape[0] == 3 && p->shape[1] == 4 && p->shape[2] == 2);
    if (p) {
        CHECK_NEAR(p->data[2], 3.0f, 0);          /* b0 i1 */
        CHECK_NEAR(p->data[8 + 0], 0.0f, 0);      /* b1 empty */
        CHECK_NEAR(p->data[16 + 4], 9.0f, 0);     /* b2 i2 */
        CHECK_NEAR(p->data[16 + 6], 0.0f, 0);     /* b2 padding */
        mgsd_tensor *q = ag_pack(&t, p, &s);
        CHECK(q && memcmp(q->data, xd, sizeof xd) == 0);
    }
    /* last_token refuses the empty sequence */
    CHECK(ag_last_token(&t, &x, &s) == NULL);
    CHECK_STATUS(ag_status(&t), MGSD_ERR_INVALID_ARG);
    CHECK_CONTAINS(mgsd_last_error(), "last_token");
    ag_tape_free(&t);
}

static void test_bad_args(void) {
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 16, 1));
    float buf[8 * 24] = {0};
    int32_t offs[4] = {0, 1, 4, 8}, bad_mono[4] = {0, 3, 2, 8}, bad_last[4] = {0, 1, 4, 7};
    ag_seqs s = {3, offs, 4}, sm = {3, bad_mono, 4}, sl = {3, bad_last, 4};
    mgsd_tensor qkv, q25, u, E, x;
    ag_tensor_wrap(&qkv, buf, NULL, 2, (int[]){8, 24});
    ag_tensor_wrap(&q25, buf, NULL, 2, (int[]){8, 25});

    /* NULL input: NULL result, status untouched */
    CHECK(ag_attention(&t, NULL, &s, 2, 1, 0) == NULL);
    CHECK_OK(ag_status(&t));
#define EXPECT_ERR(call, st, word)              \
    do {                                        \
        ag_tape_reset(&t);                      \
        CHECK((call) == NULL);                  \
        CHECK_STATUS(ag_status(&t), st);        \
        CHECK_CONTAINS(mgsd_last_error(), word); \
    } while (0)
    EXPECT_ERR(ag_attention(&t, &qkv, NULL, 2, 1, 0), MGSD_ERR_INVALID_ARG, "attention");
    EXPECT_ERR(ag_attention(&t, &q25, &s, 2, 1, 0), MGSD_ERR_SHAPE, "attention: qkv has 25 columns");
    EXPECT_ERR(ag_attention(&t, &qkv, &s, 3, 1, 0), MGSD_ERR_INVALID_ARG, "not divisible by n_heads 3");
    EXPECT_ERR(ag_attention(&t, &qkv, &s, 2, 1, 1.0f), MGSD_ERR_INVALID_ARG, "attn_drop");
    EXPECT_ERR(ag_attention(&t, &qkv, &sm, 2, 1, 0), MGSD_ERR_INVALID_ARG, "attention: offsets not monotone");
    EXPECT_ERR(ag_attention(&t, &qkv, &sl, 2, 1, 0), MGSD_ERR_SHAPE, "attention: last offset");
    ag_seqs sml = {3, offs, 3};
    EXPECT_ERR(ag_attention(&t, &qkv, &sml, 2, 1, 0), MGSD_ERR_INVALID_ARG, "max_len");

    ag_tensor_wrap(&u, buf, NULL, 2, (int[]){2, 4});
    ag_tensor_wrap(&E, buf, NULL, 2, (int[]){10, 4});
    int32_t tg_ok[2] = {0, 9}, tg_bad[2] = {0, 10}, tg_neg[2] = {-1, 0};
    EXPECT_ERR(ag_softmax_xent(&t, &u, &E, tg_bad, 0), MGSD_ERR_INVALID_ARG, "softmax_xent: target[1] = 10");
    EXPECT_ERR(ag_softmax_xent(&t, &u, &E, tg_neg, 0), MGSD_ERR_INVALID_ARG, "softmax_xent: target[0] = -1");
    EXPECT_ERR(ag_softmax_xent(&t, &u, &E, tg_ok, 1), MGSD_ERR_INVALID_ARG, "softmax_xent: target[0] = 0");
    EXPECT_ERR(ag_softmax_xent(&t, &u, &E, NULL, 0), MGSD_ERR_INVALID_ARG, "softmax_xent");
    ag_tensor_wrap(&E, buf, NULL, 2, (int[]){10, 5});
    EXPECT_ERR(ag_softmax_xent(&t, &u, &E, tg_ok, 0), MGSD_ERR_SHAPE, "softmax_xent");

    ag_tensor_wrap(&x, buf, NULL, 2, (int[]){8, 4});
    EXPECT_ERR(ag_gumbel_softmax_st(&t, &x, 0.0f, 1, 0), MGSD_ERR_INVALID_ARG, "gumbel_softmax_st");
    mgsd_tensor wi, wh;
    ag_tensor_wrap(&wi, buf, NULL, 2, (int[]){6, 4});
    ag_tensor_wrap(&wh, buf, NULL, 2, (int[]){6, 3});
    EXPECT_ERR(ag_gru(&t, &x, &s, &wi, &wh, NULL), MGSD_ERR_SHAPE, "gru: w_hh");
    ag_tensor_wrap(&wh, buf, NULL, 2, (int[]){6, 2});
    ag_tensor_wrap(&wi, buf, NULL, 2, (int[]){6, 5});
    EXPECT_ERR(ag_gru(&t, &x, &s, &wi, &wh, NULL), MGSD_ERR_SHAPE, "gru: w_ih");
    ag_tensor_wrap(&wi, buf, NULL, 2, (int[]){6, 4});
    EXPECT_ERR(ag_gru(&t, &x, &sl, &wi, &wh, NULL), MGSD_ERR_SHAPE, "gru: last offset");
    EXPECT_ERR(ag_last_token(&t, &x, &sm), MGSD_ERR_INVALID_ARG, "last_token");
    EXPECT_ERR(ag_unpack(&t, &x, &s, 3), MGSD_ERR_SHAPE, "unpack");

    /* sticky: the first error survives later failures and later valid calls */
    ag_tape_reset(&t);
    ag_attention(&t, &q25, &s, 2, 1, 0);
    ag_softmax_xent(&t, &u, &E, tg_bad, 0);
    CHECK(ag_last_token(&t, &x, &s) != NULL);
    CHECK_STATUS(ag_status(&t), MGSD_ERR_SHAPE);
    CHECK_CONTAINS(mgsd_last_error(), "attention");
    ag_tape_free(&t);
#undef EXPECT_ERR
}

/* A SASRec/GRU4Rec-like step: attention -> last token -> CE, plus GRU and gumbel.
 * The second identical step must not allocate. */
static void test_no_alloc_second_step(void) {
    mgsd_rng r;
    mgsd_rng_seed(&r, 4);
    int B = 32, C = 16, V = 500, H = 16;
    int32_t offs[33];
    int N = make_offs(offs, B, 20, &r);
    ag_seqs s = {B, offs, 20};
    float *pq = randv(&r, (int64_t)N * 3 * C, 1), *gq = zerov((int64_t)N * 3 * C);
    float *pe = randv(&r, (int64_t)V * C, 1), *ge = zerov((int64_t)V * C);
    float *pw = randv(&r, 3 * H * C + 3 * H * H + 6 * H, 0.2f), *gw = zerov(3 * H * C + 3 * H * H + 6 * H);
    int32_t tg[32];
    for (int b = 0; b < B; b++) tg[b] = 1 + b;
    mgsd_tensor q, E, wi, wh, bb;
    ag_tensor_wrap(&q, pq, gq, 2, (int[]){N, 3 * C});
    ag_tensor_wrap(&E, pe, ge, 2, (int[]){V, C});
    ag_tensor_wrap(&wi, pw, gw, 2, (int[]){3 * H, C});
    ag_tensor_wrap(&wh, pw + 3 * H * C, gw + 3 * H * C, 2, (int[]){3 * H, H});
    ag_tensor_wrap(&bb, pw + 3 * H * C + 3 * H * H, gw + 3 * H * C + 3 * H * H, 2, (int[]){2, 3 * H});
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 16, 1)); /* small first block: the first step must grow it */
    uint64_t before = 0;
    for (int step = 0; step < 2; step++) {
        ag_tape_reset(&t); /* folds the arena grown by step 0 into one block */
        if (step == 1) before = mgsd_alloc_count();
        mgsd_tensor *a = ag_attention(&t, &q, &s, 2, 1, 0.2f);
        mgsd_tensor *h = ag_gru(&t, a, &s, &wi, &wh, &bb);
        mgsd_tensor *lt = ag_last_token(&t, h, &s);
        mgsd_tensor *p = ag_unpack(&t, ag_gumbel_softmax_st(&t, a, 0.5f, 1, 1), &s, 20);
        mgsd_tensor *pk = ag_pack(&t, p, &s);
        (void)pk;
        mgsd_tensor *loss = ag_softmax_xent(&t, lt, &E, tg, 0);
        CHECK_OK(ag_status(&t));
        CHECK_OK(ag_backward(&t, loss));
    }
    CHECK_INT_EQ(mgsd_alloc_count() - before, 0);
    ag_tape_free(&t);
    mgsd_free(pq); mgsd_free(gq); mgsd_free(pe); mgsd_free(ge); mgsd_free(pw); mgsd_free(gw);
}

/* Attention dropout multipliers: only 0 and 1/(1-p), zero fraction p within 4 standard
 * errors, identical for the same seed, different for another seed. */
static void test_attention_dropout_mask(float p) {
    enum { B = 40, NH = 2 };
    int32_t offs[B + 1];
    offs[0] = 0;
    for (int b = 0; b < B; b++) offs[b + 1] = offs[b] + 1 + (b * 7) % 50;
    int64_t aoff[B + 1];
    int64_t natt = ops_attention_offsets(aoff, offs, B, NH);
    float *d1 = zerov(natt), *d2 = zerov(natt), *d3 = zerov(natt);
    ops_attention_dropout_mask(d1, aoff, offs, B, NH, p, 5);
    ops_attention_dropout_mask(d2, aoff, offs, B, NH, p, 5);
    ops_attention_dropout_mask(d3, aoff, offs, B, NH, p, 6);
    int64_t zeros = 0, bad = 0;
    for (int64_t e = 0; e < natt; e++) {
        zeros += d1[e] == 0.0f;
        bad += d1[e] != 0.0f && d1[e] != 1.0f / (1.0f - p);
    }
    double frac = (double)zeros / (double)natt, se = sqrt(p * (1.0 - p) / (double)natt);
    CHECK_INT_EQ(bad, 0);
    CHECK(fabs(frac - p) < 4 * se);
    CHECK(memcmp(d1, d2, sizeof(float) * (size_t)natt) == 0);
    CHECK(memcmp(d1, d3, sizeof(float) * (size_t)natt) != 0);
    mgsd_free(d1); mgsd_free(d2); mgsd_free(d3);
}

int main(void) {
    test_attention_dropout_mask(0.5f);
    test_attention_dropout_mask(0.1f);
    test_attention_dropout_mask(0.37f);
    test_attention_vs_ref(64, 2, 1, 0.0f);
    test_attention_vs_ref(100, 2, 1, 0.0f);
    test_attention_vs_ref(64, 2, 0, 0.0f);
    test_attention_vs_ref(100, 2, 0, 0.2f);
    test_attention_padded_equivalence();
    test_xent_vs_ref(64, 0);
    if (!test_quick()) test_xent_vs_ref(100, 1);
    test_gru_vs_ref(64, 64);
    test_gru_vs_ref(100, 100);
    test_gumbel();
    test_gumbel_distribution();
    test_layout();
    test_bad_args();
    test_no_alloc_second_step();
    return test_summary();
}
