/* `mgsd demo`: the main job on an embedded default, no download needed. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "model/toy.h"

static int print_step(void *user, int step, float loss) {
    int every = *(int *)user;
    if (step % every == 0) printf("  step %4d  loss %.4f\n", step, loss);
    return 0;
}

int cli_cmd_demo(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: mgsd demo\n\nTrains a 2-layer causal transformer on a toy next-item task and prints the loss curve.\n");
            return 0;
        }
        fprintf(stderr, "mgsd demo: unknown option '%s'\n", argv[i]);
        return 2;
    }
    toy_config c;
    toy_config_default(&c);
    printf("mgsd demo: 2-layer transformer (hidden %d, %d heads) on a toy next-item task, %d items, batch %d, %d steps\n",
           c.hidden, c.heads, c.vocab, c.batch, c.steps);
    int every = 25;
    toy_result r;
    mgsd_status st = toy_train(&c, print_step, &every, &r);
    if (st != MGSD_OK) {
        fprintf(stderr, "mgsd: error: %s\n", mgsd_last_error());
        return 1;
    }
    printf("loss %.3f -> %.3f in %.2f s (%.0f tokens/s), %llu allocations after warm-up\n", r.first_loss, r.last_loss,
           r.seconds, r.tokens_per_second, (unsigned long long)r.allocs_after_warmup);
    return 0;
}
