import FuzzSupport
import ShardArtifacts

/// Any file must load as a model file or throw an `ArtifactError` (the loader takes a path).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    throughFile(data, size, suffix: ".safetensors") { path in _ = try? ModelFile.read(from: path) }
}

runLibFuzzer()
