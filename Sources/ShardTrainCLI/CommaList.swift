import ArgumentParser

/// Comma-separated option values (`--threads 1,2`, `--precision float32,float64`) of the bench commands.
enum CommaList {
    /// Every item of `text` read with `parse` (spaces around items ignored); an empty list or an item that does
    /// not read is a validation error naming `option`.
    static func parse<T>(_ text: String, option: String, _ parse: (String) -> T?) throws -> [T] {
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = items.compactMap(parse)
        guard !items.isEmpty, values.count == items.count else {
            throw ValidationError("\(option): cannot read \"\(text)\"")
        }
        return values
    }

    /// Positive thread counts, e.g. `1,2`.
    static func threadCounts(_ text: String, option: String = "--threads") throws -> [Int] {
        let counts = try parse(text, option: option) { Int($0) }
        guard counts.allSatisfy({ $0 >= 1 }) else { throw ValidationError("\(option) must list positive integers, e.g. 1,2") }
        return counts
    }
}
