/* Dev check for MGSD's optimisation: trains 400 steps of Adam (lr 1e-3, no clipping) on
 * successive training batches (or one fixed batch with FIXED=1) and prints the four loss
 * terms and the gradient norm every 20 steps. Config keys come as KEY VALUE pairs.
 *
 * build: part of `make build` (build/mgsd_overfit)
 * run:   build/mgsd_overfit DATASET [key value ...], e.g. sub_model SASRec use_aux false
 * env:   STEPS=N (default 400), FIXED=1 (one batch), RESET_AT=S (zero Adam's moments at step S),
 *        VDUMP=S (print sqrt(mean v) of every parameter tensor at step S) */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "mgsd/data.h"
#include "model/mgsd.h"
#include "train/optim.h"

int main(int argc, char **argv) {
    mgsd_data_options o;
    mgsd_data_options_default(&o);
    mgsd_dataset *ds;
    if (mgsd_dataset_load(&ds, argc > 1 ? argv[1] : "/tmp/syn.inter", &o) != MGSD_OK) return 1;
    mgsd_batcher *bt;
    mgsd_batcher_init(&bt, ds, MGSD_SPLIT_TRAIN, 128, 50);
    mgsd_batcher_begin_epoch(bt, 1, 0);
    mgsd_batch b;
    mgsd_batch_init(&b, 128, 50);
    int more;
    mgsd_batcher_next(bt, &b, &more);
    mgsd_config *c;
    size_t nd;
    mgsd_config_create(&c);
    mgsd_config_add_defaults(c, "overall", MGSD_CONFIG_LEVEL_OVERALL, mgsd_config_overall_defaults(&nd), nd);
    mgsd_config_add_defaults(c, "MGSD", MGSD_CONFIG_LEVEL_MODEL, model_mgsd.defaults, model_mgsd.n_defaults);
    for (int i = 2; i + 1 < argc; i += 2) mgsd_config_set(c, argv[i], argv[i + 1], MGSD_CONFIG_LEVEL_CMDLINE, "cmd");
    mgsd_model m;
    memset(&m, 0, sizeof m);
    m.vt = &model_mgsd;
    m.info.n_items = mgsd_dataset_num_items(ds);
    m.info.max_len = 50;
    mgsd_rng r;
    mgsd_rng_seed(&r, 1);
    if (model_mgsd.create(&m, c, &m.info, &r) != MGSD_OK) {
        printf("%s\n", mgsd_last_error());
        return 1;
    }
    optim_adam a;
    optim_adam_config ac = optim_adam_defaults();
    optim_adam_init(&a, &m.params, &ac);
    mgsd_tape t;
    ag_tape_init(&t, 0, 1);
    int fixed = getenv("FIXED") != NULL;
    int nsteps = getenv("STEPS") ? atoi(getenv("STEPS")) : 400;
    for (int s = 0; s < nsteps; s++) {
        if (!fixed) {
            mgsd_batcher_next(bt, &b, &more);
            if (!more) {
                mgsd_batcher_begin_epoch(bt, 1, s);
                mgsd_batcher_next(bt, &b, &more);
            }
        }
        if (getenv("RESET_AT") && s == atoi(getenv("RESET_AT"))) optim_adam_reset(&a);
        ag_tape_reset(&t);
        params_zero_grads(&m.params);
        model_mgsd.on_step(&m, s, 0);
        mgsd_tensor *terms[4];
        mgsd_loss_terms(&m, &t, &b, terms);
        mgsd_tensor *loss = model_mgsd.loss(&m, &t, &b);
        ag_backward(&t, loss);
        double gn = params_grad_norm(&m.params);
        optim_adam_step(&a, &m.params, 1e-3);
        mgsd_tensor *E;
        params_find(&m.params, "sub_model.item_embedding.weight", &E);
        double e2 = 0;
        for (int64_t i = 0; i < E->n; i++) e2 += (double)E->data[i] * E->data[i];
        if (getenv("VDUMP") && s == atoi(getenv("VDUMP"))) {
            for (int i = 0; i < m.params.count; i++) {
                mgsd_tensor *T = &m.params.tensors[i];
                double sv = 0;
                for (int64_t j = 0; j < T->n; j++) sv += a.v[m.params.offsets[i] + j];
                printf("  sqrt(mean v) %-55s %.3e\n", m.params.names[i], sqrt(sv / (double)T->n));
            }
        }
        if (s % 20 == 0)
            printf("rms(E) %.4f  ", sqrt(e2 / (double)E->n));
        if (s % 20 == 0)
            printf("step %3d loss %.4f rec %.4f aux %.4f item %.4f int %.4f |g| %.4f\n", s, loss->data[0],
                   terms[0] ? terms[0]->data[0] : 0, terms[1] ? terms[1]->data[0] : 0,
                   terms[2] ? terms[2]->data[0] : 0, terms[3] ? terms[3]->data[0] : 0, gn);
    }
    return 0;
}
