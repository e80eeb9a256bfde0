/* String interner for user and item tokens: open addressing (linear probing) over one
 * growing string pool, so reading a file makes no allocation per token.
 *
 * Lookups are bound by cache misses on large tables, so a slot carries everything needed
 * to accept a short token without touching the pool: the first 8 bytes of the token
 * (zero padded; tokens never contain NUL), and a tag made of the hash with the low byte
 * replaced by min(len, 255). Tokens of up to 8 bytes (most ids) resolve in one miss. */
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

static inline uint64_t key_prefix(const char *s, size_t len) {
    /* Byte loop instead of a variable-length memcpy (a library call). */
    uint64_t k = 0;
    size_t n = len < 8 ? len : 8;
    for (size_t i = 0; i < n; i++) k |= (uint64_t)(unsigned char)s[i] << (8 * i);
    return k;
}

static inline uint32_t key_tag(uint32_t h, size_t len) {
    return (h & ~0xFFu) | (uint32_t)(len < 255 ? len : 255);
}

void data_intern_init(data_intern *t) {
    memset(t, 0, sizeof *t);
    t->last = -1;
}

void data_intern_free(data_intern *t) {
    mgsd_free(t->pool);
    mgsd_free(t->offs);
    mgsd_free(t->lens);
    mgsd_free(t->hashes);
    mgsd_free(t->slots);
    data_intern_init(t);
}

static int intern_rehash(data_intern *t, size_t n_slots) {
    data_intern_slot *slots = mgsd_calloc(n_slots, sizeof *slots);
    if (!slots) return -1;
    for (int32_t id = 0; id < t->n; id++) {
        size_t j = t->hashes[id] & (n_slots - 1);
        while (slots[j].id1) j = (j + 1) & (n_slots - 1);
        slots[j].prefix = key_prefix(t->pool + t->offs[id], t->lens[id]);
        slots[j].tag = key_tag(t->hashes[id], t->lens[id]);
        slots[j].id1 = id + 1;
    }
    mgsd_free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    return 0;
}

/* Slot index holding s, or the empty slot where it would go (*found = 0). */
static inline size_t intern_probe(const data_intern *t, const char *s, size_t len, uint32_t h, int *found) {
    uint64_t prefix = key_prefix(s, len);
    uint32_t tag = key_tag(h, len);
    size_t j = h & (t->n_slots - 1);
    for (;;) {
        const data_intern_slot *sl = &t->slots[j];
        if (!sl->id1) {
            *found = 0;
            return j;
        }
        if (sl->tag == tag && sl->prefix == prefix) {
            int32_t id = sl->id1 - 1;
            if (len <= 8 || (t->lens[id] == len && memcmp(t->pool + t->offs[id] + 8, s + 8, len - 8) == 0)) {
                *found = 1;
                return j;
            }
        }
        j = (j + 1) & (t->n_slots - 1);
    }
}

int32_t data_intern_find(const data_intern *t, const char *s, size_t len) {
    if (!t->n_slots) return -1;
    int found;
    size_t j = intern_probe(t, s, len, intern_hash(s, len), &found);
    return found ? t->slots[j].id1 - 1 : -1;
}

int32_t data_intern_add(data_intern *t, const char *s, size_t len) {
    if (len > UINT32_MAX) {
        mgsd_error(MGSD_ERR_INVALID_ARG, "token longer than 4 GiB");
        return -1;
    }
    /* Consecutive rows often repeat a token (files sorted by user). */
    if (t->last >= 0 && t->lens[t->last] == len && t->pool[t->offs[t->last]] == s[0] &&
        memcmp(t->pool + t->offs[t->last], s, len) == 0)
        return t->last;
    /* Keep the load factor under 1/2. */
    if ((size_t)(t->n + 1) * 2 > t->n_slots) {
        if (intern_rehash(t, t->n_slots ? t->n_slots * 2 : 1024)) return -1;
    }
    uint32_t h = intern_hash(s, len);
    int found;
    size_t j = intern_probe(t, s, len, h, &found);
    if (found) return t->last = t->slots[j].id1 - 1;
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
    t->slots[j].prefix = key_prefix(s, len);
    t->slots[j].tag = key_tag(h, len);
    t->slots[j].id1 = id + 1;
    t->last = id;
    return id;
}
