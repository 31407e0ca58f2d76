import Foundation

/// How every JSON document ShardTrain writes looks (summaries, reports, progress events, predictions, loss
/// evaluations): sorted keys, slashes unescaped, and the non-finite numbers JSON cannot hold written as the
/// strings "Infinity", "-Infinity" and "NaN".
public enum JSONStyle {
    /// An encoder in this style; `snakeCaseKeys` converts Swift property names (`dataLoss` → `data_loss`).
    public static func encoder(pretty: Bool = false, snakeCaseKeys: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        if snakeCaseKeys { encoder.keyEncodingStrategy = .convertToSnakeCase }
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }

    /// The string standing for a non-finite number, nil for a finite one.
    public static func nonFiniteSpelling(_ value: Double) -> String? {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "Infinity" : "-Infinity" }
        return nil
    }

    /// A number as JSON text: Swift's shortest round-trip form, or the quoted spelling of a non-finite value.
    public static func number(_ value: Double) -> String {
        nonFiniteSpelling(value).map { "\"\($0)\"" } ?? "\(value)"
    }
}
