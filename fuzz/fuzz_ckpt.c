/* libFuzzer target for reading checkpoints (`mgsd eval/recommend/explain --checkpoint=FILE`).
 * First byte even: the rest is a checkpoint file as it is, for the container's checks
 * (docs/checkpoint.md). Odd: the rest, split at 0xFF bytes, is the payload of the sections
 * model, config, dataset, params and params_layout, packed here into a container with valid
 * checksums, so that what the sections say is read as well: the model name, the config text
 * form and the dataset's id maps. (ckpt_writer writes files only; a file per run would be
 * slow, so pack() builds the version-1 layout of docs/checkpoint.md in memory.) Errors are
 * expected; crashes and sanitizer reports are bugs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "train/checkpoint.h"
#include "train/model_io.h"
#include "train/trainer.h"

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A version-1 container of the given sections (names fixed below). */
static unsigned char *pack(const uint8_t *const *part, const size_t *len, int n, size_t *size) {
    static const char *const names[5] = {"model", "config", "dataset", "params", "params_layout"};
    size_t cap = 16;
    for (int k = 0; k < n; k++) cap += 64 + 20 + strlen(names[k]) + len[k] + 64;
    unsigned char *b = calloc(1, cap);
    if (!b) return NULL;
    memcpy(b, "MGSDCKPT", 8);
    put32(b + 8, 1);
    put32(b + 12, (uint32_t)n);
    size_t off = 16;
    for (int k = 0; k < n; k++) {
        size_t nl = strlen(names[k]);
        unsigned char *h = b + off;
        h[4] = (unsigned char)nl;
        put32(h + 8, ckpt_crc32(0, part[k], len[k]));
        for (int i = 0; i < 8; i++) h[12 + i] = (unsigned char)((uint64_t)len[k] >> (8 * i));
        memcpy(h + 20, names[k], nl);
        put32(h, ckpt_crc32(0, h + 4, 16 + nl));
        off = (off + 20 + nl + 63) / 64 * 64;
        if (len[k]) memcpy(b + off, part[k], len[k]);
        off += len[k];
    }
    *size = off;
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (!(data[0] & 1)) {
        ckpt_reader r;
        if (ckpt_reader_open_buffer(&r, "fuzz.ckpt", data + 1, size - 1) == MGSD_OK) ckpt_reader_close(&r);
        return 0;
    }
    const uint8_t *part[5];
    size_t len[5];
    int n = 0;
    const uint8_t *p = data + 1, *end = data + size;
    while (n < 5) {
        const uint8_t *sep = memchr(p, 0xFF, (size_t)(end - p));
        part[n] = p;
        len[n++] = (size_t)((sep ? sep : end) - p);
        if (!sep) break;
        p = sep + 1;
    }
    size_t csize;
    unsigned char *c = pack(part, len, n, &csize);
    if (!c) return 0;
    model_io_ckpt ck;
    if (model_io_open_buffer(&ck, "fuzz.ckpt", c, csize) == MGSD_OK) {
        mgsd_config *cfg = NULL;
        if (trainer_config_create(&cfg, NULL, 0, NULL) != MGSD_OK) __builtin_trap();
        mgsd_config_deserialize(cfg, "fuzz.ckpt", ck.config, ck.config_len);
        mgsd_config_free(cfg);
        for (int32_t i = 1; i < ck.n_items; i++)
            if (model_io_find_item(&ck, ck.item_names[i]) < 1) __builtin_trap();
        for (int32_t u = 1; u <= ck.n_users; u++)
            if (model_io_find_user(&ck, ck.user_names[u]) < 1) __builtin_trap();
        model_io_close(&ck);
    }
    free(c);
    return 0;
}
