#pragma once

/// Runs libFuzzer on `LLVMFuzzerTestOneInput` (which the fuzz target defines) with the command line's options.
/// SwiftPM renames an executable's `main`, so libFuzzer's own `main` cannot be used; this is called from it.
int fuzzer_driver_main(int argc, char **argv);
