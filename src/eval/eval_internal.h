/* Internal to src/eval: the top-k selection behind mgsd_eval_topk, for the evaluation's
 * beyond-accuracy metrics (eval.c). */
#ifndef MGSD_EVAL_INTERNAL_H
#define MGSD_EVAL_INTERNAL_H

#include <stdint.h>

/* Top-k of one score row in rank order (higher score first, ties by lower id; NaN never
 * ranks) into ids[k] / top_scores[k], returning how many were found. Candidates: the
 * distinct ids cand[0..n_cand) in any order (ids outside 1..n_items-1 ignored) or, with
 * cand NULL, items 1..n_items-1. Items listed in exclude[0..n_exclude) are skipped except
 * `keep` (0: none). */
int eval_topk_core(const float *scores, int32_t n_items, int k, const int32_t *cand, int n_cand,
                   const int32_t *exclude, int32_t n_exclude, int32_t keep, int32_t *ids, float *top_scores);

#endif
