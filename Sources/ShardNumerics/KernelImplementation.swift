import CShardKernels

/// Which code computes a kernel.
///
/// `fastest` uses the AVX2+FMA code when the CPU has it (checked at run time) and the portable code
/// otherwise. `portable` always runs the scalar all-double code. On one machine a given choice always
/// gives the same bits for the same inputs; the two choices differ in the last bits (float logits and
/// float tile sums in the f32 AVX2 path, another summation order in the f64 AVX2 path), so every
/// process of one training run must use the same choice on the same CPU feature level.
public enum KernelImplementation: String, Sendable, CaseIterable {
    case fastest
    case portable

    /// Whether `fastest` runs the AVX2+FMA code on this CPU.
    public static let simdAvailable: Bool = shardtrain_kernels_have_avx2_fma() != 0

    /// Whether `fastest` also runs AVX-512 code on this CPU (the softmax and pinball sums of `LinearLossKernel`).
    public static let wideVectorsAvailable: Bool = shardtrain_kernels_have_avx512() != 0

    /// The code `fastest` runs on this CPU, as named in a worker's software identity: "avx512+avx2+fma",
    /// "avx2+fma" or "portable". Two processes whose names differ can get different last bits.
    public static var fastestCode: String {
        wideVectorsAvailable ? "avx512+avx2+fma" : simdAvailable ? "avx2+fma" : "portable"
    }
}

/// The widest vectors a kernel may use. `widest` takes AVX-512 where the CPU has it; `avx2` keeps to AVX2 (tests
/// compare the two). They differ in the last bits, so every process of one run uses the same.
public enum VectorWidth: Sendable, CaseIterable {
    case widest
    case avx2
}
