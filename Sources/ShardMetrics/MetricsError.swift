/// Why a metric could not be computed from its input.
///
/// Every public entry point of ShardMetrics validates its input and throws one of these instead of
/// trapping or returning NaN. `argument` names the offending parameter as spelled in the API.
public enum MetricsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The named input has no elements (a metric over zero samples is undefined).
    case emptyInput(argument: String)
    /// `argument` has `actual` elements where `expected` (the length of the first input) were required.
    case lengthMismatch(argument: String, expected: Int, actual: Int)
    /// `argument[index] == label` is not a class index in `0..<classCount`.
    case labelOutOfRange(argument: String, index: Int, label: Int, classCount: Int)
    /// `argument[index]` is NaN or ±infinity.
    case nonFiniteValue(argument: String, index: Int)
    /// A classification problem needs at least one class.
    case invalidClassCount(Int)
    /// Ranking metrics need both classes; the labels hold `positives` positives and `negatives` negatives.
    case singleClass(positives: Int, negatives: Int)
    /// Row `row` of `argument` has `actual` components where `expected` were required (the first row's
    /// width, or the matrix order for a square matrix).
    case dimensionMismatch(argument: String, row: Int, expected: Int, actual: Int)
    /// `argument` needs at least `required` elements but has `actual`.
    case tooFewElements(argument: String, required: Int, actual: Int)
    /// The result overflowed to infinity although every input was finite (magnitudes near 1e154 or more).
    case overflow(metric: String)
    /// Any other violated precondition, with the reason in words.
    case invalidArgument(argument: String, reason: String)

    public var description: String {
        switch self {
        case .emptyInput(let argument):
            return "\(argument) is empty; the metric is undefined over zero samples"
        case .lengthMismatch(let argument, let expected, let actual):
            return "\(argument) has \(actual) elements but \(expected) were expected (one per sample)"
        case .labelOutOfRange(let argument, let index, let label, let classCount):
            return "\(argument)[\(index)] = \(label) is not a class index in 0..<\(classCount)"
        case .nonFiniteValue(let argument, let index):
            return "\(argument)[\(index)] is NaN or infinite; metrics need finite values"
        case .invalidClassCount(let count):
            return "class count \(count) is invalid; at least one class is needed"
        case .singleClass(let positives, let negatives):
            return "ranking metrics need both classes, got \(positives) positives and \(negatives) negatives"
        case .dimensionMismatch(let argument, let row, let expected, let actual):
            return "\(argument)[\(row)] has \(actual) components but \(expected) were expected"
        case .tooFewElements(let argument, let required, let actual):
            return "\(argument) has \(actual) elements but at least \(required) are needed"
        case .overflow(let metric):
            return "\(metric) overflowed to infinity; rescale the inputs"
        case .invalidArgument(let argument, let reason):
            return "\(argument): \(reason)"
        }
    }
}

/// Shared input checks. Each returns normally or throws the matching `MetricsError`.
enum Validate {
    static func nonEmpty(_ count: Int, _ argument: String) throws(MetricsError) {
        if count == 0 { throw .emptyInput(argument: argument) }
    }

    static func sameLength(_ count: Int, as expected: Int, _ argument: String) throws(MetricsError) {
        if count != expected { throw .lengthMismatch(argument: argument, expected: expected, actual: count) }
    }

    static func finite(_ values: [Double], _ argument: String) throws(MetricsError) {
        for (index, value) in values.enumerated() where !value.isFinite {
            throw .nonFiniteValue(argument: argument, index: index)
        }
    }

    static func labels(_ labels: [Int], classCount: Int, _ argument: String) throws(MetricsError) {
        for (index, label) in labels.enumerated() where label < 0 || label >= classCount {
            throw .labelOutOfRange(argument: argument, index: index, label: label, classCount: classCount)
        }
    }

    /// Checks a non-empty, rectangular, finite matrix given as rows and returns its width.
    static func matrix(_ rows: [[Double]], _ argument: String) throws(MetricsError) -> Int {
        try nonEmpty(rows.count, argument)
        let width = rows[0].count
        if width == 0 { throw .invalidArgument(argument: argument, reason: "rows have zero components") }
        for (rowIndex, row) in rows.enumerated() {
            if row.count != width {
                throw .dimensionMismatch(argument: argument, row: rowIndex, expected: width, actual: row.count)
            }
            try finite(row, "\(argument)[\(rowIndex)]")
        }
        return width
    }
}
