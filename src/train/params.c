/* Parameter set: one value buffer and one gradient buffer from a size table
 * (see params.h for the layout contract). */
#include "train/params.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PARAMS_ALIGN_FLOATS 16 /* 64 bytes */
#define PARAMS_OMP_MIN 32768   /* below this, threads cost more than they save */

static const char *const init_names[PARAMS_INIT_COUNT] = {
    "xavier_normal", "normal", "zeros", "ones", "uniform",
};

static mgsd_status params_check_spec(const params_spec *table, int count, int i) {
    const params_spec *s = &table[i];
    if (!s->name || !s->name[0])
        return mgsd_error(MGSD_ERR_INVALID_ARG, "params: entry %d has no name", i);
    for (int j = 0; j < i; j++)
        if (strcmp(table[j].name, s->name) == 0)
            return mgsd_error(MGSD_ERR_INVALID_ARG, "params: duplicate parameter name '%s' (entries %d and %d)",
                              s->name, j, i);
    if (s->ndim < 1 || s->ndim > AG_MAX_DIMS)
        return mgsd_error(MGSD_ERR_SHAPE, "params: '%s' has ndim %d (expected 1..%d)", s->name, s->ndim,
                          AG_MAX_DIMS);
    for (int d = 0; d < s->ndim; d++)
        if (s->shape[d] <= 0)
            return mgsd_error(MGSD_ERR_SHAPE, "params: '%s' has dimension %d of size %d", s->name, d,
                              s->shape[d]);
    if ((int)s->init < 0 || s->init >= PARAMS_INIT_COUNT)
        return mgsd_error(MGSD_ERR_INVALID_ARG, "params: '%s' has unknown init kind %d", s->name, (int)s->init);
    if (s->init == PARAMS_INIT_XAVIER_NORMAL && s->ndim < 2)
        return mgsd_error(MGSD_ERR_SHAPE, "params: '%s': xavier_normal needs at least 2 dims, got %d", s->name,
                          s->ndim);
    if (s->blocks < 0 || (s->blocks > 1 && s->shape[0] % s->blocks != 0))
        return mgsd_error(MGSD_ERR_INVALID_ARG, "params: '%s': %d stacked blocks do not divide its first dimension %d",
                          s->name, s->blocks, s->shape[0]);
    if (s->init == PARAMS_INIT_NORMAL && !(s->a >= 0.0f))
        return mgsd_error(MGSD_ERR_INVALID_ARG, "params: '%s': normal init needs std >= 0, got %g", s->name,
                          (double)s->a);
    if (s->init == PARAMS_INIT_UNIFORM && !(s->a <= s->b))
        return mgsd_error(MGSD_ERR_INVALID_ARG, "params: '%s': uniform init needs a <= b, got [%g, %g)", s->name,
                          (double)s->a, (double)s->b);
    (void)count;
    return MGSD_OK;
}

static void params_fill(float *x, int64_t n, const mgsd_tensor *t, params_init_kind kind, float a, float b,
                        int blocks, mgsd_rng *rng) {
    switch (kind) {
    case PARAMS_INIT_XAVIER_NORMAL: {
        /* torch.nn.init._calculate_fan_in_and_fan_out, per stacked block (all blocks have
         * the same fans, so one std) */
        double rf = 1.0;
        for (int d = 2; d < t->ndim; d++) rf *= t->shape[d];
        double fan_in = t->shape[1] * rf, fan_out = (double)(t->shape[0] / blocks) * rf;
        float std = (float)sqrt(2.0 / (fan_in + fan_out));
        for (int64_t i = 0; i < n; i++) x[i] = std * mgsd_rng_normal(rng);
        break;
    }
    case PARAMS_INIT_NORMAL:
        for (int64_t i = 0; i < n; i++) x[i] = a * mgsd_rng_normal(rng);
        break;
    case PARAMS_INIT_ZEROS:
        memset(x, 0, (size_t)n * sizeof(float));
        break;
    case PARAMS_INIT_ONES:
        for (int64_t i = 0; i < n; i++) x[i] = 1.0f;
        break;
    case PARAMS_INIT_UNIFORM:
        for (int64_t i = 0; i < n; i++) x[i] = a + (b - a) * mgsd_rng_uniform(rng);
        break;
    default:
        MGSD_ASSERT(0 && "unknown init kind");
    }
}

mgsd_status params_init(mgsd_params *p, const params_spec *table, int count, mgsd_rng *rng) {
    MGSD_CHECK_ARG(p != NULL);
    memset(p, 0, sizeof *p);
    MGSD_CHECK_ARG(table != NULL || count == 0);
    MGSD_CHECK_ARG(count >= 0);
    MGSD_CHECK_ARG(rng != NULL);
    for (int i = 0; i < count; i++) MGSD_TRY(params_check_spec(table, count, i));

    mgsd_params q;
    memset(&q, 0, sizeof q);
    q.count = count;
    size_t cnt = count > 0 ? (size_t)count : 1;
    q.names = mgsd_calloc(cnt, sizeof *q.names);
    q.inits = mgsd_calloc(cnt, sizeof *q.inits);
    q.init_args = mgsd_calloc(cnt, sizeof *q.init_args);
    q.blocks = mgsd_calloc(cnt, sizeof *q.blocks);
    q.tensors = mgsd_calloc(cnt, sizeof *q.tensors);
    q.offsets = mgsd_calloc(cnt, sizeof *q.offsets);
    if (!q.names || !q.inits || !q.init_args || !q.blocks || !q.tensors || !q.offsets) goto nomem;

    int64_t off = 0;
    int big = -1; /* the largest tensor, named when the buffers cannot be allocated */
    for (int i = 0; i < count; i++) {
        int64_t n = ag_numel(table[i].ndim, table[i].shape);
        if (big < 0 || n > ag_numel(table[big].ndim, table[big].shape)) big = i;
        q.offsets[i] = off;
        q.numel += n;
        off += (n + PARAMS_ALIGN_FLOATS - 1) / PARAMS_ALIGN_FLOATS * PARAMS_ALIGN_FLOATS;
        q.names[i] = mgsd_strdup(table[i].name);
        if (!q.names[i]) goto nomem;
        q.inits[i] = table[i].init;
        q.init_args[i][0] = table[i].a;
        q.init_args[i][1] = table[i].b;
        q.blocks[i] = table[i].blocks > 1 ? table[i].blocks : 1;
    }
    q.total = off;
    size_t bytes_n = off > 0 ? (size_t)off : PARAMS_ALIGN_FLOATS;
    q.data = mgsd_calloc(bytes_n, sizeof(float));
    q.grad = mgsd_calloc(bytes_n, sizeof(float));
    if (!q.data || !q.grad) {
        params_free(&q);
        char shape[96];
        int k = snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < table[big].ndim && k < (int)sizeof shape - 24; d++)
            k += snprintf(shape + k, sizeof shape - (size_t)k, d ? ", %d" : "%d", table[big].shape[d]);
        snprintf(shape + k, sizeof shape - (size_t)k, "]");
        return mgsd_error(MGSD_ERR_NOMEM,
                          "params: out of memory for %d parameter tensors (%.2f GiB of values and as much of "
                          "gradients; the largest is '%s' %s): %s",
                          count, (double)bytes_n * sizeof(float) / (1 << 30), table[big].name, shape,
                          mgsd_last_error()); /* the allocator's reason, which names the memory limit */
    }
    for (int i = 0; i < count; i++)
        ag_tensor_wrap(&q.tensors[i], q.data + q.offsets[i], q.grad + q.offsets[i], table[i].ndim,
                       table[i].shape);
    params_reset_values(&q, rng);
    *p = q;
    return MGSD_OK;

nomem:
    params_free(&q);
    return mgsd_error(MGSD_ERR_NOMEM, "params: out of memory allocating %d parameter tensors", count);
}

void params_free(mgsd_params *p) {
    if (!p) return;
    if (p->names)
        for (int i = 0; i < p->count; i++) mgsd_free(p->names[i]);
    mgsd_free(p->names);
    mgsd_free(p->inits);
    mgsd_free(p->init_args);
    mgsd_free(p->blocks);
    mgsd_free(p->tensors);
    mgsd_free(p->offsets);
    mgsd_free(p->data);
    mgsd_free(p->grad);
    memset(p, 0, sizeof *p);
}

void params_reset_values(mgsd_params *p, mgsd_rng *rng) {
    for (int i = 0; i < p->count; i++) {
        mgsd_tensor *t = &p->tensors[i];
        params_fill(t->data, t->n, t, p->inits[i], p->init_args[i][0], p->init_args[i][1], p->blocks[i], rng);
    }
}

mgsd_tensor *params_get(mgsd_params *p, int i) {
    if (!p || i < 0 || i >= p->count) return NULL;
    return &p->tensors[i];
}

int params_index(const mgsd_params *p, const char *name) {
    if (!p || !name) return -1;
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->names[i], name) == 0) return i;
    return -1;
}

mgsd_status params_find(mgsd_params *p, const char *name, mgsd_tensor **out) {
    MGSD_CHECK_ARG(p != NULL && name != NULL && out != NULL);
    int i = params_index(p, name);
    if (i >= 0) {
        *out = &p->tensors[i];
        return MGSD_OK;
    }
    /* List the known names (truncated) so a typo is obvious. */
    char known[512];
    size_t len = 0;
    known[0] = '\0';
    for (int j = 0; j < p->count && len < sizeof known - 8; j++) {
        int w = snprintf(known + len, sizeof known - len, "%s%s", j ? ", " : "", p->names[j]);
        if (w < 0) break;
        len += (size_t)w;
    }
    if (len >= sizeof known - 8) snprintf(known + sizeof known - 8, 8, ", ...");
    return mgsd_error(MGSD_ERR_NOT_FOUND, "parameter '%s' not found (the model has %d: %s)", name, p->count,
                      known);
}

int64_t params_count(const mgsd_params *p) { return p ? p->numel : 0; }

void params_zero_grads(mgsd_params *p) {
    if (p && p->grad && p->total > 0) memset(p->grad, 0, (size_t)p->total * sizeof(float));
}

double params_grad_norm(const mgsd_params *p) {
    const float *g = p->grad;
    int64_t n = p->total;
    double sum = 0.0;
#pragma omp parallel for reduction(+ : sum) schedule(static) if (n >= PARAMS_OMP_MIN)
    for (int64_t i = 0; i < n; i++) sum += (double)g[i] * (double)g[i];
    return sqrt(sum);
}

mgsd_status params_clip_grad_norm(mgsd_params *p, double max_norm, double *norm_out) {
    MGSD_CHECK_ARG(p != NULL);
    if (!(max_norm > 0.0))
        return mgsd_error(MGSD_ERR_INVALID_ARG, "params_clip_grad_norm: max_norm must be > 0, got %g", max_norm);
    double norm = params_grad_norm(p);
    if (norm_out) *norm_out = norm;
    if (!isfinite(norm)) {
        /* name where: the first tensor with a non-finite gradient, its count, and how many
         * tensors have one (a training run stopping here needs the place, not just NaN) */
        int first = -1, bad_tensors = 0;
        int64_t bad_first = 0, n_first = 0;
        for (int i = 0; i < p->count; i++) {
            const mgsd_tensor *t = &p->tensors[i];
            int64_t n = t->n, bad = 0;
            for (int64_t j = 0; j < n; j++) bad += !isfinite(t->grad[j]);
            if (!bad) continue;
            bad_tensors++;
            if (first < 0) {
                first = i;
                bad_first = bad;
                n_first = n;
            }
        }
        if (first < 0) /* only the padding between tensors: not written by any op */
            return mgsd_error(MGSD_ERR_NUMERIC, "gradient norm is %g (NaN or Inf in the gradient buffer's padding)", norm);
        char which[64];
        if (bad_tensors == 1)
            snprintf(which, sizeof which, "the only tensor with non-finite gradients");
        else
            snprintf(which, sizeof which, "the first of %d tensors with non-finite gradients", bad_tensors);
        return mgsd_error(MGSD_ERR_NUMERIC, "gradient norm is %g: %lld of %lld gradient values of '%s' are NaN or Inf (%s)",
                          norm, (long long)bad_first, (long long)n_first, p->names[first], which);
    }
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        float c = (float)coef;
        float *g = p->grad;
        int64_t n = p->total;
#pragma omp parallel for schedule(static) if (n >= PARAMS_OMP_MIN)
        for (int64_t i = 0; i < n; i++) g[i] *= c;
    }
    return MGSD_OK;
}

int params_same_layout(const mgsd_params *a, const mgsd_params *b) {
    if (!a || !b || a->count != b->count || a->total != b->total) return 0;
    for (int i = 0; i < a->count; i++) {
        const mgsd_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        if (strcmp(a->names[i], b->names[i]) != 0 || a->offsets[i] != b->offsets[i] || x->ndim != y->ndim)
            return 0;
        for (int d = 0; d < x->ndim; d++)
            if (x->shape[d] != y->shape[d]) return 0;
    }
    return 1;
}

mgsd_status params_copy_values(mgsd_params *dst, const mgsd_params *src) {
    MGSD_CHECK_ARG(dst != NULL && src != NULL);
    if (!params_same_layout(dst, src))
        return mgsd_error(MGSD_ERR_SHAPE, "params_copy_values: parameter layouts differ");
    if (dst != src && src->total > 0) memcpy(dst->data, src->data, (size_t)src->total * sizeof(float));
    return MGSD_OK;
}

mgsd_status params_max_abs_diff(const mgsd_params *a, const mgsd_params *b, double *out) {
    MGSD_CHECK_ARG(a != NULL && b != NULL && out != NULL);
    if (!params_same_layout(a, b))
        return mgsd_error(MGSD_ERR_SHAPE, "params_max_abs_diff: parameter layouts differ");
    double m = 0.0;
    for (int64_t i = 0; i < a->total; i++) {
        double d = fabs((double)a->data[i] - (double)b->data[i]);
        if (d > m || isnan(d)) m = d;
        if (isnan(m)) break;
    }
    *out = m;
    return MGSD_OK;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *c = data;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001B3ULL;
    }
    return h;
}

static uint64_t fnv1a_i64(uint64_t h, int64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)v >> (8 * i)); /* little-endian */
    return fnv1a(h, b, 8);
}

uint64_t params_layout_hash(const mgsd_params *p) {
    uint64_t h = 0xCBF29CE484222325ULL;
    h = fnv1a_i64(h, p->count);
    h = fnv1a_i64(h, p->total);
    for (int i = 0; i < p->count; i++) {
        h = fnv1a(h, p->names[i], strlen(p->names[i]) + 1);
        h = fnv1a_i64(h, p->offsets[i]);
        h = fnv1a_i64(h, p->tensors[i].ndim);
        for (int d = 0; d < p->tensors[i].ndim; d++) h = fnv1a_i64(h, p->tensors[i].shape[d]);
    }
    return h;
}

const char *params_init_name(params_init_kind k) {
    return ((int)k >= 0 && k < PARAMS_INIT_COUNT) ? init_names[k] : "unknown";
}
