import Foundation
import ShardArtifacts
import ShardData
import ShardEngine
import ShardModels
import ShardNumerics

/// Everything a training run needs to know about its data, independent of who computes.
public struct DataConfiguration: Sendable, Equatable {
    public var path: String
    public var labelColumn: String?
    /// With a `.npy` data file: a `.npy` of the labels (else the label is the last column).
    public var labelsPath: String?
    /// The text format (nil: `DataFormat.inferred` from the name) and, for CSV, the delimiter and header.
    public var format: DataFormat?
    public var dialect: CSVDialect
    /// A file of 0-based data-row indices to train on, in that order (all rows when nil).
    public var rowsPath: String?
    /// Held-out rows: a file of row indices of the same CSV, …
    public var testRowsPath: String?
    /// … or a fraction of the (selected) rows, split off with `seed`, …
    public var testFraction: Double?
    /// … or another CSV with the same columns.
    public var testDataPath: String?
    public var seed: UInt64
    /// Put the training rows in a seeded random order before cutting blocks (mini-batch training and the
    /// embedding model, whose triplets are formed inside a block).
    public var shuffleTrainingRows: Bool
    public var standardize: Bool
    public var precision: Precision
    /// Rows per block; nil: `BlockPlan.defaultBlockRows` of the training rows.
    public var blockRows: Int?
    /// CSV columns to ignore, the id column, columns forced categorical, and what a missing cell means.
    public var schema = SchemaOptions()
    /// Binary models on string labels: the class that is positive (label 1); nil: the second in sorted order.
    public var positiveClass: String?

    public init(
        path: String, labelColumn: String? = nil, labelsPath: String? = nil, rowsPath: String? = nil, testRowsPath: String? = nil,
        testFraction: Double? = nil, testDataPath: String? = nil, seed: UInt64 = 0, shuffleTrainingRows: Bool = false,
        standardize: Bool = false, precision: Precision = .float64, blockRows: Int? = nil, format: DataFormat? = nil,
        dialect: CSVDialect = CSVDialect()
    ) {
        self.format = format
        self.dialect = dialect
        self.shuffleTrainingRows = shuffleTrainingRows
        self.path = path
        self.labelColumn = labelColumn
        self.labelsPath = labelsPath
        self.rowsPath = rowsPath
        self.testRowsPath = testRowsPath
        self.testFraction = testFraction
        self.testDataPath = testDataPath
        self.seed = seed
        self.standardize = standardize
        self.precision = precision
        self.blockRows = blockRows
    }
}

/// The training (and optional test) data after selection, label checks and encoding and standardisation,
/// the training rows cut into blocks.
public struct PreparedData: Sendable {
    public var dataset: Dataset
    public var test: Dataset?
    public var standardization: Standardization?
    /// How the CSV writes its binary labels, before they were mapped to the model's encoding (nil for
    /// models whose labels are not binary).
    public var labelEncoding: BinaryLabelEncoding?
    /// Number of classes (softmax, triplet), from `--classes` or the labels.
    public var classCount: Int?
    /// The CSV's columns by name and kind, fill values fitted on the training rows (nil: not a CSV).
    public var schema: TableSchema?
    /// The label's class names by label value, as the file writes them (nil: numeric labels of a non-binary model).
    public var classNames: [String]?
    /// What the user should see first: the schema line, then notes (unseen categories in --test-data).
    public var notes: [String] = []
    public var blocks: [Block]
    /// The sealed shared memory the blocks are views of (`prepare(…, sharedMemory: true)`), for local worker
    /// processes to map; nil when the blocks are arrays of this process.
    public var arena: SharedArena?
    public var precision: Precision
    public var blockRows: Int

    /// The test rows in blocks of the same size and precision (for metrics).
    public func testBlocks() throws(DataError) -> [Block]? {
        try test?.makeBlocks(blockRows: blockRows, precision: precision)
    }
}

/// Steps of a training run that do not depend on the executor: load and prepare the data, and turn the
/// result into the summary and model files.
public enum TrainingJob {
    /// Reads the CSV, selects training and test rows, checks and encodes the labels for `kind`, fits the
    /// standardisation on the training rows only and applies it to both, cuts the training rows into blocks.
    /// Throws `.interrupted` when `cancellation` is requested while a data file is read or between the steps after.
    ///
    /// With `sharedMemory` (local worker processes will compute), the training rows are placed in a shared-memory
    /// file (`SharedArena`) from the moment they are read, and the blocks are views of it (`PreparedData.arena`):
    /// the workers map them instead of being sent, or written, a copy. The values are the same either way.
    public static func prepare(
        _ configuration: DataConfiguration, for kind: ModelKind, classCount declared: Int? = nil,
        sharedMemory: Bool = false, cancellation: ReadCancellation = .never
    ) throws(DataError) -> PreparedData {
        // Without shared memory (it cannot be created here) the rows stay in arrays, and workers get a copy.
        let arena = sharedMemory ? try? SharedArena() : nil
        let (all, inferred) = try read(
            configuration.path, labelColumn: configuration.labelColumn, labelsPath: configuration.labelsPath,
            format: configuration.format, dialect: configuration.dialect, schema: configuration.schema, arena: arena,
            cancellation: cancellation)
        var schema = inferred?.schema
        var notes = inferred.map { [$0.summaryLine] } ?? []
        // --missing drop: the rows with a missing cell leave whichever selection they are in (row indices name the
        // file's rows), before the held-out fraction is split off.
        let incomplete = inferred?.incompleteRows ?? []
        var trainRows: [Int]? = try configuration.rowsPath.map { (path) throws(DataError) in try RowIndices.read(path: path) }
        var test: Dataset?
        var heldOutRows: [Int]?
        if let testRowsPath = configuration.testRowsPath {
            let testRows = try RowIndices.read(path: testRowsPath)
            heldOutRows = testRows
            test = try all.selectingRows(testRows)
            // Held-out rows never train: they leave the default (all rows), and may not be listed in --rows.
            let heldOut = Set(testRows)
            if let listed = trainRows {
                if let shared = listed.first(where: heldOut.contains) { throw .overlappingTestRows(index: shared) }
            } else {
                trainRows = (0..<all.rowCount).filter { !heldOut.contains($0) }
            }
        }
        // `all` is consumed here, so that without a selection its values are rewritten in place, never copied.
        var train: Dataset
        if let trainRows {
            train = try all.selectingRows(trainRows, in: arena)
            _ = consume all
        } else {
            train = consume all
        }
        if !incomplete.isEmpty {
            train = try train.droppingRows(Self.positions(of: incomplete, in: trainRows))
            if let heldOutRows, let selected = test {
                test = try selected.droppingRows(Self.positions(of: incomplete, in: heldOutRows))
            }
        }
        if let fraction = configuration.testFraction {
            let split = try TrainTestSplit(rowCount: train.rowCount, testFraction: fraction, seed: configuration.seed)
            test = try train.selectingRows(split.testRows)
            train = try train.selectingRows(split.trainRows, in: arena)
        }
        if let testPath = configuration.testDataPath {
            let other: Dataset
            if let schema, (configuration.format ?? DataFormat.inferred(path: testPath)) == .csv {
                let encoded = try schema.encode(
                    CSVReader.readTable(
                        path: testPath, labelColumn: train.labelName, dialect: configuration.dialect,
                        cancellation: cancellation)
                ).droppingIncompleteRows()
                notes += unseenCategoryNotes(encoded, path: testPath)
                other = encoded.dataset
            } else {
                other = try read(
                    testPath, labelColumn: train.labelName, labelsPath: nil, format: configuration.format,
                    dialect: configuration.dialect, libsvmWidth: train.featureCount, cancellation: cancellation)
            }
            guard other.featureNames == train.featureNames else {
                throw .columnsDiffer(
                    path: testPath, expected: train.featureNames + [train.labelName],
                    found: other.featureNames + [other.labelName])
            }
            test = other
        }
        // Missing numeric cells take the training rows' mean or median, here and wherever the model is applied.
        if let fitted = try schema?.fittingFills(to: train) {
            schema = fitted
            train = fitted.fillingMissing(in: consume train)
            test = test.map { fitted.fillingMissing(in: $0) }
        }
        try cancellation.check(reading: configuration.path)
        var encoding: BinaryLabelEncoding?
        var classCount: Int?
        var classNames: [String]?
        let classes = schema?.classes
        if classes != nil || configuration.positiveClass != nil {
            try checkStringLabels(classes, kind: kind, positiveClass: configuration.positiveClass, path: configuration.path)
        }
        switch kind.labelKind {
        case .binary(let wanted):
            if let classes, let positive = configuration.positiveClass, positive == classes[0] {
                // The positive class is label 1: the first class in sorted order becomes the second.
                train = train.swappingBinaryLabels()
                test = test?.swappingBinaryLabels()
                schema?.setClasses([classes[1], classes[0]])
            }
            // Remember how the CSV writes its labels, so predictions can be written the same way.
            encoding = classes != nil ? .zeroOne : try BinaryLabelEncoding.detect(in: train) ?? wanted
            classNames = schema?.classes ?? (encoding == .plusMinusOne ? ["-1", "1"] : ["0", "1"])
            train = try train.encodingBinaryLabels(as: wanted)
            test = try test?.encodingBinaryLabels(as: wanted)
        case .classIndex:
            classNames = classes
            let count = try train.classCount(declared: declared ?? classes?.count)
            _ = try test?.classCount(declared: count)
            // The reports hold a K × K confusion matrix: a stray large label (100000 among 0, 1, 2) would ask for
            // more memory than the machine has, long after training.
            let memory = MachineMemory.current()
            let (cells, overflow) = count.multipliedReportingOverflow(by: count)
            // More than a thousand classes and more classes than rows: a label that is not a class index.
            if overflow || cells > memory.availableBytes / 8 / 4 || (count > 1_000 && count > train.rowCount) {
                throw .tooLarge(
                    source: configuration.path,
                    detail: "the labels make \(count) classes (0 … \(count - 1)) for \(train.rowCount) rows (a \(count) × \(count) "
                        + "confusion matrix against \(memory.availableBytes >> 20) MiB available, \(memory.source)); labels "
                        + "of a class model are class indices 0 … K−1")
            }
            classCount = count
        case .real, .ignored:
            break
        }
        try cancellation.check(reading: configuration.path)
        if configuration.shuffleTrainingRows {
            train = try train.shuffled(seed: configuration.seed)
        }
        try cancellation.check(reading: configuration.path)
        var standardization: Standardization?
        if configuration.standardize {
            let fitted = try Standardization.fit(to: train)
            train = try fitted.apply(to: consume train)
            test = try test.map { (dataset) throws(DataError) in try fitted.apply(to: dataset) }
            standardization = fitted
        }
        try cancellation.check(reading: configuration.path)
        let blockRows =
            configuration.blockRows
            ?? BlockPlan.defaultBlockRows(
                rowCount: train.rowCount, featureCount: train.featureCount,
                bytesPerValue: configuration.precision.byteWidth)
        let blocks: [Block]
        if let arena {
            blocks = try train.makeBlocks(blockRows: blockRows, precision: configuration.precision, in: arena)
        } else {
            blocks = try train.makeSharedBlocks(blockRows: blockRows, precision: configuration.precision)
        }
        return PreparedData(
            dataset: train, test: test, standardization: standardization, labelEncoding: encoding,
            classCount: classCount, schema: schema, classNames: classNames, notes: notes, blocks: blocks,
            arena: arena?.isSealed == true ? arena : nil, precision: configuration.precision, blockRows: blockRows)
    }

    /// The positions in a selection of file rows (`selected`, nil: every row in order) of the rows `rows`.
    static func positions(of rows: [Int], in selected: [Int]?) -> [Int] {
        guard let selected else { return rows }
        let wanted = Set(rows)
        return selected.indices.filter { wanted.contains(selected[$0]) }
    }

    /// String labels (`classes`) fit binary models with exactly two classes and class-index models; `--positive-class`
    /// must name one of the two.
    static func checkStringLabels(_ classes: [String]?, kind: ModelKind, positiveClass: String?, path: String)
        throws(DataError)
    {
        func refuse(_ detail: String) -> DataError { .schema(path: path, line: nil, column: nil, columnName: nil, detail: detail) }
        guard let classes else {
            let binary = if case .binary = kind.labelKind { true } else { false }
            if positiveClass != nil, !binary { throw refuse("--positive-class applies to binary models (logistic, svm)") }
            throw refuse("--positive-class applies to labels written as text (classes by name); these labels are numbers")
        }
        let shown = classes.prefix(6).joined(separator: ", ") + (classes.count > 6 ? ", …" : "")
        switch kind.labelKind {
        case .binary:
            guard classes.count == 2 else {
                throw refuse(
                    "--model \(kind.rawValue) needs two classes, the labels have \(classes.count) (\(shown)); for more "
                        + "classes use --model softmax")
            }
            if let positiveClass, !classes.contains(positiveClass) {
                throw refuse("--positive-class \(positiveClass) is not a class of the labels (\(shown))")
            }
        case .classIndex, .ignored:
            if positiveClass != nil { throw refuse("--positive-class applies to binary models (logistic, svm)") }
        case .real:
            throw refuse(
                "--model \(kind.rawValue) needs numeric targets, but the labels are text (\(shown)); for classes use "
                    + "--model logistic, svm or softmax")
        }
    }

    /// One line per categorical column of `encoded` with values the schema does not know.
    static func unseenCategoryNotes(_ encoded: EncodedTable, path: String) -> [String] {
        encoded.unseenCategoryNotes(path: path, what: "not seen in training").map { $0 + ": all-zero rows" }
    }

    /// A `.npy` array (by the extension) with its labels from `labelsPath` or its last column, or text in `format`
    /// (nil: by the extension): CSV in `dialect`, or libsvm (`libsvmWidth` features when given).
    /// `read(…)` of the training data: a CSV is read as a table whose schema is inferred (`TableSchema.infer`) and
    /// encoded; other formats have no schema (and refuse schema options). The feature rows go into `arena` when given
    /// (libsvm rows stay arrays).
    static func read(
        _ path: String, labelColumn: String?, labelsPath: String?, format: DataFormat?, dialect: CSVDialect,
        schema options: SchemaOptions, arena: SharedArena?, cancellation: ReadCancellation
    ) throws(DataError) -> (Dataset, (schema: TableSchema, summaryLine: String, incompleteRows: [Int])?) {
        let isCSV = !(format == nil && NumpyReader.isNumpyPath(path)) && (format ?? DataFormat.inferred(path: path)) == .csv
        guard isCSV else {
            guard options.isDefault else {
                throw .schema(
                    path: path, line: nil, column: nil, columnName: nil,
                    detail: "--ignore, --id-column, --categorical and --missing apply to CSV data only")
            }
            return (
                try read(
                    path, labelColumn: labelColumn, labelsPath: labelsPath, format: format, dialect: dialect,
                    arena: arena, cancellation: cancellation), nil
            )
        }
        // The id column is read as written (one text per row, never interned: ids are mostly distinct).
        let table = try CSVReader.readTable(
            path: path, labelColumn: labelColumn, dialect: dialect, verbatimColumn: options.idColumn,
            cancellation: cancellation, arena: arena)
        let schema = try TableSchema.infer(table, options: options)
        let encoded = try schema.encode(table)
        var line = schema.summaryLine(missingCells: encoded.missingCells, droppedRows: encoded.incompleteRows.count)
        // A text column with a different value in every row is most likely an id, not a category.
        for column in schema.columns where column.kind == .categorical && table.rowCount >= 20
            && column.values?.count == table.rowCount
        {
            line += "; column \"\(column.name)\" has a different value in every row: an id? (--id-column or --ignore)"
        }
        // Categories or classes that differ only in spaces around them (" red", "red") or in letter case ("TRUE",
        // "true") are most likely one category: the first such pair of each column is named.
        for column in schema.columns where column.kind == .categorical || column.kind == .label {
            var seenTrimmed: [String: String] = [:]
            var seenFolded: [String: String] = [:]
            for value in column.values ?? [] {
                let trimmed = value.trimmingCharacters(in: .whitespaces)
                if let other = seenTrimmed[trimmed] {
                    line += "; column \"\(column.name)\" has values that differ only in spaces around them (\"\(other)\", "
                        + "\"\(value)\"): they are different categories unless the file is fixed"
                    break
                }
                if let other = seenFolded[trimmed.lowercased()] {
                    line += "; column \"\(column.name)\" has values that differ only in letter case (\"\(other)\", "
                        + "\"\(value)\"): they are different \(column.kind == .label ? "classes" : "categories") unless the file "
                        + "is fixed"
                    break
                }
                seenTrimmed[trimmed] = value
                seenFolded[trimmed.lowercased()] = value
            }
        }
        // A numeric column that counts up by whole numbers row after row is most likely a row number or an id.
        let dataset = encoded.dataset
        if dataset.rowCount >= 20 {
            for (feature, name) in dataset.featureNames.enumerated() where schema.columns.contains(where: { $0.name == name && $0.kind == .numeric }) {
                let value = { (row: Int) in dataset.features[row * dataset.featureCount + feature] }
                let counts = (1..<dataset.rowCount).allSatisfy { value($0) == value($0 - 1) + 1 } && value(0).rounded() == value(0)
                if counts { line += "; column \"\(name)\" counts up by 1 from row to row: an id? (--id-column or --ignore)" }
            }
        }
        // A header line of which some names are numbers is most likely a first row of data (all numbers: refused).
        let numericNames = table.columnNames.filter { Double($0.trimmingCharacters(in: .whitespaces)) != nil }
        if dialect.hasHeader, !numericNames.isEmpty {
            line += "; column names that are numbers (" + numericNames.prefix(3).joined(separator: ", ")
                + (numericNames.count > 3 ? ", …" : "") + "): if line 1 is data, the file has no header: add --no-header"
        }
        return (encoded.dataset, (schema, line, encoded.incompleteRows))
    }

    static func read(
        _ path: String, labelColumn: String?, labelsPath: String?, format: DataFormat?, dialect: CSVDialect,
        libsvmWidth: Int? = nil, arena: SharedArena? = nil, cancellation: ReadCancellation
    ) throws(DataError) -> Dataset {
        if format == nil, NumpyReader.isNumpyPath(path) {
            return try NumpyReader.read(path: path, labelsPath: labelsPath, cancellation: cancellation, arena: arena)
        }
        switch format ?? DataFormat.inferred(path: path) {
        case .csv:
            return try CSVReader.read(
                path: path, labelColumn: labelColumn, dialect: dialect, cancellation: cancellation, arena: arena)
        case .libsvm:
            return try LibSVMReader.read(path: path, width: libsvmWidth, cancellation: cancellation)
        }
    }

    /// The trained model as it will be saved, ready for `evaluate` and `predict`.
    public static func trainedModel(_ model: any Model, parameters: [Double], data: PreparedData) -> LoadedModel {
        let file = ModelFile(
            spec: model.spec, parameters: parameters, featureNames: data.dataset.featureNames,
            labelName: data.dataset.labelName, labelEncoding: data.labelEncoding?.rawValue,
            standardization: data.standardization, schema: data.schema, classes: data.classNames)
        var trained = LoadedModel(path: "(trained model)", file: file, model: model)
        trained.blockRows = data.blockRows
        trained.precision = data.precision
        return trained
    }
}
