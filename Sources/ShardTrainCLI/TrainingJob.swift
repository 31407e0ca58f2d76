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
    /// A file of 0-based data-row indices to train on, in that order (all rows when nil).
    public var rowsPath: String?
    public var standardize: Bool
    public var precision: Precision
    public var blockRows: Int

    public init(
        path: String, labelColumn: String? = nil, rowsPath: String? = nil, standardize: Bool = false,
        precision: Precision = .float64, blockRows: Int = 128
    ) {
        self.path = path
        self.labelColumn = labelColumn
        self.rowsPath = rowsPath
        self.standardize = standardize
        self.precision = precision
        self.blockRows = blockRows
    }
}

/// The training data after selection, label encoding and standardisation, cut into blocks.
public struct PreparedData: Sendable {
    public var dataset: Dataset
    public var standardization: Standardization?
    /// How binary labels were encoded (nil for models whose labels are not binary).
    public var labelEncoding: BinaryLabelEncoding?
    public var blocks: [Block]
}

/// Steps of a training run that do not depend on the executor: load and prepare the data, and turn the
/// result into the summary and model files.
public enum TrainingJob {
    /// Reads the CSV, selects rows, checks and encodes the labels for `kind`, standardises, cuts blocks.
    public static func prepare(_ configuration: DataConfiguration, for kind: ModelKind) throws(DataError) -> PreparedData {
        var dataset = try CSVReader.read(path: configuration.path, labelColumn: configuration.labelColumn)
        if let rowsPath = configuration.rowsPath {
            dataset = try dataset.selectingRows(try RowIndices.read(path: rowsPath))
        }
        var encoding: BinaryLabelEncoding?
        if case .binary(let wanted) = kind.labelKind {
            let binary: BinaryLabelEncoding = wanted == .zeroOne ? .zeroOne : .plusMinusOne
            dataset = try dataset.encodingBinaryLabels(as: binary)
            encoding = binary
        }
        var standardization: Standardization?
        if configuration.standardize {
            let fitted = Standardization.fit(to: dataset)
            dataset = try fitted.apply(to: dataset)
            standardization = fitted
        }
        let blocks = try dataset.makeBlocks(blockRows: configuration.blockRows, precision: configuration.precision)
        return PreparedData(dataset: dataset, standardization: standardization, labelEncoding: encoding, blocks: blocks)
    }

    /// Fraction of training rows the model classifies correctly (computed on the coordinator).
    public static func accuracy(of model: any Model, on blocks: [Block], parameters: [Double]) throws(ModelError) -> Double {
        var correct = 0
        var rows = 0
        for block in blocks {
            correct += try model.correctPredictions(block, parameters: parameters)
            rows += block.rows
        }
        return rows == 0 ? 0 : Double(correct) / Double(rows)
    }

    /// Writes the trained model (see `ModelFile` for the format).
    public static func saveModel(
        _ model: any Model, parameters: [Double], data: PreparedData, to path: String
    ) throws(ArtifactError) {
        try ModelFile(
            spec: model.spec, parameters: parameters, featureNames: data.dataset.featureNames,
            labelName: data.dataset.labelName, labelEncoding: data.labelEncoding?.rawValue,
            standardization: data.standardization
        ).write(to: path)
    }
}
