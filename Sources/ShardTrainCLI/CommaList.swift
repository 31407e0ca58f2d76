import ArgumentParser

/// A comma-separated option value (`--threads 1,2`, `--precisions float32,float64`, `--workers 1,2,3`), read by
/// ArgumentParser: every item is read as an `Element` (spaces around items ignored); an empty list, an empty item
/// or one that does not read is a parse error naming the option.
struct CommaSeparated<Element: ExpressibleByArgument>: ExpressibleByArgument {
    var values: [Element]

    init(_ values: [Element]) { self.values = values }

    init?(argument: String) {
        let items = argument.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        let values = items.compactMap { $0.isEmpty ? nil : Element(argument: $0) }
        guard !items.isEmpty, values.count == items.count else { return nil }
        self.values = values
    }

    var defaultValueDescription: String { values.map { "\($0)" }.joined(separator: ",") }
}

extension CommaSeparated where Element == Int {
    /// Throws unless every value is at least `minimum`.
    func require(atLeast minimum: Int, _ option: String) throws {
        guard values.allSatisfy({ $0 >= minimum }) else {
            throw ValidationError("\(option) must list integers ≥ \(minimum), e.g. \(minimum),\(minimum + 1)")
        }
    }
}
