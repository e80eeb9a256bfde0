/* A tiny next-item task and a 2-layer causal transformer that learns it: the engine's
 * end-to-end check (tape, ops, layers, parameters, Adam, arena reuse) and the first demo.
 *
 * Task: items 1..V-1; each sequence starts at a random item and follows a fixed random
 * successor map item -> next(item) with probability 1 - noise (else a random item);
 * the target is the successor of the last item. A model that learns the map reaches a
 * loss near the noise floor. */
#ifndef MGSD_MODEL_TOY_H
#define MGSD_MODEL_TOY_H

#include <stdint.h>

#include "core/core.h"

typedef struct toy_config {
    int vocab;      /* V, padding 0 included */
    int hidden;     /* C */
    int heads;
    int layers;
    int inner;
    int max_len;    /* sequence lengths are uniform in [2, max_len] */
    int batch;      /* sequences per step */
    int steps;
    float lr;
    float dropout;
    uint64_t seed;
} toy_config;

typedef struct toy_result {
    float first_loss, last_loss; /* mean over the first / last 10 steps */
    double seconds;
    uint64_t allocs_after_warmup; /* heap allocations in steps 3..steps (should be 0) */
    double tokens_per_second;
} toy_result;

void toy_config_default(toy_config *c);
/* Called after each step with the step index and its loss; return nonzero to stop. */
typedef int (*toy_progress_fn)(void *user, int step, float loss);
mgsd_status toy_train(const toy_config *c, toy_progress_fn progress, void *user, toy_result *res);

#endif
