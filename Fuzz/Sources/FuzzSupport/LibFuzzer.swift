#if canImport(Glibc)
    import Glibc
#endif
import CFuzzerDriver

/// Runs libFuzzer on the target's `LLVMFuzzerTestOneInput` with the command line's options, then exits with its
/// status. Called at the end of each target's `main.swift`.
public func runLibFuzzer() -> Never {
    exit(fuzzer_driver_main(CommandLine.argc, CommandLine.unsafeArgv))
}
