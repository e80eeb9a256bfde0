/* String interner for user and item tokens: open addressing (linear probing) over one
 * growing string pool, so reading a file makes no allocation per token. */
#include <string.h>

#include "core/core.h"
#include "data/data_internal.h"

static uint32_t intern_hash(const char *s, size_t len) {
    /* FNV-1a, 32 bit, with a final avalanche; tokens are short. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    return h;
}

void data_intern_init(data_intern *t) { memset(t, 0, sizeof *t); }

void data_intern_free(data_intern *t) {
    mgsd_free(t->pool);
    mgsd_free(t->offs);
    mgsd_free(t->lens);
    mgsd_free(t->hashes);
    mgsd_free(t->slots);
    memset(t, 0, sizeof *t);
}

static int intern_rehash(data_intern *t, size_t n_slots) {
    int32_t *slots = mgsd_calloc(n_slots, sizeof *slots);
    if (!slots) return -1;
    for (int32_t id = 0; id < t->n; id++) {
        size_t j = t->hashes[id] & (n_slots - 1);
        while (slots[j]) j = (j + 1) & (n_slots - 1);
        slots[j] = id + 1;
    }
    mgsd_free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    return 0;
}

int32_t data_intern_find(const data_intern *t, const char *s, size_t len) {
    if (!t->n_slots) return -1;
    uint32_t h = intern_hash(s, len);
    size_t j = h & (t->n_slots - 1);
    for (;;) {
        int32_t v = t->slots[j];
        if (!v) return -1;
        int32_t id = v - 1;
        if (t->hashes[id] == h && t->lens[id] == len && memcmp(t->pool + t->offs[id], s, len) == 0)
            return id;
        j = (j + 1) & (t->n_slots - 1);
    }
}

int32_t data_intern_add(data_intern *t, const char *s, size_t len) {
    if (len > UINT32_MAX) {
        mgsd_error(MGSD_ERR_INVALID_ARG, "token longer than 4 GiB");
        return -1;
    }
    /* Keep the load factor under 1/2. */
    if ((size_t)(t->n + 1) * 2 > t->n_slots) {
        if (intern_rehash(t, t->n_slots ? t->n_slots * 2 : 1024)) return -1;
    }
    uint32_t h = intern_hash(s, len);
    size_t j = h & (t->n_slots - 1);
    for (;;) {
        int32_t v = t->slots[j];
        if (!v) break;
        int32_t id = v - 1;
        if (t->hashes[id] == h && t->lens[id] == len && memcmp(t->pool + t->offs[id], s, len) == 0)
            return id;
        j = (j + 1) & (t->n_slots - 1);
    }
    if (t->n == INT32_MAX - 1) {
        mgsd_error(MGSD_ERR_INVALID_ARG, "more than 2^31 distinct tokens");
        return -1;
    }
    if (t->n == t->cap) {
        int32_t cap = t->cap ? (t->cap > INT32_MAX / 2 ? INT32_MAX - 1 : t->cap * 2) : 1024;
        int64_t *offs = mgsd_realloc(t->offs, (size_t)cap * sizeof *offs);
        if (!offs) return -1;
        t->offs = offs;
        uint32_t *lens = mgsd_realloc(t->lens, (size_t)cap * sizeof *lens);
        if (!lens) return -1;
        t->lens = lens;
        uint32_t *hashes = mgsd_realloc(t->hashes, (size_t)cap * sizeof *hashes);
        if (!hashes) return -1;
        t->hashes = hashes;
        t->cap = cap;
    }
    if (t->pool_len + len + 1 > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap : 16384;
        while (cap < t->pool_len + len + 1) cap *= 2;
        char *pool = mgsd_realloc(t->pool, cap);
        if (!pool) return -1;
        t->pool = pool;
        t->pool_cap = cap;
    }
    int32_t id = t->n++;
    t->offs[id] = (int64_t)t->pool_len;
    t->lens[id] = (uint32_t)len;
    t->hashes[id] = h;
    memcpy(t->pool + t->pool_len, s, len);
    t->pool[t->pool_len + len] = '\0';
    t->pool_len += len + 1;
    t->slots[j] = id + 1;
    return id;
}
