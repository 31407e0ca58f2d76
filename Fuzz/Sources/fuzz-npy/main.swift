import FuzzSupport
import ShardData

/// Any file must read as a dataset or throw a `DataError` (the reader memory-maps a path).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNumpy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    throughFile(data, size, suffix: ".npy") { path in _ = try? NumpyReader.read(path: path) }
}

runLibFuzzer()
