/* libFuzzer target for the configuration readers. The first byte picks what the rest is:
 * - below 0x80: a YAML file on top of one model's defaults (byte % models picks it), as
 *   `mgsd train --config=FILE` reads it, RecBole's nested settings included; a loaded file
 *   must survive the getters the trainer uses and a round trip through the text form;
 * - 0x80 and above: the checkpoint text form (section "config", docs/config.md), read into
 *   an empty config as `mgsd eval` reads a checkpoint; what it accepts must round-trip.
 * Errors are expected and fine; crashes, sanitizer reports, leaks and round-trip
 * differences are bugs. */
#include <stdint.h>
#include <string.h>

#include "model/model.h"
#include "train/trainer.h"

/* serialize c, read the text into a fresh config, serialize again: the texts must match */
static void round_trip(mgsd_config *c) {
    const char *text, *text2;
    size_t len, len2;
    if (mgsd_config_serialize(c, &text, &len) != MGSD_OK) __builtin_trap();
    mgsd_config *back = NULL;
    if (mgsd_config_create(&back) != MGSD_OK) __builtin_trap();
    if (mgsd_config_deserialize(back, "round trip", text, len) != MGSD_OK) __builtin_trap();
    if (mgsd_config_serialize(back, &text2, &len2) != MGSD_OK || len2 != len || memcmp(text, text2, len))
        __builtin_trap();
    mgsd_config_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const char *text = (const char *)data + 1;
    mgsd_config *c = NULL;
    if (data[0] >= 0x80) {
        if (mgsd_config_create(&c) != MGSD_OK) __builtin_trap();
        if (mgsd_config_deserialize(c, "fuzz.ckpt", text, size - 1) == MGSD_OK) round_trip(c);
        mgsd_config_free(c);
        return 0;
    }
    const model_vtable *const *models = model_list();
    int nm = 0;
    while (models[nm]) nm++;
    if (trainer_config_create(&c, models[data[0] % nm], 0, NULL) != MGSD_OK) __builtin_trap();
    if (mgsd_config_load_yaml_string(c, "fuzz.yaml", text, size - 1) == MGSD_OK) {
        size_t n;
        mgsd_config_warnings(c, &n);
        mgsd_data_options o;
        trainer_data_options(c, &o);
        trainer_settings s;
        trainer_settings_read(c, &s);
        const char *json;
        mgsd_config_to_json(c, 0, &json);
        round_trip(c);
    }
    mgsd_config_free(c);
    return 0;
}
