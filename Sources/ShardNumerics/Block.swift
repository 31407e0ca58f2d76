/// How feature and label values are stored in memory (and shipped to workers).
///
/// Parameters, gradients and reductions are always `Double`; only the data is stored in the chosen
/// precision. `float32` halves the memory traffic of a gradient pass.
public enum Precision: String, Sendable, Codable, CaseIterable {
    case float32
    case float64

    /// Bytes per stored value.
    public var byteWidth: Int {
        switch self {
        case .float32: 4
        case .float64: 8
        }
    }
}

/// The row-major values of one block: `features` has `rows × columns` entries, `labels` has `rows`.
public enum BlockStorage: Sendable, Equatable {
    case float32(features: [Float], labels: [Float])
    case float64(features: [Double], labels: [Double])

    public var precision: Precision {
        switch self {
        case .float32: .float32
        case .float64: .float64
        }
    }
}

/// A fixed-size slice of the training rows: the unit of work of a round.
///
/// `id` is the block's position in the block plan (0-based). Block ids, not the process or thread
/// that computes a block, decide where its sums enter the reduction tree.
public struct Block: Sendable, Equatable {
    public let id: Int
    public let rows: Int
    public let columns: Int
    public let storage: BlockStorage

    /// Creates a block after checking that the storage holds `rows × columns` features and `rows` labels.
    public init(id: Int, rows: Int, columns: Int, storage: BlockStorage) throws(BlockShapeError) {
        let (featureCount, labelCount): (Int, Int) =
            switch storage {
            case .float32(let f, let l): (f.count, l.count)
            case .float64(let f, let l): (f.count, l.count)
            }
        guard id >= 0, rows >= 0, columns >= 0 else {
            throw BlockShapeError(message: "block \(id): negative id, rows (\(rows)) or columns (\(columns))")
        }
        guard featureCount == rows * columns, labelCount == rows else {
            throw BlockShapeError(
                message: "block \(id): expected \(rows)×\(columns) features and \(rows) labels, "
                    + "got \(featureCount) features and \(labelCount) labels")
        }
        self.id = id
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    public var precision: Precision { storage.precision }
}

/// A block whose storage does not match its declared shape.
public struct BlockShapeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
