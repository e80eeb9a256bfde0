/* The per-user metrics of a 0-based target rank r at cut-off K (include/mgsd/eval.h): hit
 * and recall [r < K], ndcg 1/log2(r+2) and mrr 1/(r+1) when r < K, else 0. One definition for
 * the evaluation's means (eval.c) and the paired comparison (paired.c). Internal to src/eval. */
#ifndef MGSD_EVAL_RANK_METRICS_H
#define MGSD_EVAL_RANK_METRICS_H

#include <math.h>
#include <stdint.h>

static inline double rank_ndcg(int64_t r) { return 1.0 / log2((double)r + 2.0); }
static inline double rank_mrr(int64_t r) { return 1.0 / (double)(r + 1); }

#endif
