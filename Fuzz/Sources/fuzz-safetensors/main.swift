import Foundation
import FuzzSupport
import ShardArtifacts

/// Any bytes must decode to safetensors or throw an `ArtifactError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? SafetensorsFile.decode(Data(bytes: data, count: size), path: "fuzz.safetensors")
    return 0
}

runLibFuzzer()
