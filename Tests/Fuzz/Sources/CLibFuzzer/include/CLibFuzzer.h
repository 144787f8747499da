#ifndef LINKCORE_CLIBFUZZER_H
#define LINKCORE_CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>

// libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer): parses libFuzzer's options and
// runs `callback` on every input. Called from each target's own main (see FuzzDriver.swift).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
