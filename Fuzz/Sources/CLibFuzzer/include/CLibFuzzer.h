#ifndef CREDBROKER_CLIBFUZZER_H
#define CREDBROKER_CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver (LLVMFuzzerRunDriver) with `callback` as the fuzz target and
/// returns its result, when this binary was built by scripts/fuzz.sh (libFuzzer linked
/// in and CREDBROKER_LIBFUZZER defined). In the ordinary build there is no libFuzzer: it
/// returns -1 at once and the caller replays files instead.
///
/// Why a C shim: LLVMFuzzerRunDriver exists only when libFuzzer is linked, so Swift must
/// not name it in the ordinary build; a preprocessor switch in C keeps the one Swift
/// source valid in both builds without a -D flag on the Swift side.
int credbroker_fuzz_driver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
