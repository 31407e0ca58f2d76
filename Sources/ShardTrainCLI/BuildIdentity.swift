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

    /// `<protocol, kernels and BLAS>; build <first 16 hex digits of SHA-256 of the executable>; libc <version>`.
    static let current: String = {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let build = (try? Data(contentsOf: executable)).map { String(Digest.sha256Hex([UInt8]($0)).prefix(16)) } ?? "unknown"
        return "\(WorkerShell.software); build \(build); libc \(libcVersion)"
    }()

    private static var libcVersion: String { String(cString: shardtrain_libc_version()) }
}
