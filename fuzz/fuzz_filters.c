/* libFuzzer target: RecBole's value filter on an .inter file. The first line is the
 * val_interval setting (e.g. "rating=[3,inf)"), the rest the file; the first byte of the
 * file also picks rm_dup_inter and the k-core intervals (fuzz_common.h). */
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl || nl - data > 200) return 0;
    char spec[201];
    memcpy(spec, data, (size_t)(nl - data));
    spec[nl - data] = 0;
    fuzz_dataset_filtered(nl + 1, size - (size_t)(nl + 1 - data), "inter", spec);
    return 0;
}
