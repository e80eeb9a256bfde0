/* Internal pieces of the data module shared between its files: the string interner,
 * the raw interaction table the readers fill, and the dataset struct. */
#ifndef MGSD_SRC_DATA_INTERNAL_H
#define MGSD_SRC_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "mgsd/data.h"

/* String interner: one open-addressing hash table over a single string pool. Ids are
 * 0..n-1 in order of first insertion; strings are stored NUL-terminated in the pool. */
typedef struct data_intern_slot {
    uint64_t prefix;     /* first 8 bytes of the token, zero padded */
    uint32_t tag;        /* hash with the low byte replaced by min(len, 255) */
    int32_t id1;         /* id + 1, 0 = empty */
} data_intern_slot;

typedef struct data_intern {
    char *pool;
    size_t pool_len, pool_cap;
    int64_t *offs;       /* id -> offset in pool */
    uint32_t *lens;      /* id -> length */
    uint32_t *hashes;    /* id -> hash */
    data_intern_slot *slots;
    size_t n_slots;      /* power of two */
    int32_t n, cap;
    int32_t last;        /* id returned by the previous add (fast path), -1 if none */
} data_intern;

void data_intern_init(data_intern *t);
void data_intern_free(data_intern *t);
/* Id of s[0..len-1], inserting it if new. Returns -1 on allocation failure. */
int32_t data_intern_add(data_intern *t, const char *s, size_t len);
/* Id or -1. */
int32_t data_intern_find(const data_intern *t, const char *s, size_t len);
static inline const char *data_intern_str(const data_intern *t, int32_t id) {
    return t->pool + t->offs[id];
}

/* Raw interactions as read, one per data row, in file order. */
enum { DATA_MAX_VALUE_FIELDS = 4 };

typedef struct data_raw {
    int64_t n, cap;
    int32_t *user;       /* interner ids */
    int32_t *item;
    double *ts;
    int has_ts;
    data_intern users, items;
    const char *format;  /* "inter", "seq", "csv" */
    /* Columns whose values are read for val_interval (set before data_read): value_field[k]
     * names a column, values[k][row] is its number. */
    int n_value_fields;
    const char *value_field[DATA_MAX_VALUE_FIELDS];
    double *values[DATA_MAX_VALUE_FIELDS];
} data_raw;

void data_raw_init(data_raw *r);
void data_raw_free(data_raw *r);

/* Readers: parse the whole input (path or memory) into r. `format` may be NULL/"auto". */
mgsd_status data_read(data_raw *r, const char *path, const void *mem, size_t mem_len,
                      const char *name, const char *format);

struct mgsd_dataset {
    int32_t n_users;       /* U */
    int32_t n_items;       /* N incl. padding */
    int64_t n_inter;
    int64_t rows_read;
    int64_t *user_offs;    /* U+2 */
    int32_t *items;        /* n_inter */
    double *ts;            /* n_inter */
    int64_t *src_rows;     /* n_inter */
    int32_t *user_raw;     /* dense user -> interner id (U+1, [0] = -1) */
    int32_t *item_raw;     /* dense item -> interner id (N, [0] = -1) */
    int32_t *user_dense;   /* interner id -> dense id or -1 */
    int32_t *item_dense;
    data_intern user_names, item_names;
    const char *format;
    int max_len;
};

/* RecBole leave-one-out bookkeeping for a user with n interactions: RecBole creates
 * n-1 instances (targets at positions 1..n-1) and leaves out min(2, n_inst-1) of them.
 * Returns the number of training instances; *has_valid and *has_test tell the rest. */
static inline int64_t data_split_counts(int64_t n, int *has_valid, int *has_test) {
    int64_t inst = n > 1 ? n - 1 : 0;
    int64_t leave = inst > 0 ? (inst - 1 < 2 ? inst - 1 : 2) : 0;
    *has_test = leave >= 1;
    *has_valid = leave >= 2;
    return inst - leave;
}

#endif
