/* Model-specific kernels against hand-computed values (gradients: test_gradcheck). */
#include <math.h>

#include "autograd/ag.h"
#include "ops/contrastive.h"
#include "test_util.h"

int main(void) {
    /* segment 0: the authors' formula by hand (python, double precision):
     *   s = exp(z); P = f a s; Q = (1-f) q s; loss = sum_{P>0} -log(P / (P + sum Q)) / sum f */
    const float z[5] = {0.5f, -0.2f, 1.0f, 0.3f, 2.0f};
    const float f[5] = {1, 0, 1, 0, 1};
    const float a[5] = {0.9f, 0.3f, 0.6f, 0.5f, 0.5f};
    const float q[5] = {0.1f, 0.7f, 0.4f, 0.2f, 0.2f};
    const int32_t offs[4] = {0, 3, 4, 5};
    float loss[3];
    ops_sup_contrastive_forward(loss, z, f, a, q, offs, 3);
    CHECK_NEAR(loss[0], 0.31386305085188315, 1e-6);
    CHECK_NEAR(loss[1], 0.0, 0.0); /* no positive: 0, not NaN */
    CHECK_NEAR(loss[2], 0.0, 1e-7); /* one positive, no negative: -log 1 */

    /* Zero-ratio entries (a negative, and a positive whose weight is 0): the authors' autograd
     * takes -log(r + [r == 0]), slope -1 in r, so with zero_ratio_grad they add
     * df_i = -c a_i s_i / D_i and da_i = -c f_i s_i / D_i (c = dloss / sum f, D_i = S here);
     * every other derivative is the same with the switch on or off. */
    {
        const float zz[3] = {0.3f, -0.2f, 0.5f}, ff[3] = {1, 0, 1}, aa[3] = {0.6f, 0.5f, 0.0f},
                    qq[3] = {0.4f, 0.5f, 0.9f}, dl[1] = {1.0f};
        const int32_t o1[2] = {0, 3};
        float g[2][4][3] = {{{0}}};
        for (int on = 0; on < 2; on++)
            ops_sup_contrastive_backward(g[on][0], g[on][1], g[on][2], g[on][3], dl, zz, ff, aa, qq, o1, 1, on);
        double s1 = exp(-0.2), s2 = exp(0.5), S = 0.5 * s1, c = 0.5;
        CHECK_NEAR(g[1][1][1] - g[0][1][1], -c * 0.5 * s1 / S, 1e-6); /* = -c: the negative's flag */
        CHECK_NEAR(g[1][2][2] - g[0][2][2], -c * s2 / S, 1e-5);       /* the zero-weight positive's weight */
        CHECK_NEAR(g[1][2][1], g[0][2][1], 0);                          /* f = 0: no weight gradient */
        CHECK_NEAR(g[1][1][2], g[0][1][2], 0);                          /* a = 0: no flag gradient */
        for (int i = 0; i < 3; i++) {
            CHECK_NEAR(g[1][0][i], g[0][0][i], 0); /* dz */
            CHECK_NEAR(g[1][3][i], g[0][3][i], 0); /* dq */
        }
        CHECK_NEAR(g[1][1][0], g[0][1][0], 0);
        CHECK_NEAR(g[1][2][0], g[0][2][0], 0);
        CHECK(g[0][1][1] != g[1][1][1]);
    }

    /* A tiny denominator (a positive of weight 1e-38 and a negative of weight 1e-38, both
     * far from u) next to a positive of weight 1 close to u: d/df_0 = dF - dS q_0 s_0 with
     * dS >= c / D_1 ~ 1e42, beyond float. The backward saturates at -1e30 instead of giving
     * -inf (which the ops upstream turn into NaN); the moderate entries keep their exact
     * values. */
    {
        const float zz[3] = {10.0f, -10.0f, -10.0f}, ff[3] = {1, 1, 0}, aa[3] = {1.0f, 1e-38f, 1e-38f},
                    dl[1] = {1.0f};
        const int32_t o1[2] = {0, 3};
        float g[4][3] = {{0}};
        ops_sup_contrastive_backward(g[0], g[1], g[2], g[3], dl, zz, ff, aa, aa, o1, 1, 0);
        int finite = 1;
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 3; i++) finite &= isfinite(g[k][i]) != 0;
        CHECK(finite);
        CHECK_NEAR(g[1][0], -1e30, 1e23); /* the true value is about -1e46 */
        CHECK_NEAR(g[3][2], 1e30, 1e23);  /* d/dq_2 = c s_2 / D_1, about 2.5e37 */
        double s0 = exp(10.0), D0 = s0 + 1e-38 * exp(-10.0);
        CHECK_NEAR(g[0][0], 0.5 * (-1.0 + s0 / D0), 1e-6); /* dz_0 = c (r_0 - 1): about 0 */
    }

    float y[6];
    const float x[6] = {1, 2, 3, 4, 5, 6}, w[2] = {2, -1};
    ops_scale_rows_forward(y, x, w, 2, 3);
    CHECK_NEAR(y[2], 6, 0);
    CHECK_NEAR(y[3], -4, 0);

    /* wrapper argument checks */
    mgsd_tape t;
    CHECK_OK(ag_tape_init(&t, 1 << 16, 1));
    mgsd_tensor X, W;
    int sx[2] = {2, 3}, sw[1] = {3};
    ag_tensor_wrap(&X, (float *)x, NULL, 2, sx);
    ag_tensor_wrap(&W, (float *)w, NULL, 1, sw);
    CHECK(ag_scale_rows(&t, &X, &W) == NULL);
    CHECK_STATUS(ag_status(&t), MGSD_ERR_SHAPE);
    CHECK_CONTAINS(mgsd_last_error(), "scale_rows");
    ag_tape_reset(&t);
    mgsd_tensor Z;
    int sz[1] = {4};
    ag_tensor_wrap(&Z, (float *)z, NULL, 1, sz);
    ag_seqs segs = {3, offs, 3};
    CHECK(ag_sup_contrastive(&t, &Z, &Z, &Z, &Z, &segs, 1) == NULL);
    CHECK_STATUS(ag_status(&t), MGSD_ERR_SHAPE);
    CHECK_CONTAINS(mgsd_last_error(), "sup_contrastive");
    ag_tape_free(&t);
    return test_summary();
}
