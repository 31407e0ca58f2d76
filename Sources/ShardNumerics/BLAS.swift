import COpenBLAS

/// Matrix products on row-major buffers through OpenBLAS (Debian's `libopenblas`), one BLAS thread.
///
/// ```
/// C (m, n) = α · op(A) · op(B) + β · C        op(A) (m, k), op(B) (k, n)
/// A stored (m, k) row-major, or (k, m) when `transposeA` (op(A) = Aᵀ); the same for B with (k, n) / (n, k)
/// ```
/// OpenBLAS runs on the calling thread only (`openblas_set_num_threads(1)` before the first product): the
/// block runner already puts one compute thread on every core, and a product's summation order then depends
/// only on its shapes and on the kernel OpenBLAS picked for this CPU (`coreName`), never on a thread count.
/// A product with β = 0 never reads C (NaN in C does not propagate).
public enum BLAS {
    /// `gemm` on Float (`cblas_sgemm`) or Double (`cblas_dgemm`); see the type's documentation.
    public static func gemm<T: BLASScalar>(
        m: Int, n: Int, k: Int, alpha: T = 1, _ a: UnsafeBufferPointer<T>, transposeA: Bool = false,
        _ b: UnsafeBufferPointer<T>, transposeB: Bool = false, beta: T = 0, into c: UnsafeMutableBufferPointer<T>
    ) throws(BLASError) {
        guard m >= 0, n >= 0, k >= 0 else { throw .negativeShape(m: m, n: n, k: k) }
        let limit = Int(Int32.max)
        // Below 2³¹ each, the products m·k, k·n, m·n cannot overflow Int.
        guard m <= limit, n <= limit, k <= limit else { throw .tooLarge(m: m, n: n, k: k) }
        guard a.count == m * k else { throw .bufferLength(operand: "A", expected: m * k, actual: a.count) }
        guard b.count == k * n else { throw .bufferLength(operand: "B", expected: k * n, actual: b.count) }
        guard c.count == m * n else { throw .bufferLength(operand: "C", expected: m * n, actual: c.count) }
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // No products: C = β·C (OpenBLAS would read C even for β = 0).
            for index in c.indices { c[index] = beta == 0 ? 0 : beta * c[index] }
            return
        }
        _ = singleThreaded
        T.cblasGEMM(
            transposeA: transposeA, transposeB: transposeB, m: Int32(m), n: Int32(n), k: Int32(k), alpha: alpha,
            a: a.baseAddress!, lda: Int32(transposeA ? m : k), b: b.baseAddress!, ldb: Int32(transposeB ? k : n),
            beta: beta, c: c.baseAddress!, ldc: Int32(n))
    }

    /// The kernel family OpenBLAS chose for this CPU at load time (`openblas_get_corename()`, e.g. "SkylakeX").
    public static let coreName: String = String(cString: openblas_get_corename())

    /// OpenBLAS's build configuration (`openblas_get_config()`: version, build options, core).
    public static let configuration: String = String(cString: openblas_get_config())

    /// What another process must share for products to round the same way: the library build and its kernel.
    public static var identity: String { "\(configuration); core \(coreName)" }

    /// The BLAS threads per call: 1 once any product ran (or `pinToOneThread()` was called).
    public static var threadsPerCall: Int { Int(openblas_get_num_threads()) }

    /// Pins OpenBLAS to one thread per call now (every `gemm` does it before its first product).
    public static func pinToOneThread() { _ = singleThreaded }

    private static let singleThreaded: Void = openblas_set_num_threads(1)
}

/// The element types of `BLAS.gemm`.
public protocol BLASScalar: BinaryFloatingPoint, Sendable {
    /// One row-major CBLAS gemm call, arguments already checked by `BLAS.gemm`.
    static func cblasGEMM(
        transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32, alpha: Self, a: UnsafePointer<Self>,
        lda: Int32, b: UnsafePointer<Self>, ldb: Int32, beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int32)
}

extension Float: BLASScalar {
    public static func cblasGEMM(
        transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32, alpha: Float, a: UnsafePointer<Float>,
        lda: Int32, b: UnsafePointer<Float>, ldb: Int32, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int32
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, m, n, k,
            alpha, a, lda, b, ldb, beta, c, ldc)
    }
}

extension Double: BLASScalar {
    public static func cblasGEMM(
        transposeA: Bool, transposeB: Bool, m: Int32, n: Int32, k: Int32, alpha: Double, a: UnsafePointer<Double>,
        lda: Int32, b: UnsafePointer<Double>, ldb: Int32, beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int32
    ) {
        cblas_dgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, m, n, k,
            alpha, a, lda, b, ldb, beta, c, ldc)
    }
}

/// A matrix product whose shapes do not fit its buffers, or that CBLAS's 32-bit sizes cannot express.
public enum BLASError: Error, Sendable, Equatable, CustomStringConvertible {
    case negativeShape(m: Int, n: Int, k: Int)
    case tooLarge(m: Int, n: Int, k: Int)
    /// `operand` ("A", "B" or "C") holds `actual` values, the shapes need `expected`.
    case bufferLength(operand: String, expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .negativeShape(let m, let n, let k): "gemm: negative shape m = \(m), n = \(n), k = \(k)"
        case .tooLarge(let m, let n, let k): "gemm: m = \(m), n = \(n), k = \(k) exceed CBLAS's 32-bit sizes"
        case .bufferLength(let operand, let expected, let actual):
            "gemm: \(operand) holds \(actual) values, the shapes need \(expected)"
        }
    }
}
