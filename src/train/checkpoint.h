/* Checkpoint container: one versioned binary file holding named, checksummed sections
 * ("model", "config", "dataset", "params", "adam_m", "adam_v", "state", ...). The layout
 * is described in docs/checkpoint.md. Section payloads are opaque bytes to this module;
 * float buffers are stored in host order, and the format is little-endian, so this
 * module refuses to run on big-endian hosts (MGSD_ERR_UNSUPPORTED).
 *
 * Writing is atomic: sections go to PATH.tmp, which is fsync'ed and renamed over PATH
 * only by ckpt_writer_commit; any failure removes PATH.tmp and leaves an existing PATH
 * untouched. Reading loads the whole file and verifies magic, version, every length and
 * every checksum before the first section is handed out, so a truncated, corrupt or
 * foreign file is an error naming the file and the section. */
#ifndef MGSD_TRAIN_CHECKPOINT_H
#define MGSD_TRAIN_CHECKPOINT_H

#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

#define CKPT_MAGIC "MGSDCKPT"
#define CKPT_FORMAT_VERSION 1u
#define CKPT_MAX_NAME 255 /* bytes of a section name (no NUL on disk) */
#define CKPT_ALIGN 64     /* section payloads start at multiples of 64 in the file */

typedef struct ckpt_writer {
    FILE *f;
    char *path;      /* final path */
    char *tmp_path;  /* path + ".tmp" */
    uint64_t offset; /* bytes written so far */
    uint32_t n_sections;
    char **names;    /* names added so far (duplicates are refused) */
    int failed;      /* a write failed: commit refuses, tmp already removed */
} ckpt_writer;

/* Create PATH.tmp (truncating a stale one) and write the file header. */
mgsd_status ckpt_writer_begin(ckpt_writer *w, const char *path);
/* Append a section. name: 1..255 bytes, unique in the file. data may be NULL iff len 0.
 * On failure the writer is aborted (PATH.tmp removed); later calls fail too. */
mgsd_status ckpt_writer_add(ckpt_writer *w, const char *name, const void *data, uint64_t len);
/* Patch the section count, flush, fsync, rename PATH.tmp -> PATH, fsync the directory.
 * Frees the writer on success and on failure. */
mgsd_status ckpt_writer_commit(ckpt_writer *w);
/* Give up: close and remove PATH.tmp, free the writer. Safe on a zeroed/freed writer. */
void ckpt_writer_abort(ckpt_writer *w);

typedef struct ckpt_section {
    char name[CKPT_MAX_NAME + 1];
    const void *data; /* into the reader's buffer, 64-byte aligned */
    uint64_t len;
} ckpt_section;

typedef struct ckpt_reader {
    char *path;             /* for messages */
    unsigned char *buf;     /* whole file */
    uint64_t size;
    uint32_t version;
    uint32_t n_sections;
    ckpt_section *sections; /* [n_sections], file order */
} ckpt_reader;

/* Read and verify a checkpoint. Errors (reader left zeroed):
 *   MGSD_ERR_IO      "FILE: cannot open: <strerror>"
 *   MGSD_ERR_FORMAT  "FILE: not an mgsd checkpoint"
 *                    "FILE: checkpoint format version V is not supported (this build reads 1)"
 *                    "FILE: truncated in section 'params'" / "... in the file header"
 *                    "FILE: checksum mismatch in section 'adam_m'"
 *                    "FILE: corrupt header of section N" / "FILE: N bytes of trailing data" */
mgsd_status ckpt_reader_open(ckpt_reader *r, const char *path);
/* Same checks on bytes already in memory (copied); `name` is used in messages. */
mgsd_status ckpt_reader_open_buffer(ckpt_reader *r, const char *name, const void *bytes, uint64_t size);
/* Section by name: MGSD_ERR_NOT_FOUND "FILE: no section 'x'" if absent. */
mgsd_status ckpt_reader_find(const ckpt_reader *r, const char *name, const void **data, uint64_t *len);
/* NULL if absent (no error recorded). */
const ckpt_section *ckpt_reader_get(const ckpt_reader *r, const char *name);
void ckpt_reader_close(ckpt_reader *r);

/* CRC-32 (IEEE 802.3, as zlib's crc32), continuing from crc (start with 0). */
uint32_t ckpt_crc32(uint32_t crc, const void *data, uint64_t len);

#endif
