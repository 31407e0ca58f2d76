import ShardNumerics
import Synchronization
import Testing

/// `BLAS.gemm` against the plain triple loop, its shape errors, and its one-thread determinism.
@Suite("BLAS gemm")
struct BLASTests {
    /// One product to check: shapes, transposes and scalars.
    struct Case {
        var m, n, k: Int
        var transposeA, transposeB: Bool
        var alpha, beta: Double
    }

    /// Tiny and odd shapes around OpenBLAS's unroll widths with every transpose and two (α, β); then the
    /// products the networks make on blocks of 64 rows (VAE 784-256-32, triplet 512 → 128): the forward
    /// `X·W + b` (β = 1), `∂W = Xᵀ·∂Y` and `∂X = ∂Y·Wᵀ`.
    static let cases: [Case] = {
        var cases: [Case] = []
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 33, 9), (5, 130, 3), (64, 64, 200)] {
            for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
                for (alpha, beta) in [(1.0, 0.0), (-1.5, 0.25)] {
                    cases.append(Case(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta))
                }
            }
        }
        for (input, output) in [(784, 256), (256, 64), (32, 256), (256, 784), (512, 128)] {
            cases.append(Case(m: 64, n: output, k: input, transposeA: false, transposeB: false, alpha: 1, beta: 1))
            cases.append(Case(m: input, n: output, k: 64, transposeA: true, transposeB: false, alpha: 1, beta: 0))
            cases.append(Case(m: 64, n: input, k: output, transposeA: false, transposeB: true, alpha: 1, beta: 0))
        }
        return cases
    }()

    /// `C = α·op(A)·op(B) + β·C` in Double, one term after the other, and the bound each entry's rounding error
    /// may reach in precision ε: `(k + 2)·ε·(|α| Σ_p |op(A)_ip op(B)_pj| + |β C_ij|)`.
    static func reference<T: BLASScalar>(
        m: Int, n: Int, k: Int, alpha: Double, _ a: [T], transposeA: Bool, _ b: [T], transposeB: Bool,
        beta: Double, c: [T]
    ) -> (values: [Double], bound: [Double]) {
        var values = [Double](repeating: 0, count: m * n)
        var bound = [Double](repeating: 0, count: m * n)
        let epsilon = Double(T.ulpOfOne)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                for i in 0..<m {
                    for j in 0..<n {
                        var sum = 0.0
                        var magnitude = 0.0
                        for p in 0..<k {
                            let left = Double(transposeA ? a[p * m + i] : a[i * k + p])
                            let right = Double(transposeB ? b[j * k + p] : b[p * n + j])
                            sum += left * right
                            magnitude += abs(left * right)
                        }
                        let previous = beta == 0 ? 0 : beta * Double(c[i * n + j])
                        values[i * n + j] = alpha * sum + previous
                        bound[i * n + j] = Double(k + 2) * epsilon * (abs(alpha) * magnitude + abs(previous))
                    }
                }
            }
        }
        return (values, bound)
    }

    static func randomValues<T: BLASScalar>(_ count: Int, _ random: inout SplitMix64) -> [T] {
        (0..<count).map { _ in T(random.nextUnit() * 2 - 1) }
    }

    static func checkAgainstLoop<T: BLASScalar>(_ type: T.Type) throws {
        var random = SplitMix64(seed: 0xB1A5)
        for testCase in cases {
            let (m, n, k, alpha, beta) = (testCase.m, testCase.n, testCase.k, testCase.alpha, testCase.beta)
            let (transposeA, transposeB) = (testCase.transposeA, testCase.transposeB)
            let a: [T] = randomValues(m * k, &random)
            let b: [T] = randomValues(k * n, &random)
            var c: [T] = randomValues(m * n, &random)
            let expected = reference(
                m: m, n: n, k: k, alpha: Double(T(alpha)), a, transposeA: transposeA, b, transposeB: transposeB,
                beta: Double(T(beta)), c: c)
            try a.withUnsafeBufferPointer { a in
                try b.withUnsafeBufferPointer { b in
                    try c.withUnsafeMutableBufferPointer { c in
                        try BLAS.gemm(
                            m: m, n: n, k: k, alpha: T(alpha), a, transposeA: transposeA, b, transposeB: transposeB,
                            beta: T(beta), into: c)
                    }
                }
            }
            let worst = (0..<(m * n)).map { abs(Double(c[$0]) - expected.values[$0]) - expected.bound[$0] }.max() ?? 0
            #expect(
                worst <= 0,
                "\(T.self) gemm \(m)×\(n)×\(k) transA \(transposeA) transB \(transposeB) α \(alpha) β \(beta) on core \(BLAS.coreName): error above the bound by \(worst)")
        }
    }

    @Test("dgemm matches the triple loop within (k + 2)·ε·Σ|terms| for every transpose and shape")
    func doubleMatchesLoop() throws { try Self.checkAgainstLoop(Double.self) }

    @Test("sgemm matches the triple loop within (k + 2)·ε·Σ|terms| for every transpose and shape")
    func floatMatchesLoop() throws { try Self.checkAgainstLoop(Float.self) }

    @Test("β = 0 never reads C: NaN in C does not reach the result; k = 0 gives β·C")
    func betaZeroIgnoresC() throws {
        let a: [Double] = [1, 2, 3, 4, 5, 6]
        let b: [Double] = [1, 0, 0, 1, 1, 1]
        var c = [Double](repeating: .nan, count: 4)
        try a.withUnsafeBufferPointer { a in
            try b.withUnsafeBufferPointer { b in
                try c.withUnsafeMutableBufferPointer { c in try BLAS.gemm(m: 2, n: 2, k: 3, a, b, into: c) }
            }
        }
        #expect(c == [4, 5, 10, 11])
        var scaled: [Double] = [1, 2]
        try scaled.withUnsafeMutableBufferPointer { c in
            try BLAS.gemm(m: 1, n: 2, k: 0, UnsafeBufferPointer(start: nil, count: 0), UnsafeBufferPointer(start: nil, count: 0), beta: 3, into: c)
        }
        #expect(scaled == [3, 6])
    }

    @Test("buffers that do not fit the shapes are refused with the operand named")
    func shapeErrors() {
        let a = [Double](repeating: 1, count: 6)
        var c = [Double](repeating: 0, count: 4)
        a.withUnsafeBufferPointer { a in
            c.withUnsafeMutableBufferPointer { c in
                #expect(throws: BLASError.bufferLength(operand: "B", expected: 6, actual: 6 - 1)) {
                    try BLAS.gemm(m: 2, n: 2, k: 3, a, UnsafeBufferPointer(rebasing: a[1...]), into: c)
                }
                #expect(throws: BLASError.bufferLength(operand: "A", expected: 4, actual: 6)) {
                    try BLAS.gemm(m: 2, n: 3, k: 2, a, a, into: c)
                }
                #expect(throws: BLASError.bufferLength(operand: "C", expected: 9, actual: 4)) {
                    try BLAS.gemm(m: 3, n: 3, k: 2, a, a, into: c)
                }
                #expect(throws: BLASError.negativeShape(m: -1, n: 2, k: 3)) {
                    try BLAS.gemm(m: -1, n: 2, k: 3, a, a, into: c)
                }
            }
        }
    }

    /// The product of `a` and `b` with every operand placed `offset` elements into a larger buffer.
    static func product<T: BLASScalar>(
        _ testCase: Case, _ a: [T], _ b: [T], offset: Int
    ) throws -> [T] {
        let padding = [T](repeating: 0, count: offset)
        let (shiftedA, shiftedB) = (padding + a, padding + b)
        var c = [T](repeating: 0, count: offset + testCase.m * testCase.n)
        try shiftedA.withUnsafeBufferPointer { a in
            try shiftedB.withUnsafeBufferPointer { b in
                try c.withUnsafeMutableBufferPointer { c in
                    try BLAS.gemm(
                        m: testCase.m, n: testCase.n, k: testCase.k, UnsafeBufferPointer(rebasing: a[offset...]),
                        transposeA: testCase.transposeA, UnsafeBufferPointer(rebasing: b[offset...]),
                        transposeB: testCase.transposeB, into: UnsafeMutableBufferPointer(rebasing: c[offset...]))
                }
            }
        }
        return Array(c[offset...])
    }

    static func checkAlignment<T: BLASScalar>(_ type: T.Type) throws {
        var random = SplitMix64(seed: 11)
        for testCase in cases where testCase.m * testCase.n * testCase.k >= 64 * 64 * 200 {
            let a: [T] = randomValues(testCase.m * testCase.k, &random)
            let b: [T] = randomValues(testCase.k * testCase.n, &random)
            let aligned = try product(testCase, a, b, offset: 0)
            for offset in 1...3 {
                #expect(
                    try product(testCase, a, b, offset: offset) == aligned,
                    "\(T.self) \(testCase.m)×\(testCase.n)×\(testCase.k) transA \(testCase.transposeA) transB \(testCase.transposeB): bits change with the operands' offset \(offset)")
            }
        }
    }

    @Test("the bits do not depend on where the operands sit in memory (blocks land at any address)")
    func alignmentDoesNotChangeBits() throws {
        try Self.checkAlignment(Float.self)
        try Self.checkAlignment(Double.self)
    }

    @Test("one BLAS thread per call: the same bits on the calling thread and on two threads at once")
    func oneThreadDeterminism() throws {
        let (m, n, k) = (64, 256, 784)
        var random = SplitMix64(seed: 7)
        let a: [Double] = Self.randomValues(m * k, &random)
        let b: [Double] = Self.randomValues(k * n, &random)
        @Sendable func product() -> [Double] {
            var c = [Double](repeating: 0, count: m * n)
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        do { try BLAS.gemm(m: m, n: n, k: k, a, b, into: c) } catch { Issue.record("\(error)") }
                    }
                }
            }
            return c
        }
        let alone = product()
        #expect(BLAS.threadsPerCall == 1)
        let identical = Atomic<Int>(0)
        try ParallelBlocks.run(count: 8, threads: 2) { _ in
            if product() == alone { identical.add(1, ordering: .relaxed) }
        }
        #expect(identical.load(ordering: .relaxed) == 8)
        #expect(BLAS.configuration.contains("OpenBLAS") && !BLAS.coreName.isEmpty)
        #expect(BLAS.identity.contains(BLAS.coreName))
    }
}
