/* Sequence layout moves: last token, pack/unpack (see seq.h). */
#include "ops/seq.h"

#include <string.h>

void ops_last_token_forward(float *out, const float *x, const int32_t *offs, int B, int C) {
    for (int b = 0; b < B; b++)
        memcpy(out + (int64_t)b * C, x + (int64_t)(offs[b + 1] - 1) * C, (size_t)C * sizeof(float));
}

void ops_last_token_backward(float *dx, const float *dout, const int32_t *offs, int B, int C) {
    for (int b = 0; b < B; b++) {
        float *d = dx + (int64_t)(offs[b + 1] - 1) * C;
        const float *g = dout + (int64_t)b * C;
        for (int c = 0; c < C; c++) d[c] += g[c];
    }
}

void ops_seq_copy(float *dst, const float *src, const int32_t *offs, int B, int T, int C, int dir, int add) {
#pragma omp parallel for schedule(static) if ((int64_t)B * T * C > 65536)
    for (int b = 0; b < B; b++) {
        int len = offs[b + 1] - offs[b];
        for (int i = 0; i < T; i++) {
            int64_t pk = (int64_t)(offs[b] + i) * C, pd = ((int64_t)b * T + i) * C;
            if (i >= len) {
                if (dir == 1 && !add) memset(dst + pd, 0, (size_t)C * sizeof(float));
                continue;
            }
            float *d = dst + (dir == 0 ? pk : pd);
            const float *s = src + (dir == 0 ? pd : pk);
            if (add)
                for (int c = 0; c < C; c++) d[c] += s[c];
            else
                memcpy(d, s, (size_t)C * sizeof(float));
        }
    }
}
