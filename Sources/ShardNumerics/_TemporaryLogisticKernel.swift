import CShardKernels
// TEMPORARY until the kernels branch lands (it owns the real wrapper).
public struct KernelShapeError: Error, CustomStringConvertible { public let description: String }
public enum LogisticKernel {
    public static func sums(of block: Block, weights: UnsafeBufferPointer<Double>, bias: Double, into output: UnsafeMutableBufferPointer<Double>) throws(KernelShapeError) {
        guard weights.count == block.columns, output.count == block.columns + 2 else { throw KernelShapeError(description: "bad sizes") }
        switch block.storage {
        case .float32(let f, let l):
            f.withUnsafeBufferPointer { fp in l.withUnsafeBufferPointer { lp in
                shardtrain_logistic_sums_f32(fp.baseAddress, lp.baseAddress, block.rows, block.columns, weights.baseAddress, bias, output.baseAddress) } }
        case .float64(let f, let l):
            f.withUnsafeBufferPointer { fp in l.withUnsafeBufferPointer { lp in
                shardtrain_logistic_sums_f64(fp.baseAddress, lp.baseAddress, block.rows, block.columns, weights.baseAddress, bias, output.baseAddress) } }
        }
    }
}
import Dispatch
public final class BlockSumsBuffer: @unchecked Sendable {
    public let count: Int; public let width: Int; public let stride: Int
    private let base: UnsafeMutablePointer<Double>
    public init(count: Int, width: Int) {
        self.count = count; self.width = width; self.stride = (width + 7) / 8 * 8
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count * stride) * 8, alignment: 64)
        base = raw.bindMemory(to: Double.self, capacity: max(1, count * stride))
        base.initialize(repeating: 0, count: max(1, count * stride))
    }
    deinit { base.deallocate() }
    public func slot(_ i: Int) -> UnsafeMutableBufferPointer<Double> { UnsafeMutableBufferPointer(start: base + i * stride, count: width) }
}
public enum ParallelBlocks {
    public static func run(count: Int, threads: Int, body: @Sendable (Int) -> Void) {
        if threads <= 1 { for i in 0..<count { body(i) }; return }
        DispatchQueue.concurrentPerform(iterations: count) { body($0) }
    }
}
