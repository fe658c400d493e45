// libFuzzer's driver entry point (compiler-rt's libclang_rt.fuzzer, linked by
// -sanitize=fuzzer). The fuzz targets call it from their own main, because
// SwiftPM gives every executable target a main of its own on Linux.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
