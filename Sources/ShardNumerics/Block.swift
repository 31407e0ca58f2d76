import Synchronization

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

/// A block's values in place, valid only inside `Block.withValues`: `features` has `rows × columns` entries
/// (row-major), `labels` has `rows`.
public enum BlockValues {
    case float32(features: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Float>)
    case float64(features: UnsafeBufferPointer<Double>, labels: UnsafeBufferPointer<Double>)
}

/// A fixed-size slice of the training rows: the unit of work of a round.
///
/// `id` is the block's position in the block plan (0-based). Block ids, not the process or thread
/// that computes a block, decide where its sums enter the reduction tree.
///
/// The values are either arrays the block owns (`init(id:rows:columns:storage:)`) or a view into a `BlockMemory`
/// mapping (`init(id:rows:columns:precision:in:at:)`, e.g. a coordinator's shared block region), which the block
/// keeps alive. Kernels read both through `withValues` without a copy; `storage` gives a view's values as arrays,
/// copied once on first use.
public struct Block: Sendable {
    public let id: Int
    public let rows: Int
    public let columns: Int
    public let precision: Precision
    private let values: Values
    /// Facts about the values computed on first use (the values never change, so neither do they).
    private let facts = BlockFacts()

    private enum Values: Sendable {
        case owned(BlockStorage)
        case mapped(MappedValues)
    }

    /// Creates a block after checking that the storage holds `rows × columns` features and `rows` labels.
    public init(id: Int, rows: Int, columns: Int, storage: BlockStorage) throws(BlockShapeError) {
        let (featureCount, labelCount): (Int, Int) =
            switch storage {
            case .float32(let f, let l): (f.count, l.count)
            case .float64(let f, let l): (f.count, l.count)
            }
        try Self.checkShape(id: id, rows: rows, columns: columns)
        guard featureCount == rows * columns, labelCount == rows else {
            throw BlockShapeError(
                message: "block \(id): expected \(rows)×\(columns) features and \(rows) labels, "
                    + "got \(featureCount) features and \(labelCount) labels")
        }
        self.init(id: id, rows: rows, columns: columns, precision: storage.precision, values: .owned(storage))
    }

    /// A view of the values at byte `offset` of `memory`, laid out as `SharedBlockLocation` describes:
    ///
    ///     features  [offset, offset + rows·columns·w)      labels right after, rows·w bytes     w = precision.byteWidth
    ///
    /// Throws when they do not lie inside the mapping or `offset` is not a multiple of `w`.
    public init(id: Int, rows: Int, columns: Int, precision: Precision, in memory: BlockMemory, at offset: Int)
        throws(BlockShapeError)
    {
        try Self.checkShape(id: id, rows: rows, columns: columns)
        let (featureCount, overflow) = rows.multipliedReportingOverflow(by: columns)
        var view: MappedValues.View?
        if !overflow {
            switch precision {
            case .float32:
                if let features = memory.values(Float.self, count: featureCount, at: offset),
                    let labels = memory.values(Float.self, count: rows, at: offset &+ featureCount * 4)
                {
                    view = .float32(features: features, labels: labels)
                }
            case .float64:
                if let features = memory.values(Double.self, count: featureCount, at: offset),
                    let labels = memory.values(Double.self, count: rows, at: offset &+ featureCount * 8)
                {
                    view = .float64(features: features, labels: labels)
                }
            }
        }
        guard let view else {
            throw BlockShapeError(
                message: "block \(id): \(rows)×\(columns) \(precision) values at byte \(offset) do not lie within the "
                    + "\(memory.byteCount) bytes of the mapping, aligned to \(precision.byteWidth) bytes")
        }
        self.init(id: id, rows: rows, columns: columns, precision: precision, values: .mapped(MappedValues(memory: memory, view: view)))
    }

    private init(id: Int, rows: Int, columns: Int, precision: Precision, values: Values) {
        self.id = id
        self.rows = rows
        self.columns = columns
        self.precision = precision
        self.values = values
    }

    private static func checkShape(id: Int, rows: Int, columns: Int) throws(BlockShapeError) {
        guard id >= 0, rows >= 0, columns >= 0 else {
            throw BlockShapeError(message: "block \(id): negative id, rows (\(rows)) or columns (\(columns))")
        }
    }

    /// Whether the values are a view into a `BlockMemory` mapping rather than arrays of the block's own.
    public var isView: Bool {
        if case .mapped = values { return true }
        return false
    }

    /// The byte offset of the block's values in `memory` when the block is a view of it with its labels right after
    /// its features (the layout of `init(id:rows:columns:precision:in:at:)`), else nil.
    public func viewOffset(in memory: BlockMemory) -> Int? {
        guard case .mapped(let mapped) = values, mapped.memory === memory else { return nil }
        func offset<T>(_ features: UnsafeBufferPointer<T>, _ labels: UnsafeBufferPointer<T>) -> Int? {
            guard let start = features.baseAddress.map(UnsafeRawPointer.init) ?? labels.baseAddress.map(UnsafeRawPointer.init),
                let offset = memory.offset(of: start),
                labels.isEmpty || UnsafeRawPointer(labels.baseAddress!) == start + features.count * MemoryLayout<T>.stride
            else { return nil }
            return offset
        }
        switch mapped.view.values {
        case .float32(let features, let labels): return offset(features, labels)
        case .float64(let features, let labels): return offset(features, labels)
        }
    }

    /// The values as arrays: the block's own, or, for a view, a copy made on first use and kept (the copied pages
    /// of the mapping are released from this process's resident memory). Kernels use `withValues` instead.
    public var storage: BlockStorage {
        switch values {
        case .owned(let storage): storage
        case .mapped(let mapped): mapped.arrays()
        }
    }

    /// Calls `body` with the values in place (no copy, for arrays and views alike).
    public func withValues<R, E: Error>(_ body: (BlockValues) throws(E) -> R) throws(E) -> R {
        switch values {
        case .owned(.float32(let features, let labels)):
            return try features.withUnsafeBufferPointer { (features) throws(E) -> R in
                try labels.withUnsafeBufferPointer { (labels) throws(E) -> R in
                    try body(.float32(features: features, labels: labels))
                }
            }
        case .owned(.float64(let features, let labels)):
            return try features.withUnsafeBufferPointer { (features) throws(E) -> R in
                try labels.withUnsafeBufferPointer { (labels) throws(E) -> R in
                    try body(.float64(features: features, labels: labels))
                }
            }
        case .mapped(let mapped):
            return try withExtendedLifetime(mapped) { () throws(E) -> R in try body(mapped.view.values) }
        }
    }
}

extension Block {
    /// The index (row · columns + column) of the first feature outside [0, 1] (NaN included), or nil: a check
    /// made once per block and remembered, since a network that needs inputs in [0, 1] asks every round.
    public var firstFeatureOutsideUnitInterval: Int? {
        let known = facts.firstOutsideUnitInterval.load(ordering: .acquiring)
        if known != BlockFacts.unknown { return known == BlockFacts.none ? nil : known }
        let index = withValues { values in
            switch values {
            case .float32(let features, _): DenseKernels.firstOutsideUnitInterval(features)
            case .float64(let features, _): DenseKernels.firstOutsideUnitInterval(features)
            }
        }
        facts.firstOutsideUnitInterval.store(index ?? BlockFacts.none, ordering: .releasing)
        return index
    }
}

/// What `Block` remembers about its values; shared by the copies of a block. Two threads that ask at once both
/// compute the same answer.
private final class BlockFacts: Sendable {
    static let unknown = -2
    static let none = -1
    let firstOutsideUnitInterval = Atomic<Int>(unknown)
}

extension Block: Equatable {
    /// Same id, shape, precision and values (compared as `==` compares them), whether owned or viewed.
    public static func == (lhs: Block, rhs: Block) -> Bool {
        guard lhs.id == rhs.id, lhs.rows == rhs.rows, lhs.columns == rhs.columns, lhs.precision == rhs.precision else {
            return false
        }
        if case .owned(let left) = lhs.values, case .owned(let right) = rhs.values { return left == right }
        return lhs.withValues { left in
            rhs.withValues { right in
                switch (left, right) {
                case (.float32(let lf, let ll), .float32(let rf, let rl)): lf.elementsEqual(rf) && ll.elementsEqual(rl)
                case (.float64(let lf, let ll), .float64(let rf, let rl)): lf.elementsEqual(rf) && ll.elementsEqual(rl)
                default: false
                }
            }
        }
    }
}

/// A block's view into a mapping, and the arrays copied from it once something asks for `Block.storage`.
private final class MappedValues: Sendable {
    /// Pointers into `memory`, valid while it lives (this object keeps it).
    struct View: @unchecked Sendable {
        // Unchecked: the pointers are read-only views into the `BlockMemory` the same object keeps alive.
        let values: BlockValues

        static func float32(features: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Float>) -> View {
            View(values: .float32(features: features, labels: labels))
        }

        static func float64(features: UnsafeBufferPointer<Double>, labels: UnsafeBufferPointer<Double>) -> View {
            View(values: .float64(features: features, labels: labels))
        }
    }

    let memory: BlockMemory
    let view: View
    private let copied = Mutex<BlockStorage?>(nil)

    init(memory: BlockMemory, view: View) {
        self.memory = memory
        self.view = view
    }

    func arrays() -> BlockStorage {
        copied.withLock { copied in
            if let copied { return copied }
            let storage: BlockStorage
            switch view.values {
            case .float32(let features, let labels):
                storage = .float32(features: Array(features), labels: Array(labels))
                release(features, labels)
            case .float64(let features, let labels):
                storage = .float64(features: Array(features), labels: Array(labels))
                release(features, labels)
            }
            copied = storage
            return storage
        }
    }

    private func release<T>(_ features: UnsafeBufferPointer<T>, _ labels: UnsafeBufferPointer<T>) {
        memory.releaseResidentPages(of: UnsafeRawBufferPointer(features))
        memory.releaseResidentPages(of: UnsafeRawBufferPointer(labels))
    }
}

/// A block whose storage does not match its declared shape.
public struct BlockShapeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
