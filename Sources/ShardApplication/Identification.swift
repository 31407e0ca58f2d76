import Foundation
import ShardArtifacts
import ShardData
import ShardLosses
import ShardMetrics
import ShardModels
import ShardNumerics

// MARK: - Identification and generation

/// The answer for one query row of `identify`.
public struct QueryIdentification: Sendable, Equatable {
    /// 1-based line of the query CSV.
    public let line: Int
    public let result: Identification
}

extension LoadedModel {
    /// Embeds the gallery, fits the verification threshold on all gallery pairs unless `threshold` is given,
    /// and identifies every query row (nearest gallery identity, or unknown beyond the threshold).
    public func identify(gallery: ModelInput, queries: ModelInput, threshold: Double?) throws(ApplicationError)
        -> (threshold: Double, fittedAccuracy: Double?, answers: [QueryIdentification])
    {
        try require([.triplet], command: "identify")
        guard gallery.hasLabels else {
            throw .missingLabels(path: gallery.dataset.sourcePath, labelColumn: file.labelName)
        }
        for (row, label) in gallery.dataset.labels.enumerated() where label.rounded(.towardZero) != label || abs(label) > 1e15 {
            throw .invalidLabel(
                path: gallery.dataset.sourcePath, line: gallery.dataset.lineNumbers[row], value: label,
                requirement: "gallery identities must be integers")
        }
        let (galleryValues, width) = try rawOutputs(gallery)
        let galleryRows = (0..<gallery.rowCount).map { Array(galleryValues[($0 * width)..<(($0 + 1) * width)]) }
        let labels = gallery.dataset.labels.map { Int($0) }
        let (queryValues, _) = try rawOutputs(queries)
        if threshold == nil, galleryRows.count < 2 {
            throw .invalidArgument(
                "\(gallery.dataset.sourcePath): fitting a threshold needs at least 2 gallery rows; pass --threshold")
        }
        do throws(MetricsError) {
            var chosen = threshold
            var accuracy: Double?
            if chosen == nil {
                let fitted = try VerificationThreshold(fitting: try verificationPairs(galleryRows, labels, seed: 0).pairs)
                chosen = fitted.threshold
                accuracy = fitted.trainingAccuracy
            }
            let identifier = try Identifier(gallery: galleryRows, labels: labels, threshold: chosen ?? 0)
            var answers: [QueryIdentification] = []
            for row in 0..<queries.rowCount {
                let query = Array(queryValues[(row * width)..<((row + 1) * width)])
                answers.append(
                    QueryIdentification(line: queries.dataset.lineNumbers[row], result: try identifier.identify(query)))
            }
            return (identifier.threshold, accuracy, answers)
        } catch {
            throw .metrics(error)
        }
    }

    /// The side of the square picture a VAE row makes (8 for 64 features); throws when D is not a square.
    public func imageSide() throws(ApplicationError) -> Int {
        let features = file.spec.featureCount
        var side = 1
        while side * side < features { side += 1 }
        guard side * side == features else {
            throw .invalidArgument("the model has \(features) features, not a square number, so rows are not images")
        }
        return side
    }

    /// `count` decoder outputs `sigmoid(decoder(z_i))` for `z_i[j] = CounterRandom(seed, round 0, block 0,
    /// row i, latentSampling).normal(j)`, i.e. z ~ N(0, I_L).
    public func samples(count: Int, seed: UInt64) throws(ApplicationError) -> [[Double]] {
        try require([.vae], command: "sample")
        guard let vae = model as? VariationalAutoencoder else {
            throw .unsupportedKind(command: "sample", kind: kind, supported: [.vae])
        }
        guard count >= 1, count <= 10_000 else { throw .invalidArgument("--count must be between 1 and 10000, got \(count)") }
        let latent = vae.latentDimension
        var z = [Double](repeating: 0, count: count * latent)
        for row in 0..<count {
            let random = CounterRandom(seed: seed, round: 0, block: 0, row: row, purpose: .latentSampling)
            for j in 0..<latent { z[row * latent + j] = random.normal(j) }
        }
        do {
            let decoded = try vae.decode(latent: z, rows: count, parameters: file.parameters)
            return Self.rows(decoded, width: vae.featureCount)
        } catch {
            throw .model(error)
        }
    }

    /// The reconstructions `decode(mean(x))` of the first `count` rows (all rows when fewer).
    public func reconstructions(_ input: ModelInput, count: Int) throws(ApplicationError) -> [[Double]] {
        try require([.vae], command: "reconstruct")
        guard let vae = model as? VariationalAutoencoder else {
            throw .unsupportedKind(command: "reconstruct", kind: kind, supported: [.vae])
        }
        guard count >= 1, count <= 10_000 else { throw .invalidArgument("--count must be between 1 and 10000, got \(count)") }
        guard input.dataset.featureCount == vae.featureCount else {
            throw .invalidArgument(
                "\(input.dataset.sourcePath): \(input.dataset.featureCount) features, the model has \(vae.featureCount)")
        }
        let rows = min(count, input.rowCount)
        let inputs = Array(input.dataset.features[0..<(rows * vae.featureCount)])
        do {
            let decoded = try vae.reconstruct(inputs: inputs, rows: rows, parameters: file.parameters)
            return Self.rows(decoded, width: vae.featureCount)
        } catch {
            throw .model(error)
        }
    }

    static func rows(_ values: [Double], width: Int) -> [[Double]] {
        stride(from: 0, to: values.count, by: width).map { Array(values[$0..<($0 + width)]) }
    }
}
