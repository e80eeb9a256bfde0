/* mgsd data pipeline: reading interaction files (.inter, one-user-per-line sequences,
 * CSV), RecBole 1.x preparation (per-user time order, k-core filtering, id remapping,
 * leave-one-out split, prefix training instances), batching, and synthetic data with
 * planted noise. File formats and the exact protocol are described in docs/data.md.
 *
 * Conventions
 * - Item ids are dense 1..N-1; 0 is padding. mgsd_dataset_num_items() returns N
 *   (padding included). User ids are dense 1..U; mgsd_dataset_num_users() returns U.
 * - Ids are assigned after filtering, in order of first appearance in the file (rows of
 *   the file in file order, skipping filtered rows), separately for users and items.
 * - A user's sequence is sorted by timestamp, ties kept in file order (stable). Files
 *   without timestamps use file order.
 * - Sequences in batches are left-aligned: positions 0..len-1 hold the history from
 *   oldest to newest, the rest is 0. Histories longer than L keep the newest L items.
 * - Every function returns an mgsd_status and leaves a message for mgsd_last_error();
 *   nothing prints or exits. */
#ifndef MGSD_DATA_H
#define MGSD_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "mgsd/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- loading ------------------------------------------------------------------ */

typedef struct mgsd_data_options {
    /* "auto" (or NULL): detect from the content; or "inter", "seq", "csv". */
    const char *format;
    /* RecBole interval syntax, one or more intervals separated by ';':
     * "[5,inf)", "(0,100]", "[2,3];[10,inf)". NULL or "" means no filter. */
    const char *user_inter_num_interval;
    const char *item_inter_num_interval;
    /* MAX_ITEM_LIST_LENGTH: default history length L for batchers. */
    int max_item_list_length;
    /* RecBole val_interval: keep only rows whose column values lie in the intervals, before
     * k-core filtering. "field=intervals", several separated by blanks:
     * "rating=[3,inf)", "rating=[4,5] timestamp=[0,1e9)". A row is kept when every field's
     * value is in one of its intervals. .inter and CSV files only. NULL or "": no filter. */
    const char *val_interval;
    /* RecBole rm_dup_inter: NULL, "" or "none" keeps repeated (user, item) pairs; "first" /
     * "last" keeps only the earliest / latest of each pair in time order (ties in file order).
     * Runs first, before val_interval and k-core filtering, as in RecBole. */
    const char *rm_dup_inter;
} mgsd_data_options;

/* Defaults: format "auto", both intervals "[5,inf)", max_item_list_length 50. */
void mgsd_data_options_default(mgsd_data_options *opt);

typedef struct mgsd_dataset mgsd_dataset;

/* Read, filter, remap and sort a file. On error *out is NULL and the message names
 * FILE:LINE and what was expected. MGSD_ERR_EMPTY when nothing is left after filtering. */
mgsd_status mgsd_dataset_load(mgsd_dataset **out, const char *path, const mgsd_data_options *opt);
/* The same from bytes in memory; `name` is used in messages (NULL: "<memory>"). */
mgsd_status mgsd_dataset_load_buffer(mgsd_dataset **out, const void *data, size_t size,
                                     const char *name, const mgsd_data_options *opt);
void mgsd_dataset_free(mgsd_dataset *ds);

/* Counts after filtering. */
int32_t mgsd_dataset_num_users(const mgsd_dataset *ds);         /* U, ids 1..U */
int32_t mgsd_dataset_num_items(const mgsd_dataset *ds);         /* N, padding included */
int64_t mgsd_dataset_num_interactions(const mgsd_dataset *ds);
/* Rows read from the file (before filtering), and the detected format name. */
int64_t mgsd_dataset_num_rows_read(const mgsd_dataset *ds);
const char *mgsd_dataset_format(const mgsd_dataset *ds);
int mgsd_dataset_max_item_list_length(const mgsd_dataset *ds);

/* CSR view: user u's items are items[offs[u] .. offs[u+1]-1], time ordered.
 * offs has U+2 entries; user 0 is empty (offs[0] == offs[1] == 0). */
const int64_t *mgsd_dataset_user_offsets(const mgsd_dataset *ds);
const int32_t *mgsd_dataset_item_array(const mgsd_dataset *ds);
/* Timestamps aligned with the item array (position in file for formats without). */
const double *mgsd_dataset_timestamps(const mgsd_dataset *ds);
/* 0-based data row (header and empty lines not counted; for the sequence format, the
 * n-th item token of the file) each CSR position came from. Maps row-aligned side data
 * such as noise labels onto the dataset. */
const int64_t *mgsd_dataset_source_rows(const mgsd_dataset *ds);
/* Convenience: user u's sequence. Returns MGSD_ERR_INVALID_ARG for u outside 1..U. */
mgsd_status mgsd_dataset_user_items(const mgsd_dataset *ds, int32_t user, const int32_t **items,
                                    int32_t *len);

/* Original token of a dense id; NULL when out of range (0 included). */
const char *mgsd_dataset_item_name(const mgsd_dataset *ds, int32_t item);
const char *mgsd_dataset_user_name(const mgsd_dataset *ds, int32_t user);
/* Dense id of an original token, -1 if unknown or filtered out. */
int32_t mgsd_dataset_find_item(const mgsd_dataset *ds, const char *name);
int32_t mgsd_dataset_find_user(const mgsd_dataset *ds, const char *name);

/* ---- statistics --------------------------------------------------------------- */

typedef struct mgsd_data_stats {
    int32_t users;             /* real users */
    int32_t items;             /* real items (padding excluded) */
    int64_t interactions;
    int64_t rows_read;         /* before filtering */
    int64_t train_instances;   /* RecBole leave-one-out training instances */
    int64_t valid_instances;
    int64_t test_instances;
    int32_t len_min, len_max;  /* sequence length per user */
    double len_median, len_mean;
    double sparsity;           /* 1 - interactions / (users * items) */
} mgsd_data_stats;

mgsd_status mgsd_dataset_stats(const mgsd_dataset *ds, mgsd_data_stats *st);

/* ---- interval syntax ---------------------------------------------------------- */

/* Parse RecBole interval syntax; `n` in: capacity of lo/hi/flags, out: count.
 * Bounds are doubles ("inf" allowed); flags bit 0 = lower closed, bit 1 = upper closed. */
mgsd_status mgsd_data_parse_intervals(const char *s, double *lo, double *hi, int *flags, int *n);

/* ---- split and batches -------------------------------------------------------- */

typedef enum mgsd_split {
    MGSD_SPLIT_TRAIN = 0,
    MGSD_SPLIT_VALID = 1,
    MGSD_SPLIT_TEST = 2
} mgsd_split;

/* A batch. Buffers are owned by the batch (allocated once by mgsd_batch_init for
 * `capacity` rows and history length L); filling never allocates.
 *   users[B], targets[B], lens[B] (history lengths after truncation, 0..L),
 *   padded[B*L]  row-major, left-aligned, zero padded,
 *   offs[B+1]    prefix offsets into items (offs[0] = 0),
 *   items[offs[B]] the valid history tokens concatenated, no padding,
 *   full_lens[B] history lengths before truncation (for length buckets). */
typedef struct mgsd_batch {
    int B;
    int L;
    int capacity;
    int32_t *users;
    int32_t *targets;
    int32_t *lens;
    int32_t *full_lens;
    int32_t *padded;
    int32_t *offs;
    int32_t *items;
} mgsd_batch;

mgsd_status mgsd_batch_init(mgsd_batch *b, int capacity, int L);
void mgsd_batch_free(mgsd_batch *b);
/* Start filling from row 0 (B = 0). */
void mgsd_batch_reset(mgsd_batch *b);
/* Append one row: history items[0..n-1] oldest..newest (the newest L are kept), the
 * user id (0 if none) and target (0 if none). MGSD_ERR_SHAPE when the batch is full. */
/* Rows r0 .. r0 + nb - 1 of b as a batch of their own, without copying: *view shares b's
 * arrays (those b leaves NULL stay NULL) and gets offs (nb + 1 entries, caller-owned) with
 * the offsets rebased to 0. */
void mgsd_batch_view(const mgsd_batch *b, int r0, int nb, int32_t *offs, mgsd_batch *view);
mgsd_status mgsd_batch_append(mgsd_batch *b, int32_t user, int32_t target, const int32_t *items,
                              int32_t n);
/* Append a row from original string ids (for `recommend --history`). user_name and
 * target_name may be NULL. MGSD_ERR_NOT_FOUND names the first unknown token. */
mgsd_status mgsd_batch_append_names(mgsd_batch *b, const mgsd_dataset *ds, const char *user_name,
                                    const char *target_name, const char *const *item_names,
                                    int32_t n);

typedef struct mgsd_batcher mgsd_batcher;

/* Instances of one split (see docs/data.md):
 *   train: every prefix of a user's training part with >= 1 history item -> next item;
 *   valid: history = training part, target = second-to-last item;
 *   test : history = all but the last item, target = last item.
 * L <= 0 takes the dataset's max_item_list_length. The batcher keeps a pointer to ds. */
mgsd_status mgsd_batcher_init(mgsd_batcher **out, const mgsd_dataset *ds, mgsd_split split,
                              int batch_size, int L);
void mgsd_batcher_free(mgsd_batcher *bt);
int64_t mgsd_batcher_num_instances(const mgsd_batcher *bt);
int64_t mgsd_batcher_num_batches(const mgsd_batcher *bt);
int mgsd_batcher_batch_size(const mgsd_batcher *bt);
int mgsd_batcher_max_len(const mgsd_batcher *bt);
/* Order instances for an epoch: the train split is shuffled by a permutation that is a
 * pure function of (seed, epoch); valid and test stay in user order. Rewinds next(). */
mgsd_status mgsd_batcher_begin_epoch(mgsd_batcher *bt, uint64_t seed, int64_t epoch);
/* Fill `b` (capacity >= batch size, same L) with batch number `index` of the current
 * order; the last batch may be short. No allocation. */
mgsd_status mgsd_batcher_fill(const mgsd_batcher *bt, int64_t index, mgsd_batch *b);
/* Sequential iteration: fills the next batch and sets *more = 1, or *more = 0 at the
 * end of the epoch (b->B = 0). */
mgsd_status mgsd_batcher_next(mgsd_batcher *bt, mgsd_batch *b, int *more);

/* ---- synthetic data with planted noise ------------------------------------------ */

typedef enum mgsd_noise_mode {
    MGSD_NOISE_REPLACE = 0,   /* a fraction of positions is replaced by random items */
    MGSD_NOISE_INSERT = 1     /* random items are inserted (the sequence gets longer) */
} mgsd_noise_mode;

typedef struct mgsd_synth_options {
    int32_t users;        /* 1000 */
    int32_t items;        /* 500 (real items) */
    int32_t interests;    /* 10 item clusters */
    int32_t min_len;      /* 10: clean length range before noise */
    int32_t max_len;      /* 40 */
    float noise;          /* 0.2: noisy items per clean item, rounded per user */
    mgsd_noise_mode noise_mode;
    float p_follow;       /* 0.8: probability the walk takes the cluster successor */
    float p_switch;       /* 0.15: probability of switching to another of the user's interests */
    uint64_t seed;        /* 42 */
} mgsd_synth_options;

void mgsd_synth_options_default(mgsd_synth_options *o);

/* Generated interactions in row order (grouped by user, time ascending). */
typedef struct mgsd_synth {
    int64_t n;
    int32_t *users;       /* 1..users */
    int32_t *items;       /* 1..items */
    int32_t *cluster;     /* interest cluster of each item id (items+1 entries, [0] = -1) */
    uint8_t *is_noise;    /* per row */
    int64_t *timestamps;
    int32_t n_users, n_items;
} mgsd_synth;

mgsd_status mgsd_synth_generate(mgsd_synth *s, const mgsd_synth_options *o);
void mgsd_synth_free(mgsd_synth *s);
/* Write PATH (.inter: user_id:token, item_id:token, timestamp:float) and PATH.noise
 * (same rows plus is_noise:float); each through a temporary file and rename. */
mgsd_status mgsd_synth_write(const mgsd_synth *s, const char *path);
/* The .inter text in memory (caller frees with mgsd_synth_free_text). */
mgsd_status mgsd_synth_to_text(const mgsd_synth *s, char **text, size_t *len);
void mgsd_synth_free_text(char *text);
/* Build a dataset directly (no file), filtered by opt (NULL: defaults). */
mgsd_status mgsd_synth_to_dataset(const mgsd_synth *s, const mgsd_data_options *opt,
                                  mgsd_dataset **out);
/* Per-row noise labels of a .noise file (its is_noise column, in row order). The caller
 * frees *labels with mgsd_data_free_labels. */
mgsd_status mgsd_data_read_noise_labels(const char *path, uint8_t **labels, int64_t *n_rows);
void mgsd_data_free_labels(uint8_t *labels);
/* Map row-aligned labels (n_rows of them) onto the dataset's CSR positions:
 * out[k] = row_labels[source_rows[k]] for k < num_interactions. */
mgsd_status mgsd_dataset_map_row_labels(const mgsd_dataset *ds, const uint8_t *row_labels,
                                        int64_t n_rows, uint8_t *out);

#ifdef __cplusplus
}
#endif
#endif
