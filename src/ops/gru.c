/* GRU layer over packed ragged sequences (see gru.h). */
#include "ops/gru.h"

#include <math.h>
#include <string.h>

#include "core/core.h"
#include "ops/matmul.h"

void ops_gru_plan(int32_t *tm_off, int32_t *tm_tok, int32_t *order, const int32_t *offs, int B, int T) {
    int n = 0;
    for (int len = T; len >= 0; len--) /* O(B T), no scratch; B, T are small */
        for (int b = 0; b < B; b++)
            if (offs[b + 1] - offs[b] == len) order[n++] = b;
    int32_t row = 0;
    for (int s = 0; s < T; s++) {
        tm_off[s] = row;
        for (int k = 0; k < B && offs[order[k] + 1] - offs[order[k]] > s; k++) tm_tok[row++] = offs[order[k]] + s;
    }
    tm_off[T] = row;
}

static inline float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

void ops_gru_forward(float *h, float *hprev, float *gates, float *gi, float *gh, const float *x, const float *w_ih,
                     const float *w_hh, const float *b_ih, const float *b_hh, const int32_t *tm_off,
                     const int32_t *tm_tok, int64_t Ntok, int T, int C, int H) {
    const int H3 = 3 * H;
    ops_linear_forward(gi, x, w_ih, b_ih, Ntok, C, H3);
    for (int s = 0; s < T; s++) {
        int64_t R = tm_off[s];
        int nb = tm_off[s + 1] - tm_off[s];
        int nb_next = s + 1 < T ? tm_off[s + 2] - tm_off[s + 1] : 0;
        if (nb == 0) break;
        if (s == 0) memset(hprev + R * H, 0, (size_t)nb * H * sizeof(float));
        for (int k = 0; k < nb; k++) {
            if (b_hh) memcpy(gh + (int64_t)k * H3, b_hh, (size_t)H3 * sizeof(float));
            else memset(gh + (int64_t)k * H3, 0, (size_t)H3 * sizeof(float));
        }
        if (s > 0) ops_gemm(0, 1, nb, H3, H, 1.0f, hprev + R * H, w_hh, 1.0f, gh);
#pragma omp parallel for schedule(static) if ((int64_t)nb * H > 8192)
        for (int k = 0; k < nb; k++) {
            int64_t row = R + k, tok = tm_tok[row];
            const float *a = gi + tok * H3, *c = gh + (int64_t)k * H3, *hp = hprev + row * H;
            float *gr = gates + row * 4 * H, *gz = gr + H, *gn = gz + H, *ghn = gn + H;
            float *ho = h + tok * H;
            float *hnext = k < nb_next ? hprev + (tm_off[s + 1] + k) * (int64_t)H : NULL;
            for (int j = 0; j < H; j++) {
                float r = sigm(a[j] + c[j]);
                float z = sigm(a[H + j] + c[H + j]);
                float n = tanhf(a[2 * H + j] + r * c[2 * H + j]);
                float hv = (1.0f - z) * n + z * hp[j];
                gr[j] = r;
                gz[j] = z;
                gn[j] = n;
                ghn[j] = c[2 * H + j];
                ho[j] = hv;
                if (hnext) hnext[j] = hv;
            }
        }
    }
}

void ops_gru_backward(float *dx, float *dw_ih, float *dw_hh, float *db_ih, float *db_hh, float *dh, float *dgi,
                      float *dgh, const float *dout, const float *x, const float *w_ih, const float *w_hh,
                      const float *hprev, const float *gates, const int32_t *tm_off, const int32_t *tm_tok,
                      int64_t Ntok, int T, int C, int H) {
    const int H3 = 3 * H;
    for (int64_t row = 0; row < Ntok; row++)
        memcpy(dh + row * H, dout + (int64_t)tm_tok[row] * H, (size_t)H * sizeof(float));
    for (int s = T - 1; s >= 0; s--) {
        int64_t R = tm_off[s];
        int nb = tm_off[s + 1] - tm_off[s];
        if (nb == 0) continue;
        float *dprev = s > 0 ? dh + (int64_t)tm_off[s - 1] * H : NULL;
#pragma omp parallel for schedule(static) if ((int64_t)nb * H > 8192)
        for (int k = 0; k < nb; k++) {
            int64_t row = R + k, tok = tm_tok[row];
            const float *gr = gates + row * 4 * H, *gz = gr + H, *gn = gz + H, *ghn = gn + H;
            const float *hp = hprev + row * H, *d = dh + row * H;
            float *ai = dgi + tok * H3, *ah = dgh + row * H3;
            float *dp = dprev ? dprev + (int64_t)k * H : NULL;
            for (int j = 0; j < H; j++) {
                float r = gr[j], z = gz[j], n = gn[j];
                float dn = d[j] * (1.0f - z) * (1.0f - n * n); /* through tanh */
                float dz = d[j] * (hp[j] - n) * z * (1.0f - z);
                float dr = dn * ghn[j] * r * (1.0f - r);
                ai[j] = dr;
                ai[H + j] = dz;
                ai[2 * H + j] = dn;
                ah[j] = dr;
                ah[H + j] = dz;
                ah[2 * H + j] = dn * r;
                if (dp) dp[j] += d[j] * z;
            }
        }
        if (s > 0) ops_gemm(0, 0, nb, H, H3, 1.0f, dgh + R * H3, w_hh, 1.0f, dprev); /* [nb,3H].[3H,H] */
    }
    ops_linear_backward(dx, dw_ih, db_ih, dgi, x, w_ih, Ntok, C, H3, NULL, 0);
    ops_linear_backward(NULL, dw_hh, db_hh, dgh, hprev, w_hh, Ntok, H, H3, NULL, 0);
}

/* ---- reference --------------------------------------------------------------------- */
/* One step in double: pre-activations and gates of token x with previous state hp. */
static void gru_step_ref(double *r, double *z, double *n, double *ghn, double *hn, const float *x,
                         const double *hp, const float *w_ih, const float *w_hh, const float *b_ih,
                         const float *b_hh, int C, int H) {
    for (int j = 0; j < H; j++) {
        double a[3], c[3];
        for (int g = 0; g < 3; g++) {
            int64_t o = (int64_t)g * H + j;
            a[g] = b_ih ? b_ih[o] : 0.0;
            c[g] = b_hh ? b_hh[o] : 0.0;
            for (int i = 0; i < C; i++) a[g] += (double)w_ih[o * C + i] * x[i];
            for (int i = 0; i < H; i++) c[g] += (double)w_hh[o * H + i] * hp[i];
        }
        r[j] = 1.0 / (1.0 + exp(-(a[0] + c[0])));
        z[j] = 1.0 / (1.0 + exp(-(a[1] + c[1])));
        ghn[j] = c[2];
        n[j] = tanh(a[2] + r[j] * c[2]);
        hn[j] = (1.0 - z[j]) * n[j] + z[j] * hp[j];
    }
}

void ops_gru_forward_ref(float *h, const float *x, const float *w_ih, const float *w_hh, const float *b_ih,
                         const float *b_hh, const int32_t *offs, int B, int C, int H) {
    double *buf = mgsd_calloc((size_t)6 * H, sizeof(double));
    MGSD_ASSERT(buf);
    double *hp = buf, *r = hp + H, *z = r + H, *n = z + H, *ghn = n + H, *hn = ghn + H;
    for (int b = 0; b < B; b++) {
        memset(hp, 0, (size_t)H * sizeof(double));
        for (int t = offs[b]; t < offs[b + 1]; t++) {
            gru_step_ref(r, z, n, ghn, hn, x + (int64_t)t * C, hp, w_ih, w_hh, b_ih, b_hh, C, H);
            for (int j = 0; j < H; j++) h[(int64_t)t * H + j] = (float)(hp[j] = hn[j]);
        }
    }
    mgsd_free(buf);
}

void ops_gru_backward_ref(float *dx, float *dw_ih, float *dw_hh, float *db_ih, float *db_hh, const float *dout,
                          const float *x, const float *w_ih, const float *w_hh, const float *b_ih,
                          const float *b_hh, const int32_t *offs, int B, int C, int H) {
    int T = 0;
    for (int b = 0; b < B; b++)
        if (offs[b + 1] - offs[b] > T) T = offs[b + 1] - offs[b];
    /* per step of one sequence: hp, r, z, n, ghn (5H) ; plus dh, dhp, hn */
    double *st = mgsd_calloc((size_t)(T + 1) * 5 * H + 3 * (size_t)H, sizeof(double));
    MGSD_ASSERT(st);
    double *dh = st + (size_t)(T + 1) * 5 * H, *dhp = dh + H, *hn = dhp + H;
    for (int b = 0; b < B; b++) {
        int len = offs[b + 1] - offs[b];
        memset(st, 0, (size_t)H * sizeof(double));
        for (int i = 0; i < len; i++) {
            double *s = st + (size_t)i * 5 * H;
            gru_step_ref(s + H, s + 2 * H, s + 3 * H, s + 4 * H, hn, x + (int64_t)(offs[b] + i) * C, s, w_ih, w_hh,
                         b_ih, b_hh, C, H);
            memcpy(st + (size_t)(i + 1) * 5 * H, hn, (size_t)H * sizeof(double));
        }
        memset(dh, 0, (size_t)H * sizeof(double));
        for (int i = len - 1; i >= 0; i--) {
            int64_t t = offs[b] + i;
            const double *s = st + (size_t)i * 5 * H, *hp = s, *r = s + H, *z = s + 2 * H, *n = s + 3 * H,
                         *ghn = s + 4 * H;
            for (int j = 0; j < H; j++) dh[j] += dout[t * H + j];
            memset(dhp, 0, (size_t)H * sizeof(double));
            for (int j = 0; j < H; j++) {
                double an = dh[j] * (1 - z[j]) * (1 - n[j] * n[j]);
                double az = dh[j] * (hp[j] - n[j]) * z[j] * (1 - z[j]);
                double ar = an * ghn[j] * r[j] * (1 - r[j]);
                double ai[3] = {ar, az, an}, ah[3] = {ar, az, an * r[j]};
                dhp[j] += dh[j] * z[j];
                for (int g = 0; g < 3; g++) {
                    int64_t o = (int64_t)g * H + j;
                    if (db_ih) db_ih[o] += (float)ai[g];
                    if (db_hh) db_hh[o] += (float)ah[g];
                    for (int c = 0; c < C; c++) {
                        if (dx) dx[t * C + c] += (float)(ai[g] * w_ih[o * C + c]);
                        if (dw_ih) dw_ih[o * C + c] += (float)(ai[g] * x[t * C + c]);
                    }
                    for (int c = 0; c < H; c++) {
                        dhp[c] += ah[g] * w_hh[o * H + c];
                        if (dw_hh) dw_hh[o * H + c] += (float)(ah[g] * hp[c]);
                    }
                }
            }
            memcpy(dh, dhp, (size_t)H * sizeof(double));
        }
    }
    mgsd_free(st);
}
