import FuzzSupport
import ShardProtocol

/// Any bytes in a WELCOME's job-spec field must decode to a valid spec or throw a `ClusterError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJobSpec(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? JobSpec.decode(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

runLibFuzzer()
