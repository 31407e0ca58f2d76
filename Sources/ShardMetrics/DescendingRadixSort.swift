import Dispatch
import ShardNumerics

/// Sorts finite scores in descending order, carrying each score's label along: an LSD radix sort on the
/// scores' IEEE-754 bit patterns, O(n), for ranking metrics over millions of scores where a comparison sort of
/// indices dominates the evaluation.
///
/// ```
/// key(s) = bits(s) ^ 0x8000…0   for s ≥ +0      (positive numbers above every negative one)
///          ~bits(s)             for s ≤ −0      (more negative → smaller key)
/// descending order = ascending order of ~key(s)
/// ```
/// `key` is monotonic in the value for finite doubles, with −0 directly below +0. Equal keys keep their
/// input order (each pass and the merge are stable), though callers here only group equal scores.
///
/// Six passes of 11-bit digits (small enough that a pass's 2,048 write positions stay in cache), their
/// histograms counted in one read of the keys; a pass whose keys all share the digit is skipped. Up to
/// `threads` contiguous parts of at least 2¹⁶ scores are sorted at once and then merged, so the result is the
/// same for any thread count.
enum DescendingRadixSort {
    static let digitBits = 11
    static let passes = (64 + digitBits - 1) / digitBits
    static let minimumPartSize = 1 << 16

    static func sort(scores: [Double], labels: [Bool], threads: Int = 0) -> (scores: [Double], labels: [Bool]) {
        precondition(scores.count == labels.count, "DescendingRadixSort: scores and labels differ in length")
        let count = scores.count
        var keys = scores.map(key)
        var carried = labels
        var keyBuffer = [UInt64](repeating: 0, count: count)
        var labelBuffer = [Bool](repeating: false, count: count)
        let parts = max(1, min(ThreadCount.resolve(threads), count / minimumPartSize))
        let bounds = (0...parts).map { count * $0 / parts }
        keys.withUnsafeMutableBufferPointer { keys in
            carried.withUnsafeMutableBufferPointer { carried in
                keyBuffer.withUnsafeMutableBufferPointer { keyBuffer in
                    labelBuffer.withUnsafeMutableBufferPointer { labelBuffer in
                        let arrays = Arrays(keys: keys, labels: carried, keyBuffer: keyBuffer, labelBuffer: labelBuffer)
                        sortParts(arrays, bounds: bounds)
                        merge(arrays, bounds: bounds)
                    }
                }
            }
        }
        // One part is sorted in `keys`; merged parts end in the buffers.
        if parts > 1 {
            swap(&keys, &keyBuffer)
            swap(&carried, &labelBuffer)
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

    private static let signBit: UInt64 = 1 << 63

    private static func key(_ score: Double) -> UInt64 {
        let bits = score.bitPattern
        let ascending = bits & signBit == 0 ? bits ^ signBit : ~bits
        return ~ascending
    }

    /// The four arrays of `count` elements the sort moves values between.
    private struct Arrays: @unchecked Sendable {
        let keys: UnsafeMutableBufferPointer<UInt64>
        let labels: UnsafeMutableBufferPointer<Bool>
        let keyBuffer: UnsafeMutableBufferPointer<UInt64>
        let labelBuffer: UnsafeMutableBufferPointer<Bool>
    }

    /// Sorts each part `bounds[p] ..< bounds[p + 1]` in `keys`/`labels`, each part on its own thread.
    private static func sortParts(_ arrays: Arrays, bounds: [Int]) {
        let parts = bounds.count - 1
        let work = { @Sendable (part: Int) in sortRange(arrays, range: bounds[part]..<bounds[part + 1]) }
        if parts == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: work) }
    }

    /// LSD radix sort of one range, the result in `keys`/`labels` (copied back when an odd number of passes moved
    /// it into the buffers).
    private static func sortRange(_ arrays: Arrays, range: Range<Int>) {
        let radix = 1 << digitBits
        let mask = UInt64(radix - 1)
        var histograms = [Int](repeating: 0, count: passes * radix)
        histograms.withUnsafeMutableBufferPointer { histograms in
            for index in range {
                let key = arrays.keys[index]
                for pass in 0..<passes { histograms[pass * radix + Int((key >> UInt64(pass * digitBits)) & mask)] += 1 }
            }
        }
        var source = (arrays.keys, arrays.labels)
        var target = (arrays.keyBuffer, arrays.labelBuffer)
        var inBuffer = false
        var offsets = [Int](repeating: 0, count: radix)
        for pass in 0..<passes {
            let counts = histograms[(pass * radix)..<((pass + 1) * radix)]
            // A pass whose keys all share this digit moves nothing.
            if counts.contains(range.count) { continue }
            var offset = range.lowerBound
            for (digit, size) in counts.enumerated() {
                offsets[digit] = offset
                offset += size
            }
            let shift = UInt64(pass * digitBits)
            offsets.withUnsafeMutableBufferPointer { offsets in
                for index in range {
                    let key = source.0[index]
                    let digit = Int((key >> shift) & mask)
                    let position = offsets[digit]
                    offsets[digit] = position + 1
                    target.0[position] = key
                    target.1[position] = source.1[index]
                }
            }
            swap(&source, &target)
            inBuffer.toggle()
        }
        if inBuffer {
            for index in range {
                arrays.keys[index] = arrays.keyBuffer[index]
                arrays.labels[index] = arrays.labelBuffer[index]
            }
        }
    }

    /// Merges the sorted parts into the buffers (stable: on equal keys the earlier part goes first). With one
    /// part, nothing to do. Parts merge pairwise, left to right, so the work is serial but O(n log parts).
    private static func merge(_ arrays: Arrays, bounds: [Int]) {
        let parts = bounds.count - 1
        guard parts > 1 else { return }
        var mergedEnd = bounds[1]
        var inBuffer = false  // where 0 ..< mergedEnd lies, merged
        for part in 1..<parts {
            let (left, right) = (0..<mergedEnd, mergedEnd..<bounds[part + 1])
            let source = inBuffer ? (arrays.keyBuffer, arrays.labelBuffer) : (arrays.keys, arrays.labels)
            let target = inBuffer ? (arrays.keys, arrays.labels) : (arrays.keyBuffer, arrays.labelBuffer)
            // The right part was sorted in `keys`; when the merged prefix is in the buffers, move it over.
            if inBuffer {
                for index in right {
                    arrays.keyBuffer[index] = arrays.keys[index]
                    arrays.labelBuffer[index] = arrays.labels[index]
                }
            }
            var (i, j, output) = (left.lowerBound, right.lowerBound, 0)
            while i < left.upperBound, j < right.upperBound {
                if source.0[j] < source.0[i] {
                    target.0[output] = source.0[j]
                    target.1[output] = source.1[j]
                    j += 1
                } else {
                    target.0[output] = source.0[i]
                    target.1[output] = source.1[i]
                    i += 1
                }
                output += 1
            }
            while i < left.upperBound {
                target.0[output] = source.0[i]
                target.1[output] = source.1[i]
                (i, output) = (i + 1, output + 1)
            }
            while j < right.upperBound {
                target.0[output] = source.0[j]
                target.1[output] = source.1[j]
                (j, output) = (j + 1, output + 1)
            }
            mergedEnd = right.upperBound
            inBuffer.toggle()
        }
        // The result must end in the buffers (the caller swaps them in).
        if !inBuffer {
            for index in 0..<mergedEnd {
                arrays.keyBuffer[index] = arrays.keys[index]
                arrays.labelBuffer[index] = arrays.labels[index]
            }
        }
    }
}
