/// How a delimited text file is written: its field delimiter and whether its first line names the columns.
///
/// ```text
/// delimiter   nil: sniffed from the first line: the most frequent of ',', '\t', ';' outside quoted fields
///             (ties in that order; none of them: ',', a one-column file)
/// hasHeader   true: line 1 names the columns (a line 1 whose every field is a number is refused as data);
///             false: the columns are named `columnNames` when given (their count must be the file's), else
///             f0 … f(C−2) and label, and data starts on line 1
/// quoting     RFC 4180: a field may be enclosed in '"' (then a '"' inside is written '""', and the delimiter may
///             appear inside); a quoted field must end on its line (newlines inside quotes are refused, so that
///             the body can be cut into pieces at any '\n')
/// ```
public struct CSVDialect: Sendable, Equatable {
    public var delimiter: UInt8?
    public var hasHeader: Bool
    /// Without a header: the columns' names, by position (nil: generated).
    public var columnNames: [String]?

    public init(delimiter: UInt8? = nil, hasHeader: Bool = true, columnNames: [String]? = nil) {
        self.delimiter = delimiter
        self.hasHeader = hasHeader
        self.columnNames = columnNames
    }

    /// The delimiters sniffing chooses from, in the order that breaks ties.
    static let sniffedDelimiters: [UInt8] = [UInt8(ascii: ","), UInt8(ascii: "\t"), UInt8(ascii: ";")]

    /// A delimiter written on the command line: one ASCII character other than `"`, a line break or a
    /// digit-like character, or a name (`comma`, `tab`, `semicolon`, `\t`).
    public static func delimiter(named text: String) -> UInt8? {
        switch text {
        case "tab", "\\t", "\t": return UInt8(ascii: "\t")
        case "comma": return UInt8(ascii: ",")
        case "semicolon": return UInt8(ascii: ";")
        case "space": return UInt8(ascii: " ")
        default:
            let bytes = Array(text.utf8)
            guard bytes.count == 1, let byte = bytes.first, byte < 0x80,
                !"\"\r\n0123456789.+-eE".utf8.contains(byte)
            else { return nil }
            return byte
        }
    }

    /// The delimiter for `line` (the first line, without its line break): the given one, or sniffed.
    func delimiter(for line: ArraySlice<UInt8>) -> UInt8 {
        if let delimiter { return delimiter }
        var counts = [Int](repeating: 0, count: Self.sniffedDelimiters.count)
        var inQuotes = false
        for byte in line {
            if byte == CSVFields.quote {
                inQuotes.toggle()
            } else if !inQuotes, let index = Self.sniffedDelimiters.firstIndex(of: byte) {
                counts[index] += 1
            }
        }
        let best = counts.indices.max { counts[$0] < counts[$1] || (counts[$0] == counts[$1] && $0 > $1) }!
        return Self.sniffedDelimiters[best]
    }
}

/// Splitting one line (without its line break) into fields, with RFC 4180 quotes.
enum CSVFields {
    static let quote = UInt8(ascii: "\"")

    /// Why a line's quotes are malformed (`column` 0-based).
    enum QuoteFailure: Error, Equatable {
        /// A field opened with `"` has no closing `"` on the line.
        case unterminated(column: Int)
        /// Text follows a closing `"` before the delimiter.
        case textAfterClosingQuote(column: Int)

        var column: Int {
            switch self {
            case .unterminated(let column), .textAfterClosingQuote(let column): column
            }
        }

        var reason: String {
            switch self {
            case .unterminated:
                "the quoted field does not end on this line (a closing \" is missing; line breaks inside quoted "
                    + "fields are not supported)"
            case .textAfterClosingQuote:
                "text follows the closing quote of the field (a \" inside a quoted field is written \"\")"
            }
        }
    }

    /// The fields of `line`, each with its quotes removed and `""` read as `"`. A field that does not start
    /// with `"` is taken as it is.
    static func split(_ line: UnsafeBufferPointer<UInt8>, delimiter: UInt8) -> Result<[[UInt8]], QuoteFailure> {
        var fields: [[UInt8]] = []
        var position = 0
        let count = line.count
        while true {
            let column = fields.count
            var field: [UInt8] = []
            if position < count, line[position] == quote {
                position += 1
                while true {
                    guard position < count else { return .failure(.unterminated(column: column)) }
                    let byte = line[position]
                    position += 1
                    if byte != quote {
                        field.append(byte)
                    } else if position < count, line[position] == quote {
                        field.append(quote)
                        position += 1
                    } else {
                        break
                    }
                }
                if position < count, line[position] != delimiter {
                    return .failure(.textAfterClosingQuote(column: column))
                }
            } else {
                let start = position
                while position < count, line[position] != delimiter { position += 1 }
                field = Array(line[start..<position])
            }
            fields.append(field)
            guard position < count else { return .success(fields) }
            position += 1  // the delimiter
        }
    }

    /// `split` of an array's bytes.
    static func split(_ line: ArraySlice<UInt8>, delimiter: UInt8) -> Result<[[UInt8]], QuoteFailure> {
        line.withUnsafeBufferPointer { split($0, delimiter: delimiter) }
    }
}
