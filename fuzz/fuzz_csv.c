/* libFuzzer target: the csv reader on arbitrary bytes (see fuzz_common.h). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_dataset(data, size, "csv");
    return 0;
}
