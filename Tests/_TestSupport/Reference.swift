import Foundation

/// The folder of golden reference files (`losses.json`, `models.json`, `optima.json`).
///
/// `SHARDTRAIN_REFERENCE_DIR` points at another folder of the same format; by default the copy in
/// `Tests/Reference/` is used.
public enum ReferenceData {
    public static var directory: URL {
        if let override = ProcessInfo.processInfo.environment["SHARDTRAIN_REFERENCE_DIR"], !override.isEmpty {
            return URL(fileURLWithPath: override, isDirectory: true)
        }
        return repositoryRoot.appendingPathComponent("Tests/Reference", isDirectory: true)
    }

    /// The package root, found from this source file's location.
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// Parses `name` (e.g. "losses.json") from the reference folder.
    public static func load(_ name: String) throws -> JSONValue {
        let url = directory.appendingPathComponent(name)
        let data = try Data(contentsOf: url)
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }
}

/// A decoded JSON document that keeps numbers as `Double` and reads the reference files' non-finite
/// spellings (`"Infinity"`, `"-Infinity"`, `"NaN"`) as numbers.
public enum JSONValue: Decodable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    public subscript(index: Int) -> JSONValue? {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// A number, or one of the non-finite spellings.
    public var double: Double? {
        switch self {
        case .number(let value): value
        case .string("Infinity"): .infinity
        case .string("-Infinity"): -.infinity
        case .string("NaN"): .nan
        default: nil
        }
    }

    public var int: Int? {
        guard let value = double, value.rounded() == value, abs(value) < 1e15 else { return nil }
        return Int(value)
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var array: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var object: [String: JSONValue]? {
        if case .object(let fields) = self { return fields }
        return nil
    }

    /// A flat array of numbers.
    public var doubles: [Double]? {
        guard let items = array else { return nil }
        var result: [Double] = []
        result.reserveCapacity(items.count)
        for item in items {
            guard let value = item.double else { return nil }
            result.append(value)
        }
        return result
    }

    /// A matrix (array of equal-length rows), flattened row-major, with its shape.
    public var matrix: (values: [Double], rows: Int, columns: Int)? {
        guard let rows = array else { return nil }
        var values: [Double] = []
        var columns: Int?
        for row in rows {
            guard let numbers = row.doubles else { return nil }
            if let columns, columns != numbers.count { return nil }
            columns = numbers.count
            values += numbers
        }
        return (values, rows.count, columns ?? 0)
    }

    public var ints: [Int]? {
        guard let items = array else { return nil }
        var result: [Int] = []
        for item in items {
            guard let value = item.int else { return nil }
            result.append(value)
        }
        return result
    }
}

/// The reference comparison rule `|a − e| ≤ atol + rtol·|e|` (non-finite values must match exactly).
public struct Tolerance: Sendable, CustomStringConvertible {
    public var rtol: Double
    public var atol: Double

    public init(rtol: Double, atol: Double) {
        self.rtol = rtol
        self.atol = atol
    }

    /// Reads `tolerance.<precision>` of a reference case ("float64" or "float32").
    public init?(_ caseValue: JSONValue, precision: String = "float64") {
        guard let pair = caseValue["tolerance"]?[precision], let rtol = pair["rtol"]?.double,
            let atol = pair["atol"]?.double
        else { return nil }
        self.init(rtol: rtol, atol: atol)
    }

    public func matches(_ actual: Double, _ expected: Double) -> Bool {
        if expected.isNaN { return actual.isNaN }
        if expected.isInfinite { return actual == expected }
        return abs(actual - expected) <= atol + rtol * abs(expected)
    }

    /// The indices where `actual` and `expected` disagree (a length mismatch reports every index).
    public func mismatches(_ actual: [Double], _ expected: [Double]) -> [Int] {
        guard actual.count == expected.count else { return Array(0..<max(actual.count, expected.count)) }
        return actual.indices.filter { !matches(actual[$0], expected[$0]) }
    }

    public var description: String { "rtol \(rtol), atol \(atol)" }
}
