/// The 1-based file line of each row of a dataset: stored only when the rows are not consecutive lines.
///
/// ```text
/// consecutive(first, count)   line of row r = first + r      (a file read in order: no memory per row)
/// listed(lines)               line of row r = lines[r]       (rows selected or reordered)
/// ```
public struct LineNumbers: Sendable, RandomAccessCollection, Equatable, ExpressibleByArrayLiteral {
    private enum Storage: Sendable {
        case consecutive(first: Int, count: Int)
        case listed([Int])
    }

    private let storage: Storage

    /// Rows on lines `first`, `first + 1`, …, `first + count − 1`.
    public init(first: Int, count: Int) { storage = .consecutive(first: first, count: Swift.max(0, count)) }

    public init(_ lines: [Int]) { storage = .listed(lines) }

    public init(arrayLiteral lines: Int...) { storage = .listed(lines) }

    public var startIndex: Int { 0 }

    public var endIndex: Int {
        switch storage {
        case .consecutive(_, let count): count
        case .listed(let lines): lines.count
        }
    }

    public subscript(row: Int) -> Int {
        switch storage {
        case .consecutive(let first, let count):
            precondition(row >= 0 && row < count, "LineNumbers: row \(row) outside 0..<\(count)")
            return first + row
        case .listed(let lines): return lines[row]
        }
    }

    /// Equal lines in the same order, however they are stored.
    public static func == (lhs: LineNumbers, rhs: LineNumbers) -> Bool { lhs.elementsEqual(rhs) }
}
