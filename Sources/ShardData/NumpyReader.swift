import ShardNumerics

/// Reads training data from NumPy `.npy` files (see `NumpyArray` for the accepted arrays).
///
/// ```text
/// X          2-D, shape (n, D) — or (n, D + 1) with the label in the last column when no labels file is given
/// y          shape (n,) or (n, 1), the same n as X
/// names      features f0 … f{D−1}, label "label"
/// messages   "line" is the 1-based row of X; the label is column D + 1
/// ```
///
/// The file is read (`pread`, never mapped: a file that shrinks meanwhile is an error, not a SIGBUS) and each value
/// is converted once into the dataset (`Double`, in chunks of `BlockPlan.chunkRows` rows, so that the default blocks
/// share them), on every core. A file changed while it is read is refused (`.fileChanged`). With a `SharedArena`,
/// the feature chunks are placed in it (see `FeatureRows`).
public enum NumpyReader {
    /// Whether `path` names a `.npy` file (by its extension).
    public static func isNumpyPath(_ path: String) -> Bool { path.lowercased().hasSuffix(".npy") }

    /// `cancellation` is checked before each chunk of rows is converted; the dataset's size is checked against
    /// `memory` before any value is.
    public static func read(
        path: String, labelsPath: String? = nil, cancellation: ReadCancellation = .never,
        memory: MachineMemory = .current(), arena: SharedArena? = nil
    ) throws(DataError) -> Dataset {
        let x = try NumpyArray.open(path: path)
        guard x.shape.count == 2 else {
            throw .invalidNumpy(
                path: path, detail: "expected a 2-D array (rows × columns), the shape is \(NumpyArray.describe(x.shape))")
        }
        let rows = x.shape[0], width = x.shape[1]
        guard rows >= 1 else { throw .noDataRows(path: path) }
        let featureCount = labelsPath == nil ? width - 1 : width
        guard featureCount >= 1 else { throw .noFeatureColumns(path: path, labelName: "label") }
        // The dataset holds every value as a Double: rows × (features + label) × 8 bytes.
        if let shortfall = memory.shortfall(needing: CheckedSize.product([rows, featureCount + 1, 8])) {
            throw .tooLarge(
                source: path,
                detail: "\(rows) rows × \(featureCount) features read as float64 (the label too) \(shortfall)")
        }
        let names = (0..<featureCount).map { "f\($0)" }
        let chunkRows = BlockPlan.chunkRows(featureCount: featureCount, bytesPerValue: 8)
        let labels: [Double]
        if let labelsPath {
            let y = try NumpyArray.open(path: labelsPath)
            guard y.shape == [rows] || y.shape == [rows, 1] else {
                throw .invalidNumpy(
                    path: labelsPath,
                    detail: "the labels have shape \(NumpyArray.describe(y.shape)); expected (\(rows),) or (\(rows), 1) "
                        + "to match the \(rows) rows of \(path)")
            }
            labels = Array(
                try y.rows(columns: 0..<1, names: ["label"], chunkRows: chunkRows, cancellation: cancellation))
        } else {
            labels = Array(
                try x.rows(columns: featureCount..<width, names: ["label"], chunkRows: chunkRows, cancellation: cancellation))
        }
        let features = try x.rows(
            columns: 0..<featureCount, names: names, chunkRows: chunkRows, cancellation: cancellation, arena: arena)
        return Dataset(
            unchecked: path, featureNames: names, labelName: "label", features: features, labels: labels,
            lineNumbers: LineNumbers(first: 1, count: rows), featureColumnNumbers: Array(1...featureCount),
            labelColumnNumber: featureCount + 1)
    }
}
