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
}
