/* Layers (src/nn): the transformer's last-token path against the full encoder followed by
 * last_token, in values and in every gradient (parameters and input), for causal and
 * bidirectional attention, one and two layers, gelu and relu. The full path's ops are
 * gradient-checked one by one (test_gradcheck), so agreement here checks the short path. */
#include <stdint.h>

#include "autograd/ag_seq.h"
#include "core/core.h"
#include "nn/nn.h"
#include "ops/matmul.h"
#include "train/params.h"
#include "test_util.h"

typedef struct {
    mgsd_params P;
    nn_transformer tr;
    int x_idx; /* the input is held as one more "parameter" so that its gradient is kept */
} net;

static void net_build(net *n, int C, int layers, nn_act act, int ntok, uint64_t seed) {
    nn_table tb;
    nn_table_init(&tb);
    nn_init init = {PARAMS_INIT_NORMAL, 0.3f};
    nn_transformer_cfg cfg = {layers, C, 2, 3 * C, 0.0f, 0.0f, 1e-12f, act, init};
    CHECK_INT_EQ(nn_transformer_declare(&n->tr, &tb, "enc.", &cfg), MGSD_OK);
    n->x_idx = nn_table_add_weight(&tb, "", "input", ntok, C, init);
    mgsd_rng r;
    mgsd_rng_seed(&r, seed);
    CHECK_INT_EQ(nn_table_build(&tb, &n->P, &r), MGSD_OK);
    /* LayerNorm weights and biases away from 1 / 0, so that their gradients are not special */
    for (int64_t i = 0; i < n->P.total; i++) n->P.data[i] += 0.05f * mgsd_rng_normal(&r);
}

/* Runs one of the two paths, backpropagates sum(w * out) and copies out and all gradients. */
static void run(net *n, const ag_seqs *s, int causal, int last, const float *w, float *out, float *grad) {
    mgsd_tape t;
    CHECK_INT_EQ(ag_tape_init(&t, 0, 5), MGSD_OK);
    t.training = 1;
    params_zero_grads(&n->P);
    mgsd_tensor *x = params_get(&n->P, n->x_idx);
    mgsd_tensor *y = last ? nn_transformer_forward_last(&n->tr, &t, &n->P, x, s, causal)
                          : ag_last_token(&t, nn_transformer_forward(&n->tr, &t, &n->P, x, s, causal), s);
    CHECK_INT_EQ(ag_status(&t), MGSD_OK);
    if (y) {
        CHECK_INT_EQ(y->shape[0], s->B);
        CHECK_INT_EQ(ag_backward_seeded(&t, y, w), MGSD_OK);
        memcpy(out, y->data, sizeof(float) * (size_t)y->n);
        memcpy(grad, n->P.grad, sizeof(float) * (size_t)n->P.total);
    }
    ag_tape_free(&t);
}

static double maxrel(const float *a, const float *b, int64_t n) {
    double m = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return m / (1e-3 + s);
}

static void test_last_path(int C, int layers, nn_act act, int causal) {
    enum { B = 9 };
    int32_t offs[B + 1] = {0};
    int lens[B] = {1, 4, 2, 7, 1, 3, 5, 6, 2};
    for (int b = 0; b < B; b++) offs[b + 1] = offs[b] + lens[b];
    ag_seqs s = {B, offs, 7};
    net n;
    net_build(&n, C, layers, act, offs[B], 100 + (uint64_t)(C + layers + causal));
    mgsd_rng r;
    mgsd_rng_seed(&r, 3);
    float *w = mgsd_malloc(sizeof(float) * B * C);
    for (int i = 0; i < B * C; i++) w[i] = mgsd_rng_normal(&r);
    float *o1 = mgsd_calloc((size_t)B * C, sizeof(float)), *o2 = mgsd_calloc((size_t)B * C, sizeof(float));
    float *g1 = mgsd_calloc((size_t)n.P.total, sizeof(float)), *g2 = mgsd_calloc((size_t)n.P.total, sizeof(float));
    run(&n, &s, causal, 0, w, o1, g1);
    run(&n, &s, causal, 1, w, o2, g2);
    double eo = maxrel(o2, o1, (int64_t)B * C), eg = maxrel(g2, g1, n.P.total);
    if (eo > 1e-5 || eg > 1e-4)
        fprintf(stderr, "C %d layers %d causal %d: output rel err %.3g, gradient rel err %.3g\n", C, layers, causal,
                eo, eg);
    CHECK(eo <= 1e-5);
    CHECK(eg <= 1e-4);
    /* every parameter tensor and the input receive gradient on both paths */
    int zero = 0;
    for (int i = 0; i < n.P.count; i++) {
        mgsd_tensor *gi = params_get(&n.P, i);
        double sum = 0;
        for (int64_t k = 0; k < gi->n; k++) sum += fabs(g2[(gi->data - n.P.data) + k]);
        if (sum == 0) zero++;
    }
    CHECK_INT_EQ(zero, 0);
    mgsd_free(w);
    mgsd_free(o1);
    mgsd_free(o2);
    mgsd_free(g1);
    mgsd_free(g2);
    params_free(&n.P);
}

/* An empty sequence has no last token: a clear error, no crash. */
static void test_empty_sequence(void) {
    int32_t offs[3] = {0, 2, 2};
    ag_seqs s = {2, offs, 2};
    net n;
    net_build(&n, 4, 1, NN_ACT_RELU, 2, 1);
    mgsd_tape t;
    CHECK_INT_EQ(ag_tape_init(&t, 0, 1), MGSD_OK);
    mgsd_tensor *y = nn_transformer_forward_last(&n.tr, &t, &n.P, params_get(&n.P, n.x_idx), &s, 1);
    CHECK(y == NULL);
    CHECK(ag_status(&t) != MGSD_OK);
    CHECK(strstr(mgsd_last_error(), "empty") != NULL);
    ag_tape_free(&t);
    params_free(&n.P);
}

/* ag_backward_seeded from a tensor that a later linear reads: the seed must survive, so the
 * tape zeroes the seed's gradient even though its only reader is a linear (which would
 * otherwise write it with "="). dx = seed . W1. */
static void test_seed_read_by_linear(void) {
    mgsd_rng r;
    mgsd_rng_seed(&r, 9);
    enum { N = 6, C = 5, H = 4 };
    float xd[N * C], xg[N * C] = {0}, w1d[H * C], w1g[H * C] = {0}, w2d[H * H], w2g[H * H] = {0}, seed[N * H];
    for (int i = 0; i < N * C; i++) xd[i] = mgsd_rng_normal(&r);
    for (int i = 0; i < H * C; i++) w1d[i] = mgsd_rng_normal(&r);
    for (int i = 0; i < H * H; i++) w2d[i] = mgsd_rng_normal(&r);
    for (int i = 0; i < N * H; i++) seed[i] = mgsd_rng_normal(&r);
    mgsd_tensor x, w1, w2;
    ag_tensor_wrap(&x, xd, xg, 2, (int[]){N, C});
    ag_tensor_wrap(&w1, w1d, w1g, 2, (int[]){H, C});
    ag_tensor_wrap(&w2, w2d, w2g, 2, (int[]){H, H});
    mgsd_tape t;
    CHECK_INT_EQ(ag_tape_init(&t, 0, 1), MGSD_OK);
    mgsd_tensor *h = ag_linear(&t, &x, &w1, NULL);
    mgsd_tensor *z = ag_linear(&t, h, &w2, NULL);
    CHECK(z != NULL);
    CHECK_INT_EQ(ag_backward_seeded(&t, h, seed), MGSD_OK);
    double worst = 0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            double e = 0;
            for (int o = 0; o < H; o++) e += (double)seed[n * H + o] * w1d[o * C + c];
            if (fabs(e - xg[n * C + c]) > worst) worst = fabs(e - xg[n * C + c]);
        }
    CHECK(worst < 1e-5);
    ag_tape_free(&t);
}

/* The tape's linear and linear+relu backward at a tall weight big enough for the
 * transposed weight-gradient product (workspace from the arena, handed back after each
 * node): every gradient against the plain reference loops, and the backward of the first
 * step (before the arena has a high-water mark) grows the arena by one workspace for the
 * two nodes, not two. */
static void test_tall_linear_backward(void) {
    enum { N = 700, C = 24, H = 200 }; /* H >= 4 C; H C N above the library threshold */
    mgsd_rng r;
    mgsd_rng_seed(&r, 11);
    float *xd = malloc(sizeof(float) * N * C), *xg = calloc(N * C, sizeof(float));
    float *w1d = malloc(sizeof(float) * H * C), *w1g = calloc(H * C, sizeof(float));
    float *b1d = malloc(sizeof(float) * H), *b1g = calloc(H, sizeof(float));
    float *w2d = malloc(sizeof(float) * H * C), *w2g = calloc(H * C, sizeof(float));
    float *seed = malloc(sizeof(float) * N * H);
    for (int i = 0; i < N * C; i++) xd[i] = mgsd_rng_normal(&r);
    for (int i = 0; i < H * C; i++) w1d[i] = 0.3f * mgsd_rng_normal(&r), w2d[i] = 0.3f * mgsd_rng_normal(&r);
    for (int i = 0; i < H; i++) b1d[i] = 0.1f * mgsd_rng_normal(&r);
    for (int i = 0; i < N * H; i++) seed[i] = mgsd_rng_normal(&r);
    mgsd_tensor x, w1, b1, w2;
    ag_tensor_wrap(&x, xd, xg, 2, (int[]){N, C});
    ag_tensor_wrap(&w1, w1d, w1g, 2, (int[]){H, C});
    ag_tensor_wrap(&b1, b1d, b1g, 1, (int[]){H});
    ag_tensor_wrap(&w2, w2d, w2g, 2, (int[]){H, C});
    mgsd_tape t;
    CHECK_INT_EQ(ag_tape_init(&t, 0, 1), MGSD_OK);
    size_t grown = 0;
    for (int step = 0; step < 2; step++) {
        memset(xg, 0, sizeof(float) * N * C);
        memset(w1g, 0, sizeof(float) * H * C);
        memset(b1g, 0, sizeof(float) * H);
        memset(w2g, 0, sizeof(float) * H * C);
        ag_tape_reset(&t);
        /* z = relu(x w1^T + b1) + x w2^T; backward seeded with `seed` on z */
        mgsd_tensor *h = ag_linear_relu(&t, &x, &w1, &b1);
        mgsd_tensor *g = ag_linear(&t, &x, &w2, NULL);
        mgsd_tensor *z = ag_add(&t, h, g);
        CHECK(z != NULL);
        if (!z) break;
        float *hd = malloc(sizeof(float) * N * H);
        memcpy(hd, h->data, sizeof(float) * N * H);
        size_t used0 = t.arena.used;
        CHECK_INT_EQ(ag_backward_seeded(&t, z, seed), MGSD_OK);
        if (step == 0) grown = t.arena.peak - used0;
        /* reference: dh = seed masked by relu; dw1 = dh^T x, db1 = colsum dh, dw2 = seed^T x,
         * dx = dh w1 + seed w2 */
        float *dh = malloc(sizeof(float) * N * H);
        for (int i = 0; i < N * H; i++) dh[i] = hd[i] > 0 ? seed[i] : 0.0f;
        float *rx = calloc(N * C, sizeof(float)), *rw1 = calloc(H * C, sizeof(float)), *rb1 = calloc(H, sizeof(float));
        float *rw2 = calloc(H * C, sizeof(float));
        ops_linear_backward_ref(rx, rw1, rb1, dh, xd, w1d, N, C, H);
        ops_linear_backward_ref(rx, rw2, NULL, seed, xd, w2d, N, C, H);
        CHECK_CLOSE("tall linear_relu dw", w1g, rw1, H * C, 1e-3, 1e-4);
        CHECK_CLOSE("tall linear_relu db", b1g, rb1, H, 1e-3, 1e-4);
        CHECK_CLOSE("tall linear dw", w2g, rw2, H * C, 1e-3, 1e-4);
        CHECK_CLOSE("tall linear dx", xg, rx, N * C, 1e-3, 1e-4);
        free(hd), free(dh), free(rx), free(rw1), free(rb1), free(rw2);
    }
    CHECK(grown >= sizeof(float) * H * C && grown < 2 * sizeof(float) * H * C);
    ag_tape_free(&t);
    free(xd), free(xg), free(w1d), free(w1g), free(b1d), free(b1g), free(w2d), free(w2g), free(seed);
}

int main(void) {
    test_tall_linear_backward();
    test_last_path(8, 1, NN_ACT_RELU, 1);
    test_last_path(8, 2, NN_ACT_RELU, 1);
    test_last_path(8, 2, NN_ACT_GELU, 0);
    test_last_path(12, 3, NN_ACT_GELU, 1);
    test_empty_sequence();
    test_seed_read_by_linear();
    return test_summary();
}
