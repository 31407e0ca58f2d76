import CShardSystem
import Foundation
import ShardArtifacts
import ShardCluster


/// What a worker must share with its coordinator for results to be bit-identical: the same executable
/// (same code and code generation), the same numeric kernel path, the same BLAS (OpenBLAS build and the core
/// kernel it picked for the CPU: the networks' matrix products) and the same C library (libm's `exp`, `log`
/// and `cos` are part of the arithmetic).
enum BuildIdentity {
    /// The release of this source tree.
    static let version = "0.1.0"

    /// What `shardtrain --version` prints: the version, then the build identity.
    static var versionText: String { "shardtrain \(version)\nbuild: \(current)" }

    /// `<protocol, kernels and BLAS>; build <executable digest>; libc <version>`.
    static let current: String = "\(WorkerShell.software); build \(executableDigest); libc \(libcVersion)"

    /// The first 16 hex digits of the linker's GNU build ID (a hash of the executable's contents, written into
    /// it at link time, so reading it costs nothing); for an executable linked without one, the first 16 hex
    /// digits of the SHA-256 of the executable file (≈ 15 ms for 26 MB), marked `sha256:`.
    static var executableDigest: String {
        var bytes = [UInt8](repeating: 0, count: 64)
        let length = Int(shardtrain_executable_build_id(&bytes, Int32(bytes.count)))
        if length >= 8 {
            return String(bytes.prefix(min(length, 8)).map { String(format: "%02x", $0) }.joined())
        }
        let digest = try? Digest.sha256Hex(fileAt: "/proc/self/exe")
        return digest.map { "sha256:" + $0.prefix(16) } ?? "unknown"
    }

    private static var libcVersion: String { String(cString: shardtrain_libc_version()) }
}
