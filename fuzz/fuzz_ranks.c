/* libFuzzer target for rank files (`mgsd compare A B`, written by `mgsd eval --ranks`): the
 * bytes, split at the first 0xFF, are two files A and B. Each is parsed; two that parse are
 * paired by user and, when that succeeds, compared at K 1, 10 and a huge K. Every parsed
 * file is also paired with itself, which must succeed and show no difference. Errors are
 * expected; crashes, sanitizer reports, leaks and a self-comparison with a difference are
 * bugs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mgsd/eval.h"

static void self_check(const mgsd_rank_file *f) {
    int64_t *a = malloc(sizeof *a * (size_t)f->n), *b = malloc(sizeof *b * (size_t)f->n);
    if (a && b) {
        if (mgsd_rank_files_pair(f, "x", f, "x", a, b) != MGSD_OK) abort();
        mgsd_paired_result r;
        if (f->n >= 2 && (mgsd_eval_paired(a, b, f->n, 10, &r) != MGSD_OK || r.hit.diff != 0 || r.p_mcnemar != 1.0))
            abort();
    }
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *cut = memchr(data, 0xFF, size);
    size_t na = cut ? (size_t)(cut - data) : size;
    mgsd_rank_file fa, fb;
    int oka = mgsd_rank_file_parse("a", data, na, &fa) == MGSD_OK;
    int okb = cut && mgsd_rank_file_parse("b", cut + 1, size - na - 1, &fb) == MGSD_OK;
    if (oka) self_check(&fa);
    if (okb) self_check(&fb);
    if (oka && okb) {
        int64_t *a = malloc(sizeof *a * (size_t)fa.n), *b = malloc(sizeof *b * (size_t)fa.n);
        if (a && b && mgsd_rank_files_pair(&fa, "a", &fb, "b", a, b) == MGSD_OK) {
            static const int ks[3] = {1, 10, 1000000};
            mgsd_paired_result r;
            for (int j = 0; j < 3; j++) (void)mgsd_eval_paired(a, b, fa.n, ks[j], &r);
        }
        free(a);
        free(b);
    }
    if (oka) mgsd_rank_file_free(&fa);
    if (okb) mgsd_rank_file_free(&fb);
    return 0;
}
