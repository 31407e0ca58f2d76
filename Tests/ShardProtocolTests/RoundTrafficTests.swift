import ShardProtocol
import Testing

@Suite("Round traffic")
struct RoundTrafficTests {
    /// Softmax on iris (3 classes × (4 features + bias) = 15 parameters, 16 sums) over 10 blocks and 3 workers.
    /// Shards [0,3) [3,6) [6,10); the tree of 10 blocks (height 4) tiles them with (1,0)+(0,2), (0,3)+(1,2),
    /// (1,3)+(3,1): two nodes each. PARAMS = 60 + 8·15 = 180 bytes; PARTIALS = 44 + 2·(13 + 8·16) = 326 bytes.
    @Test("bytes per worker follow the wire format and the reduction tree (hand-computed)")
    func goldens() throws {
        let three = try #require(RoundTraffic(parameterCount: 15, sumsWidth: 16, blockCount: 10, workers: 3))
        #expect(three.params == [180, 180, 180])
        #expect(three.partials == [326, 326, 326])
        #expect(three.frames.reduce(0, +) == 1518)
        // One worker holds all 10 blocks: the root (4,0) alone, 44 + 141 = 185 bytes.
        let one = try #require(RoundTraffic(parameterCount: 15, sumsWidth: 16, blockCount: 10, workers: 1))
        #expect(one.params == [180] && one.partials == [185])
        // Ten workers, one block each: every shard is one leaf.
        let ten = try #require(RoundTraffic(parameterCount: 15, sumsWidth: 16, blockCount: 10, workers: 10))
        #expect(ten.partials == [Int](repeating: 185, count: 10))
        #expect(RoundTraffic(parameterCount: 15, sumsWidth: 16, blockCount: 10, workers: 11) == nil)
        #expect(RoundTraffic(parameterCount: 15, sumsWidth: 16, blockCount: 10, workers: 0) == nil)
    }
}
