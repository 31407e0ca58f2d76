/// Sorts finite scores in descending order, carrying each score's label along: an LSD radix sort on the
/// scores' IEEE-754 bit patterns, O(n) (four passes of 16-bit digits), for ranking metrics over millions of
/// scores where a comparison sort of indices dominates the evaluation.
///
/// ```
/// key(s) = bits(s) ^ 0x8000…0   for s ≥ +0      (positive numbers above every negative one)
///          ~bits(s)             for s ≤ −0      (more negative → smaller key)
/// descending order = ascending order of ~key(s)
/// ```
/// `key` is monotonic in the value for finite doubles, with −0 directly below +0. Equal keys keep their
/// input order (each pass is stable), though callers here only group equal scores.
enum DescendingRadixSort {
    static func sort(scores: [Double], labels: [Bool]) -> (scores: [Double], labels: [Bool]) {
        precondition(scores.count == labels.count, "DescendingRadixSort: scores and labels differ in length")
        let count = scores.count
        let signBit: UInt64 = 1 << 63
        var keys = scores.map { score -> UInt64 in
            let bits = score.bitPattern
            let ascending = bits & signBit == 0 ? bits ^ signBit : ~bits
            return ~ascending
        }
        var carried = labels
        var keyBuffer = [UInt64](repeating: 0, count: count)
        var labelBuffer = [Bool](repeating: false, count: count)
        var counts = [Int](repeating: 0, count: 1 << 16)
        for pass in 0..<4 {
            let shift = UInt64(16 * pass)
            counts.withUnsafeMutableBufferPointer { counts in
                for digit in counts.indices { counts[digit] = 0 }
                keys.withUnsafeBufferPointer { keys in
                    for key in keys { counts[Int((key >> shift) & 0xFFFF)] += 1 }
                }
                // A pass whose keys all share this digit moves nothing.
                if counts.contains(count) { return }
                var offset = 0
                for digit in counts.indices {
                    let size = counts[digit]
                    counts[digit] = offset
                    offset += size
                }
                keys.withUnsafeBufferPointer { keys in
                    carried.withUnsafeBufferPointer { labels in
                        keyBuffer.withUnsafeMutableBufferPointer { keyOut in
                            labelBuffer.withUnsafeMutableBufferPointer { labelOut in
                                for index in 0..<count {
                                    let digit = Int((keys[index] >> shift) & 0xFFFF)
                                    let target = counts[digit]
                                    counts[digit] = target + 1
                                    keyOut[target] = keys[index]
                                    labelOut[target] = labels[index]
                                }
                            }
                        }
                    }
                }
                swap(&keys, &keyBuffer)
                swap(&carried, &labelBuffer)
            }
        }
        // The scratch arrays go before the scores are decoded, so a sort of n scores peaks at 2 arrays of n keys.
        keyBuffer = []
        labelBuffer = []
        let sorted = keys.map { key -> Double in
            let ascending = ~key
            return Double(bitPattern: ascending & signBit != 0 ? ascending ^ signBit : ~ascending)
        }
        return (sorted, carried)
    }
}
