import ShardNumerics
import ShardWire
import Testing

@Suite("Frame sizes of a round")
struct FrameSizesTests {
    /// By hand from the layouts in `Message` and `FrameHeader`: PARAMS of the fraud data's logistic model (20
    /// features + bias = 21 values, one range) is 28 + 4 + 21·8 + 8 + 8 + 4 + 8 = 228 bytes; PARTIALS of 3 nodes of
    /// width 22 (21 gradient sums + the objective) is 28 + 8 + 4 + 4 + 3·(1 + 4 + 8 + 22·8) = 611 bytes.
    @Test("PARAMS and PARTIALS sizes match hand-computed goldens and what the codec encodes")
    func goldens() throws {
        #expect(WireCodec.paramsFrameBytes(parameterCount: 21, rangeCount: 1) == 228)
        #expect(WireCodec.partialsFrameBytes(nodeCount: 3, width: 22) == 611)
        #expect(WireCodec.paramsFrameBytes(parameterCount: 0, rangeCount: 0) == 52)
        #expect(WireCodec.partialsFrameBytes(nodeCount: 0, width: 0) == 44)
        let codec = WireCodec()
        let params = Frame(
            jobID: 7, round: 3, message: .params([Double](repeating: 0.5, count: 21), smoothing: 0, ranges: [4..<9]))
        #expect(try codec.encode(params).count == 228)
        let nodes = (0..<3).map {
            NodeSums(node: TreeNode(level: $0, index: 1), rowCount: 10, values: [Double](repeating: 1, count: 22))
        }
        #expect(try codec.encode(Frame(jobID: 7, round: 3, message: .partials(computeSeconds: 0.01, nodes: nodes))).count == 611)
        // The sizes follow the counts for any shape.
        for (values, ranges, nodeCount, width) in [(1, 3, 1, 2), (1000, 2, 5, 1001), (0, 1, 2, 0)] {
            let message = Message.params(
                [Double](repeating: 1, count: values), ranges: (0..<ranges).map { (2 * $0)..<(2 * $0 + 1) })
            #expect(try codec.encode(Frame(jobID: 1, message: message)).count
                == WireCodec.paramsFrameBytes(parameterCount: values, rangeCount: ranges))
            let sums = (0..<nodeCount).map {
                NodeSums(node: TreeNode(level: 0, index: $0), rowCount: 1, values: [Double](repeating: 2, count: width))
            }
            #expect(try codec.encode(Frame(jobID: 1, message: .partials(computeSeconds: 0, nodes: sums))).count
                == WireCodec.partialsFrameBytes(nodeCount: nodeCount, width: width))
        }
    }
}
