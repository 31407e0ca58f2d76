/// Passes over long `Double` vectors (a network's 420k parameters, gradients and block sums), cut into fixed
/// chunks of `chunk` values that run on up to `threads` threads. A chunk's arithmetic never depends on which
/// thread runs it, and sums are combined chunk by chunk in index order, so every result depends on the
/// vector's length alone, never on the thread count. Vectors of at most one chunk stay on the calling thread.
public enum VectorPasses {
    /// Values per chunk (128 KiB of doubles).
    public static let chunk = 16_384

    /// `body(range)` for every chunk range of `0..<count`, spread over `threads` threads (0 = every core).
    public static func forEachChunk(count: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let chunks = (max(0, count) + chunk - 1) / chunk
        guard chunks > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        do {
            try ParallelBlocks.run(count: chunks, threads: ThreadCount.resolve(threads)) { index in
                body((index * chunk)..<min((index + 1) * chunk, count))
            }
        } catch {
            preconditionFailure("VectorPasses: \(error)")  // chunks ≥ 0 and threads ≥ 1 by construction
        }
    }

    /// `target[k] += source[k]` for every k (the counts must match).
    public static func add(
        _ source: UnsafeBufferPointer<Double>, into target: UnsafeMutableBufferPointer<Double>, threads: Int
    ) {
        precondition(source.count == target.count, "VectorPasses.add: \(source.count) values into \(target.count)")
        let (from, to) = (SharedPointer(source.baseAddress), SharedMutablePointer(target.baseAddress))
        forEachChunk(count: target.count, threads: threads) { range in
            guard let from = from.pointer, let to = to.pointer else { return }
            for k in range { to[k] += from[k] }
        }
    }

    /// `target[k] = left[k] + right[k]` for every k (the counts must match; `target` may be uninitialized memory):
    /// the bits of adding `right` into a copy of `left`, in one pass.
    public static func add(
        _ left: UnsafeBufferPointer<Double>, _ right: UnsafeBufferPointer<Double>,
        into target: UnsafeMutableBufferPointer<Double>, threads: Int
    ) {
        precondition(
            left.count == target.count && right.count == target.count,
            "VectorPasses.add: \(left.count) and \(right.count) values into \(target.count)")
        let (a, b, to) = (
            SharedPointer(left.baseAddress), SharedPointer(right.baseAddress), SharedMutablePointer(target.baseAddress)
        )
        forEachChunk(count: target.count, threads: threads) { range in
            guard let a = a.pointer, let b = b.pointer, let to = to.pointer else { return }
            for k in range { to[k] = a[k] + b[k] }
        }
    }

    /// A new array holding `left[k] + right[k]` (`add(_:_:into:threads:)` into new memory).
    public static func array(
        summing left: UnsafeBufferPointer<Double>, _ right: UnsafeBufferPointer<Double>, threads: Int
    ) -> [Double] {
        [Double](unsafeUninitializedCapacity: left.count) { buffer, initialized in
            add(left, right, into: buffer, threads: threads)
            initialized = left.count
        }
    }

    /// A new array holding `values`.
    public static func array(copying values: UnsafeBufferPointer<Double>, threads: Int) -> [Double] {
        let from = SharedPointer(values.baseAddress)
        return [Double](unsafeUninitializedCapacity: values.count) { buffer, initialized in
            let to = SharedMutablePointer(buffer.baseAddress)
            forEachChunk(count: values.count, threads: threads) { range in
                guard let from = from.pointer, let to = to.pointer else { return }
                (to + range.lowerBound).update(from: from + range.lowerBound, count: range.count)
            }
            initialized = values.count
        }
    }

    /// `Σ values[k]²`: each chunk in `LaneSums` order, the chunks' sums added in index order.
    public static func sumOfSquares(_ values: UnsafeBufferPointer<Double>, threads: Int) -> Double {
        forEachChunk(count: values.count, threads: threads, summingSquaresOf: values) { _ in }
    }

    /// `forEachChunk`, then `Σ values[k]²` in `sumOfSquares` order, each chunk's squares summed right after
    /// `body` wrote (or read) that chunk of `values`, while it is in cache. `values.count` is the pass's count.
    public static func forEachChunk(
        count: Int, threads: Int, summingSquaresOf values: UnsafeBufferPointer<Double>,
        _ body: @Sendable (Range<Int>) -> Void
    ) -> Double {
        precondition(count == values.count, "VectorPasses: a pass over \(count) values sums \(values.count) squares")
        let chunks = (values.count + chunk - 1) / chunk
        guard chunks > 1 else {
            if count > 0 { body(0..<count) }
            return LaneSums.sumOfSquares(values)
        }
        var partial = [Double](repeating: 0, count: chunks)
        let from = SharedPointer(values.baseAddress)
        partial.withUnsafeMutableBufferPointer { partial in
            let to = SharedMutablePointer(partial.baseAddress)
            forEachChunk(count: values.count, threads: threads) { range in
                body(range)
                guard let from = from.pointer, let to = to.pointer else { return }
                to[range.lowerBound / chunk] = LaneSums.sumOfSquares(
                    UnsafeBufferPointer(start: from + range.lowerBound, count: range.count))
            }
        }
        return partial.reduce(0, +)
    }

    /// `Σ_{k ∈ ranges} values[k]²` (the L2 penalty of a model's regularised tensors): range by range in the given
    /// order, each range's squares in `sumOfSquares` order (its chunks counted from its own start).
    public static func sumOfSquares(_ values: UnsafeBufferPointer<Double>, over ranges: [Range<Int>], threads: Int)
        -> Double
    {
        var squares = 0.0
        for range in ranges {
            squares += sumOfSquares(UnsafeBufferPointer(rebasing: values[range]), threads: threads)
        }
        return squares
    }

    /// A pass over `0..<count` in pieces, then `sumOfSquares(values, over: ranges)` with the same bits, each
    /// piece's squares summed right after `body` wrote (or read) it, while it is in cache. The pieces: every range
    /// of `ranges` (ascending, disjoint, inside `0..<count`) cut into chunks from its own start, and the indices
    /// between the ranges cut into chunks; `body(piece)` runs once for each, on up to `threads` threads.
    public static func forEachPiece(
        count: Int, threads: Int, summingSquaresOf values: UnsafeBufferPointer<Double>, over ranges: [Range<Int>],
        _ body: @Sendable (Range<Int>) -> Void
    ) -> Double {
        precondition(count == values.count, "VectorPasses: a pass over \(count) values sums \(values.count) squares")
        let from = SharedPointer(values.baseAddress)
        return forEachPiece(count: count, threads: threads, over: ranges) { piece, squared in
            body(piece)
            guard squared, let from = from.pointer else { return 0 }
            return LaneSums.sumOfSquares(UnsafeBufferPointer(start: from + piece.lowerBound, count: piece.count))
        }
    }

    /// The pieces of `forEachPiece(count:threads:summingSquaresOf:over:_:)`, for a `body` that sums the squares
    /// itself: `body(piece, squared)` returns, when `squared` (the piece lies in a range), the `LaneSums` sum of
    /// squares of that piece's values; the result adds them as `sumOfSquares(_:over:threads:)` does.
    public static func forEachPiece(
        count: Int, threads: Int, over ranges: [Range<Int>], _ body: @Sendable (Range<Int>, _ squared: Bool) -> Double
    ) -> Double {
        forEachPiece(count: count, threads: threads, over: ranges) { piece, squared in (body(piece, squared), 0) }
            .squares
    }

    /// `forEachPiece(count:threads:over:_:)` whose `body` also returns a second sum for every piece, `perPiece`
    /// (e.g. the piece's squares of another vector); those are added over all the pieces in index order.
    public static func forEachPiece(
        count: Int, threads: Int, over ranges: [Range<Int>],
        _ body: @Sendable (Range<Int>, _ squared: Bool) -> (squares: Double, perPiece: Double)
    ) -> (squares: Double, perPieceTotal: Double) {
        let work = pieces(count: count, over: ranges)
        var partial = [(squares: Double, perPiece: Double)](repeating: (0, 0), count: work.count)
        partial.withUnsafeMutableBufferPointer { partial in
            let to = SharedMutablePointer(partial.baseAddress)
            do {
                try ParallelBlocks.run(count: work.count, threads: ThreadCount.resolve(threads)) { index in
                    let sums = body(work[index].range, work[index].owner != nil)
                    to.pointer?[index] = sums
                }
            } catch {
                preconditionFailure("VectorPasses: \(error)")  // pieces ≥ 0 and threads ≥ 1 by construction
            }
        }
        // Each range's pieces in order, as `sumOfSquares` adds its chunks; the ranges in order.
        var squares = 0.0
        for owner in ranges.indices {
            let sums = work.indices.filter { work[$0].owner == owner }.map { partial[$0].squares }
            squares += sums.count == 1 ? sums[0] : sums.reduce(0, +)
        }
        return (squares, partial.reduce(0) { $0 + $1.perPiece })
    }

    /// The pieces of `forEachPiece` in index order, each with the index of the range of `ranges` it lies in (nil
    /// between ranges): every range cut into chunks from its own start, and the indices between ranges likewise.
    public static func pieces(count: Int, over ranges: [Range<Int>]) -> [(range: Range<Int>, owner: Int?)] {
        var pieces: [(range: Range<Int>, owner: Int?)] = []
        func cut(_ range: Range<Int>, owner: Int?) {
            for start in stride(from: range.lowerBound, to: range.upperBound, by: chunk) {
                pieces.append((start..<min(start + chunk, range.upperBound), owner))
            }
        }
        var next = 0
        for (index, range) in ranges.enumerated() {
            precondition(
                range.lowerBound >= next && range.upperBound <= count,
                "VectorPasses: ranges must be ascending, disjoint and inside 0..<\(count), got \(ranges)")
            cut(next..<range.lowerBound, owner: nil)
            cut(range, owner: index)
            next = range.upperBound
        }
        cut(next..<count, owner: nil)
        return pieces
    }
}

/// A read-only pointer handed to the chunks of a pass (each chunk reads its own range).
public struct SharedPointer<T>: @unchecked Sendable {
    public let pointer: UnsafePointer<T>?
    public init(_ pointer: UnsafePointer<T>?) { self.pointer = pointer }
}

/// A pointer the chunks of a pass write through, each chunk only its own range.
public struct SharedMutablePointer<T>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<T>?
    public init(_ pointer: UnsafeMutablePointer<T>?) { self.pointer = pointer }
}
