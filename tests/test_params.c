/* Parameter set: layout and alignment, deterministic initialisation, init statistics,
 * lookup, zeroing, global norm and clipping against hand-computed values, copy/compare,
 * table validation. */
#include <stdint.h>

#include "test_util.h"
#include "train/params.h"

static double sample_std(const float *x, int64_t n, double *mean_out) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    double mean = s / n;
    for (int64_t i = 0; i < n; i++) s2 += (x[i] - mean) * (x[i] - mean);
    if (mean_out) *mean_out = mean;
    return sqrt(s2 / n);
}

static const params_spec model[] = {
    {"item_embedding.weight", 2, {1000, 64}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 0},
    {"dense.weight", 2, {48, 64}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 0},
    {"dense.bias", 1, {48}, PARAMS_INIT_ZEROS, 0, 0, 0},
    {"ln.weight", 1, {5}, PARAMS_INIT_ONES, 0, 0, 0},
    {"pos.weight", 2, {50, 64}, PARAMS_INIT_NORMAL, 0.02f, 0, 0},
    {"conv.weight", 3, {30, 20, 10}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 0},
    {"u", 4, {2, 3, 4, 5}, PARAMS_INIT_UNIFORM, -0.5f, 0.25f, 0},
};
#define NMODEL ((int)(sizeof model / sizeof model[0]))

static void check_layout_and_init(void) {
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 2020);
    mgsd_params p;
    uint64_t allocs0 = mgsd_alloc_count();
    CHECK_OK(params_init(&p, model, NMODEL, &rng));
    CHECK_INT_EQ(p.count, NMODEL);
    int64_t numel = 64000 + 48 * 64 + 48 + 5 + 50 * 64 + 6000 + 120;
    CHECK_INT_EQ(params_count(&p), numel);
    CHECK(p.total >= numel);
    CHECK(((uintptr_t)p.data & 63) == 0 && ((uintptr_t)p.grad & 63) == 0);
    int64_t end = 0;
    for (int i = 0; i < p.count; i++) {
        mgsd_tensor *t = params_get(&p, i);
        CHECK(((uintptr_t)t->data & 63) == 0);
        CHECK(t->data == p.data + p.offsets[i]);
        CHECK(t->grad == p.grad + p.offsets[i]);
        CHECK(p.offsets[i] >= end); /* no overlap, table order */
        CHECK_INT_EQ(t->ndim, model[i].ndim);
        CHECK_INT_EQ(t->shape[0], model[i].shape[0]);
        end = p.offsets[i] + t->n;
        /* padding after the tensor is zero */
        int64_t next = i + 1 < p.count ? p.offsets[i + 1] : p.total;
        for (int64_t j = end; j < next; j++) CHECK(p.data[j] == 0.0f);
    }
    CHECK(params_get(&p, NMODEL) == NULL && params_get(&p, -1) == NULL);
    /* one buffer each for values and gradients (+ small metadata arrays) */
    CHECK(mgsd_alloc_count() - allocs0 <= 8 + NMODEL);

    /* init statistics */
    double mean, sd;
    sd = sample_std(p.tensors[0].data, p.tensors[0].n, &mean);
    CHECK_NEAR(sd, sqrt(2.0 / (64 + 1000)), 0.02 * sqrt(2.0 / (64 + 1000)));
    CHECK_NEAR(mean, 0.0, 0.002);
    sd = sample_std(p.tensors[1].data, p.tensors[1].n, NULL);
    CHECK_NEAR(sd, sqrt(2.0 / (64 + 48)), 0.05 * sqrt(2.0 / (64 + 48)));
    /* 3-D: fan_in = 20*10, fan_out = 30*10 */
    sd = sample_std(p.tensors[5].data, p.tensors[5].n, NULL);
    CHECK_NEAR(sd, sqrt(2.0 / (200 + 300)), 0.05 * sqrt(2.0 / 500));
    sd = sample_std(p.tensors[4].data, p.tensors[4].n, NULL);
    CHECK_NEAR(sd, 0.02, 0.001);
    int zeros_ok = 1, ones_ok = 1, unif_ok = 1;
    for (int j = 0; j < 48; j++) zeros_ok &= p.tensors[2].data[j] == 0.0f;
    for (int j = 0; j < 5; j++) ones_ok &= p.tensors[3].data[j] == 1.0f;
    double umin = 1, umax = -1;
    for (int j = 0; j < 120; j++) {
        float u = p.tensors[6].data[j];
        unif_ok &= u >= -0.5f && u < 0.25f;
        umin = fmin(umin, u);
        umax = fmax(umax, u);
    }
    CHECK(zeros_ok && ones_ok && unif_ok);
    CHECK(umin < -0.4 && umax > 0.15);
    for (int64_t j = 0; j < p.total; j++)
        if (p.grad[j] != 0.0f) { CHECK(!"gradient not zero after init"); break; }

    /* deterministic: same seed, same values; other seed, other values */
    mgsd_params q;
    mgsd_rng_seed(&rng, 2020);
    CHECK_OK(params_init(&q, model, NMODEL, &rng));
    CHECK(params_same_layout(&p, &q));
    CHECK_INT_EQ(params_layout_hash(&p), params_layout_hash(&q));
    double diff = -1;
    CHECK_OK(params_max_abs_diff(&p, &q, &diff));
    CHECK(diff == 0.0);
    CHECK(memcmp(p.data, q.data, (size_t)p.total * sizeof(float)) == 0);
    mgsd_rng_seed(&rng, 7);
    params_reset_values(&q, &rng);
    CHECK_OK(params_max_abs_diff(&p, &q, &diff));
    CHECK(diff > 0.01);
    CHECK_OK(params_copy_values(&q, &p));
    CHECK_OK(params_max_abs_diff(&p, &q, &diff));
    CHECK(diff == 0.0);
    q.data[p.offsets[3] + 2] += 0.5f;
    CHECK_OK(params_max_abs_diff(&p, &q, &diff));
    CHECK_NEAR(diff, 0.5, 1e-6);

    /* lookup */
    mgsd_tensor *t = NULL;
    CHECK_OK(params_find(&p, "dense.bias", &t));
    CHECK(t == &p.tensors[2]);
    CHECK_INT_EQ(params_index(&p, "ln.weight"), 3);
    CHECK_INT_EQ(params_index(&p, "nope"), -1);
    CHECK_STATUS(params_find(&p, "dense.bais", &t), MGSD_ERR_NOT_FOUND);
    CHECK_CONTAINS(mgsd_last_error(), "parameter 'dense.bais' not found");
    CHECK_CONTAINS(mgsd_last_error(), "dense.bias");

    params_free(&q);
    params_free(&p);
    params_free(&p); /* idempotent */
}

static void check_norm_and_clip(void) {
    params_spec spec[] = {{"a", 2, {2, 2}, PARAMS_INIT_ZEROS, 0, 0, 0}, {"b", 1, {1}, PARAMS_INIT_ZEROS, 0, 0, 0}};
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 1);
    mgsd_params p;
    CHECK_OK(params_init(&p, spec, 2, &rng));
    /* gradients (1, 2, 2, 0) and (4): norm sqrt(1+4+4+16) = 5 */
    float g[5] = {1, 2, 2, 0, 4};
    memcpy(p.tensors[0].grad, g, 4 * sizeof(float));
    p.tensors[1].grad[0] = g[4];
    CHECK_NEAR(params_grad_norm(&p), 5.0, 1e-12);
    double norm = 0;
    /* max_norm above the norm: unchanged (coef = 10/5.000001 >= 1) */
    CHECK_OK(params_clip_grad_norm(&p, 10.0, &norm));
    CHECK_NEAR(norm, 5.0, 1e-12);
    CHECK(p.tensors[0].grad[1] == 2.0f);
    /* max_norm 2: coef = 2 / (5 + 1e-6) */
    CHECK_OK(params_clip_grad_norm(&p, 2.0, &norm));
    double coef = 2.0 / (5.0 + 1e-6);
    CHECK_NEAR(norm, 5.0, 1e-12);
    CHECK_NEAR(p.tensors[0].grad[0], 1.0 * coef, 1e-7);
    CHECK_NEAR(p.tensors[0].grad[2], 2.0 * coef, 1e-7);
    CHECK_NEAR(p.tensors[1].grad[0], 4.0 * coef, 1e-7);
    CHECK_NEAR(params_grad_norm(&p), 2.0, 1e-5);
    CHECK_STATUS(params_clip_grad_norm(&p, 0.0, NULL), MGSD_ERR_INVALID_ARG);
    p.tensors[0].grad[3] = NAN;
    float before = p.tensors[0].grad[0];
    CHECK_STATUS(params_clip_grad_norm(&p, 1.0, &norm), MGSD_ERR_NUMERIC);
    CHECK_CONTAINS(mgsd_last_error(), "1 of 4 gradient values of 'a' are NaN or Inf (the only tensor with non-finite");
    CHECK(p.tensors[0].grad[0] == before);
    p.tensors[1].grad[0] = INFINITY; /* both tensors: 'a' is still named first */
    p.tensors[0].grad[1] = -INFINITY;
    CHECK_STATUS(params_clip_grad_norm(&p, 1.0, &norm), MGSD_ERR_NUMERIC);
    CHECK_CONTAINS(mgsd_last_error(), "2 of 4 gradient values of 'a' are NaN or Inf (the first of 2 tensors with");
    p.tensors[0].grad[1] = 2.0f;
    p.tensors[0].grad[3] = 0.0f;
    CHECK_STATUS(params_clip_grad_norm(&p, 1.0, &norm), MGSD_ERR_NUMERIC);
    CHECK_CONTAINS(mgsd_last_error(), "1 of 1 gradient values of 'b' are NaN or Inf (the only tensor with non-finite");
    params_zero_grads(&p);
    for (int64_t j = 0; j < p.total; j++) CHECK(p.grad[j] == 0.0f);
    CHECK(params_grad_norm(&p) == 0.0);
    params_free(&p);

    /* large buffer (OpenMP reduction) against a serial sum */
    int n = test_quick() ? 100000 : 1000000;
    params_spec big[] = {{"x", 1, {n}, PARAMS_INIT_ZEROS, 0, 0, 0}, {"y", 2, {3, 3}, PARAMS_INIT_ZEROS, 0, 0, 0}};
    CHECK_OK(params_init(&p, big, 2, &rng));
    double s = 0;
    for (int64_t j = 0; j < p.total; j++) {
        p.grad[j] = (float)((j % 17) - 8) * 0.125f;
        s += (double)p.grad[j] * p.grad[j];
    }
    CHECK_NEAR(params_grad_norm(&p), sqrt(s), 1e-9 * sqrt(s));
    params_free(&p);
}

static void check_bad_tables(void) {
    mgsd_rng rng;
    mgsd_rng_seed(&rng, 1);
    mgsd_params p;
    params_spec dup[] = {{"w", 1, {3}, PARAMS_INIT_ZEROS, 0, 0, 0}, {"w", 1, {3}, PARAMS_INIT_ZEROS, 0, 0, 0}};
    CHECK_STATUS(params_init(&p, dup, 2, &rng), MGSD_ERR_INVALID_ARG);
    CHECK_CONTAINS(mgsd_last_error(), "duplicate parameter name 'w'");
    CHECK(p.data == NULL && p.count == 0);
    params_spec xav1[] = {{"bias", 1, {3}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 0}};
    CHECK_STATUS(params_init(&p, xav1, 1, &rng), MGSD_ERR_SHAPE);
    CHECK_CONTAINS(mgsd_last_error(), "'bias': xavier_normal needs at least 2 dims");
    params_spec zero_dim[] = {{"e", 2, {0, 3}, PARAMS_INIT_ZEROS, 0, 0, 0}};
    CHECK_STATUS(params_init(&p, zero_dim, 1, &rng), MGSD_ERR_SHAPE);
    params_spec ndim5[] = {{"e", 5, {1, 1, 1, 1}, PARAMS_INIT_ZEROS, 0, 0, 0}};
    CHECK_STATUS(params_init(&p, ndim5, 1, &rng), MGSD_ERR_SHAPE);
    params_spec unif[] = {{"u", 1, {3}, PARAMS_INIT_UNIFORM, 1.0f, -1.0f, 0}};
    CHECK_STATUS(params_init(&p, unif, 1, &rng), MGSD_ERR_INVALID_ARG);
    params_spec badblk[] = {{"qkv", 2, {10, 4}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 3}};
    CHECK_STATUS(params_init(&p, badblk, 1, &rng), MGSD_ERR_INVALID_ARG);
    CHECK_CONTAINS(mgsd_last_error(), "'qkv': 3 stacked blocks do not divide its first dimension 10");
    params_spec noname[] = {{"", 1, {3}, PARAMS_INIT_ZEROS, 0, 0, 0}};
    CHECK_STATUS(params_init(&p, noname, 1, &rng), MGSD_ERR_INVALID_ARG);
    CHECK_STATUS(params_init(&p, NULL, 1, &rng), MGSD_ERR_INVALID_ARG);
#ifndef __SANITIZE_ADDRESS__ /* ASan aborts on such a request instead of returning NULL */
    /* a table too big to allocate (2^46 floats) names its largest tensor */
    params_spec huge[] = {{"small", 1, {3}, PARAMS_INIT_ZEROS, 0, 0, 0},
                          {"position_embedding.weight", 2, {1 << 30, 1 << 16}, PARAMS_INIT_ZEROS, 0, 0, 0}};
    CHECK_STATUS(params_init(&p, huge, 2, &rng), MGSD_ERR_NOMEM);
    CHECK_CONTAINS(mgsd_last_error(), "2 parameter tensors (262144.00 GiB");
    CHECK_CONTAINS(mgsd_last_error(), "the largest is 'position_embedding.weight' [1073741824, 65536]");
    CHECK(p.data == NULL && p.count == 0);
#endif
    /* layouts that differ are refused by copy/compare */
    params_spec a[] = {{"w", 1, {3}, PARAMS_INIT_ZEROS, 0, 0, 0}};
    params_spec b[] = {{"w", 1, {4}, PARAMS_INIT_ZEROS, 0, 0, 0}};
    mgsd_params pa, pb;
    CHECK_OK(params_init(&pa, a, 1, &rng));
    CHECK_OK(params_init(&pb, b, 1, &rng));
    CHECK(!params_same_layout(&pa, &pb));
    CHECK(params_layout_hash(&pa) != params_layout_hash(&pb));
    CHECK_STATUS(params_copy_values(&pa, &pb), MGSD_ERR_SHAPE);
    double d;
    CHECK_STATUS(params_max_abs_diff(&pa, &pb, &d), MGSD_ERR_SHAPE);
    params_free(&pa);
    params_free(&pb);
    CHECK_STR_EQ(params_init_name(PARAMS_INIT_XAVIER_NORMAL), "xavier_normal");
}

/* A weight of stacked blocks (attention's query, key and value in one [3C, C]) draws each
 * block with its own fans: std sqrt(2 / (C + C)), not sqrt(2 / (C + 3C)); the same rng
 * stream (only the scale differs), and other init kinds ignore the block count. */
static void check_stacked_blocks(void) {
    const params_spec one[] = {{"qkv.weight", 2, {192, 64}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 0},
                               {"after", 2, {8, 8}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 0}};
    const params_spec three[] = {{"qkv.weight", 2, {192, 64}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 3},
                                 {"after", 2, {8, 8}, PARAMS_INIT_XAVIER_NORMAL, 0, 0, 0}};
    mgsd_rng r1, r3;
    mgsd_rng_seed(&r1, 7);
    mgsd_rng_seed(&r3, 7);
    mgsd_params p1, p3;
    CHECK_OK(params_init(&p1, one, 2, &r1));
    CHECK_OK(params_init(&p3, three, 2, &r3));
    const double s1 = sqrt(2.0 / (64 + 192)), s3 = sqrt(2.0 / (64 + 64));
    for (int blk = 0; blk < 3; blk++) {
        double sd = sample_std(p3.tensors[0].data + blk * 64 * 64, 64 * 64, NULL);
        CHECK_NEAR(sd, s3, 0.05 * s3);
    }
    CHECK_NEAR(sample_std(p1.tensors[0].data, p1.tensors[0].n, NULL), s1, 0.05 * s1);
    int scaled = 1, same_after = 1;
    for (int64_t i = 0; i < p1.tensors[0].n; i++)
        scaled &= fabs(p3.tensors[0].data[i] - p1.tensors[0].data[i] * (float)(s3 / s1)) <= 1e-6;
    for (int64_t i = 0; i < p1.tensors[1].n; i++) same_after &= p3.tensors[1].data[i] == p1.tensors[1].data[i];
    CHECK(scaled && same_after);
    params_free(&p1);
    params_free(&p3);
    const params_spec nrm[] = {{"qkv.weight", 2, {30, 4}, PARAMS_INIT_NORMAL, 0.02f, 0, 3}};
    const params_spec nrm1[] = {{"qkv.weight", 2, {30, 4}, PARAMS_INIT_NORMAL, 0.02f, 0, 0}};
    mgsd_rng_seed(&r1, 9);
    mgsd_rng_seed(&r3, 9);
    CHECK_OK(params_init(&p1, nrm1, 1, &r1));
    CHECK_OK(params_init(&p3, nrm, 1, &r3));
    CHECK(memcmp(p1.data, p3.data, 120 * sizeof(float)) == 0);
    params_free(&p1);
    params_free(&p3);
}

int main(void) {
    check_layout_and_init();
    check_stacked_blocks();
    check_norm_and_clip();
    check_bad_tables();
    return test_summary();
}
