/* Dev check for MGSD's early training: trains STEPS steps the way `mgsd train` does (batch
 * 256, Adam lr 1e-3, global clip 5, the annealed temperatures) and every EVERY steps prints
 * - per loss term (weighted as in the total: 1, gamma, zeta, eta) the gradient norm it sends
 *   to each parameter group, and the clipped total's norms;
 * - the signal at the sequence encoder's input: the item-specific part of map(E) (sd of its
 *   rows around their mean; E itself with mgp=none or gaussian, whose gate depends on the
 *   target), their mean row (the item-independent part) and the position-specific part of
 *   the position table (sd of its rows);
 * - how user-specific the scores of the batch are (evaluation mode): the sd across users of
 *   the centred score vectors next to the sd over items of the mean score vector.
 * Each term's gradient comes from its own forward pass replayed with the same random stream.
 *
 * build: part of `make build` (build/mgsd_termgrad)
 * run:   OMP_NUM_THREADS=1 build/mgsd_termgrad DATASET MAX_LEN STEPS EVERY [key value ...], e.g.
 *        build/mgsd_termgrad /tmp/syn.inter 20 1800 100 embedding_size 32 inner_size 32 \
 *          transformer_encoder_dim_feedforward 64 weight_init normal (docs/mgsd.md) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgsd/data.h"
#include "model/mgsd.h"
#include "train/optim.h"

enum { NG = 8 };
static const char *const group_names[NG] = {"itemE", "map", "pos", "seqenc", "disc", "interest", "itemenc", "submodel"};

static int group_of(const char *n) {
    if (strstr(n, "item_embedding")) return 0;
    if (strstr(n, "replace_gaussian") || strstr(n, "gaussian_kernel_w")) return 1;
    if (!strncmp(n, "position_embedding", 18)) return 2;
    if (strstr(n, "raw_gaussian_kernel_transformer")) return 3;
    if (strstr(n, "noise_scores")) return 4;
    if (strstr(n, "interest") || strstr(n, "attention_read_out")) return 5;
    if (strstr(n, "item_wise")) return 6;
    return 7;
}

static void group_norms(const mgsd_params *p, double g[NG]) {
    for (int k = 0; k < NG; k++) g[k] = 0;
    for (int i = 0; i < p->count; i++) {
        const float *v = p->grad + p->offsets[i];
        double s = 0;
        for (int64_t j = 0; j < p->tensors[i].n; j++) s += (double)v[j] * v[j];
        g[group_of(p->names[i])] += s;
    }
    for (int k = 0; k < NG; k++) g[k] = sqrt(g[k]);
}

static void print_row(int step, const char *what, double value, const double g[NG]) {
    printf("%-5d %-5s %9.4f", step, what, value);
    for (int k = 0; k < NG; k++) printf(" %9.2e", g[k]);
    printf("\n");
}

/* sd of the rows of X [R, d] around their mean (and the mean row's norm) */
static double row_spread(const double *X, int R, int d, double *mean_norm) {
    double spread = 0, mn = 0;
    for (int c = 0; c < d; c++) {
        double mu = 0, v = 0;
        for (int r = 0; r < R; r++) mu += X[(int64_t)r * d + c] / R;
        for (int r = 0; r < R; r++) v += (X[(int64_t)r * d + c] - mu) * (X[(int64_t)r * d + c] - mu) / R;
        spread += v;
        mn += mu * mu;
    }
    if (mean_norm) *mean_norm = sqrt(mn);
    return sqrt(spread);
}

static void encoder_input(mgsd_params *p, const char *mgp, int step) {
    mgsd_tensor *E, *P, *W1 = NULL, *b1 = NULL, *W2 = NULL;
    if (params_find(p, "sub_model.item_embedding.weight", &E) || params_find(p, "position_embedding.weight", &P)) return;
    int mlp = !strcmp(mgp, "mlp");
    if (mlp && (params_find(p, "replace_gaussian_fc1.weight", &W1) || params_find(p, "replace_gaussian_fc1.bias", &b1) ||
                params_find(p, "replace_gaussian_fc2.weight", &W2)))
        return;
    int d = E->shape[1], N = E->shape[0] - 1; /* rows 1..N: item 0 is padding */
    double *M = malloc(sizeof(double) * ((size_t)N * d + d)), *h = M + (size_t)N * d, alive = 0;
    for (int it = 0; it < N; it++) {
        const float *e = E->data + (int64_t)(it + 1) * d;
        double *mo = M + (int64_t)it * d;
        if (!mlp) {
            for (int o = 0; o < d; o++) mo[o] = e[o];
            continue;
        }
        for (int o = 0; o < d; o++) {
            double v = b1->data[o];
            for (int k = 0; k < d; k++) v += (double)W1->data[o * d + k] * e[k];
            h[o] = v > 0 ? v : 0;
        }
        for (int o = 0; o < d; o++) {
            double v = 0;
            for (int k = 0; k < d; k++) v += (double)W2->data[o * d + k] * h[k];
            mo[o] = v > 0 ? v : 0;
            alive += v > 0;
        }
    }
    double item_mean, pos_mean;
    double item_spec = row_spread(M, N, d, &item_mean);
    int R = P->shape[0];
    double *Pd = malloc(sizeof(double) * (size_t)R * d);
    for (int64_t j = 0; j < (int64_t)R * d; j++) Pd[j] = P->data[j];
    double pos_spec = row_spread(Pd, R, d, &pos_mean);
    printf("%-5d input item-specific %.4f  item-mean %.4f  position-specific %.4f", step, item_spec, item_mean, pos_spec);
    if (mlp) printf("  map outputs > 0: %.3f", alive / ((double)N * d));
    printf("\n");
    free(M);
    free(Pd);
}

static void user_specificity(mgsd_model *m, mgsd_tape *t, const mgsd_batch *b, float *S, int step) {
    int N = m->info.n_items, B = b->B;
    mgsd_rng keep = t->rng;
    ag_tape_reset(t);
    t->training = 0;
    t->grad_enabled = 0;
    mgsd_status st = model_mgsd.scores(m, t, b, S);
    t->training = 1;
    t->grad_enabled = 1;
    t->rng = keep;
    if (st != MGSD_OK) return;
    double *Sd = malloc(sizeof(double) * (size_t)B * (N - 1)), *mean = malloc(sizeof(double) * (N - 1));
    for (int r = 0; r < B; r++)
        for (int i = 1; i < N; i++) Sd[(int64_t)r * (N - 1) + i - 1] = S[(int64_t)r * N + i];
    double shared;
    double user = row_spread(Sd, B, N - 1, NULL);
    for (int i = 0; i < N - 1; i++) {
        mean[i] = 0;
        for (int r = 0; r < B; r++) mean[i] += Sd[(int64_t)r * (N - 1) + i] / B;
    }
    shared = row_spread(mean, N - 1, 1, NULL);
    printf("%-5d users sd(user-specific scores) %.4f  sd(mean scores over items) %.4f\n", step,
           user / sqrt((double)(N - 1)), shared);
    free(Sd);
    free(mean);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s DATASET MAX_LEN STEPS EVERY [key value ...]\n", argv[0]);
        return 2;
    }
    const int B = 256, L = atoi(argv[2]), nsteps = atoi(argv[3]), every = atoi(argv[4]);
    mgsd_data_options o;
    mgsd_data_options_default(&o);
    mgsd_dataset *ds;
    if (mgsd_dataset_load(&ds, argv[1], &o) != MGSD_OK) {
        fprintf(stderr, "%s\n", mgsd_last_error());
        return 1;
    }
    mgsd_config *c;
    size_t nd;
    mgsd_config_create(&c);
    mgsd_config_add_defaults(c, "overall", MGSD_CONFIG_LEVEL_OVERALL, mgsd_config_overall_defaults(&nd), nd);
    mgsd_config_add_defaults(c, "MGSD", MGSD_CONFIG_LEVEL_MODEL, model_mgsd.defaults, model_mgsd.n_defaults);
    for (int i = 5; i + 1 < argc; i += 2)
        if (mgsd_config_set(c, argv[i], argv[i + 1], MGSD_CONFIG_LEVEL_CMDLINE, "cmd") != MGSD_OK) {
            fprintf(stderr, "%s\n", mgsd_last_error());
            return 1;
        }
    size_t nwarn;
    const char *const *warn = mgsd_config_warnings(c, &nwarn);
    if (nwarn) {
        fprintf(stderr, "%s\n", warn[0]);
        return 1;
    }
    const char *mgp = "mlp";
    for (int i = 5; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "mgp")) mgp = argv[i + 1];
    mgsd_model m;
    memset(&m, 0, sizeof m);
    m.vt = &model_mgsd;
    m.info.n_items = mgsd_dataset_num_items(ds);
    m.info.max_len = L;
    mgsd_rng r;
    mgsd_rng_seed(&r, 2020);
    if (model_mgsd.create(&m, c, &m.info, &r) != MGSD_OK) {
        fprintf(stderr, "%s\n", mgsd_last_error());
        return 1;
    }
    double w[4] = {1, 10, 7, 1};
    if (mgsd_config_get_float(c, "reweight_loss_gamma", &w[1]) || mgsd_config_get_float(c, "reweight_loss_zeta", &w[2]) ||
        mgsd_config_get_float(c, "reweight_loss_eta", &w[3]))
        return 1;
    mgsd_batcher *bt;
    mgsd_batcher_init(&bt, ds, MGSD_SPLIT_TRAIN, B, L);
    mgsd_batcher_begin_epoch(bt, 2020, 0);
    mgsd_batch b;
    mgsd_batch_init(&b, B, L);
    optim_adam a;
    optim_adam_config ac = optim_adam_defaults();
    optim_adam_init(&a, &m.params, &ac);
    mgsd_tape t;
    ag_tape_init(&t, 0, 2020);
    float *S = malloc(sizeof(float) * (size_t)B * m.info.n_items);
    static const char *const term_names[4] = {"rec", "aux", "item", "int"};
    printf("%-5s %-5s %9s", "step", "term", "value");
    for (int k = 0; k < NG; k++) printf(" %9s", group_names[k]);
    printf("\n");
    int more;
    for (int s = 0, epoch = 0; s < nsteps; s++) {
        mgsd_batcher_next(bt, &b, &more);
        if (!more) {
            mgsd_batcher_begin_epoch(bt, 2020, ++epoch);
            mgsd_batcher_next(bt, &b, &more);
        }
        model_mgsd.on_step(&m, s, epoch);
        const mgsd_rng stream = t.rng;
        const int show = s % every == 0;
        double g[NG];
        if (show) {
            encoder_input(&m.params, mgp, s);
            user_specificity(&m, &t, &b, S, s);
            for (int k = 0; k < 4; k++) {
                ag_tape_reset(&t);
                t.rng = stream;
                params_zero_grads(&m.params);
                mgsd_tensor *terms[4];
                if (mgsd_loss_terms(&m, &t, &b, terms) != MGSD_OK) return 1;
                if (!terms[k]) continue;
                double value = terms[k]->data[0];
                ag_backward(&t, terms[k]);
                group_norms(&m.params, g);
                for (int q = 0; q < NG; q++) g[q] *= w[k];
                print_row(s, term_names[k], value, g);
            }
        }
        ag_tape_reset(&t);
        t.rng = stream;
        params_zero_grads(&m.params);
        mgsd_tensor *loss = model_mgsd.loss(&m, &t, &b);
        if (!loss) return 1;
        ag_backward(&t, loss);
        double gn;
        params_clip_grad_norm(&m.params, 5.0, &gn);
        if (show) {
            group_norms(&m.params, g);
            print_row(s, "clip", gn, g);
        }
        optim_adam_step(&a, &m.params, 1e-3);
    }
    free(S);
    return 0;
}
