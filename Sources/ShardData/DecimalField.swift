import CFastFloat

/// One CSV field read as a decimal number, with fast_float (correctly rounded: round to nearest, ties to even).
///
/// ```text
/// accepted   [+|-] (digits [. digits?] | . digits) [(e|E) [+|-] digits]      e.g. 1, -2.5, +.5, 5., 1e-3, 1E+5
/// value      the double nearest to the decimal, exactly Swift's Double(text) for these texts;
///            |x| that rounds below the smallest subnormal (≈ 4.9e-324) gives ±0 (IEEE rounding, e.g. 1e-400 → 0)
/// refused    NaN and infinities (any case, nan(…)), and decimals that round beyond ±Double.greatestFiniteMagnitude
///            → nonFinite; hexadecimal (0x10, 0x1p-3) and NUL bytes → their own outcome; anything else, including
///            whitespace around the number and an empty field → notANumber
/// ```
public enum DecimalField {
    public enum Outcome: Sendable, Equatable {
        case number(Double)
        /// NaN, an infinity, or a decimal beyond the finite range.
        case nonFinite
        /// A hexadecimal literal (`0x…`), which Swift's `Double(String)` would read but data files should not hold.
        case hexadecimal
        /// The field holds a NUL byte (a binary or UTF-16 file, most likely).
        case nulByte
        case notANumber

        public var isNumber: Bool {
            if case .number = self { return true }
            return false
        }
    }

    /// Reads the whole of `field`.
    public static func parse(_ field: UnsafeBufferPointer<UInt8>) -> Outcome {
        guard let base = field.baseAddress, !field.isEmpty else { return .notANumber }
        let end = base + field.count
        var value = 0.0
        if let stop = parsePrefix(base, end, &value), stop == end {
            return value.isFinite ? .number(value) : .nonFinite
        }
        if field.contains(0) { return .nulByte }
        var digits = field[...]
        if let sign = digits.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { digits = digits.dropFirst() }
        if digits.count > 2, digits.first == UInt8(ascii: "0"),
            digits[digits.startIndex + 1] | 0x20 == UInt8(ascii: "x")
        {
            return .hexadecimal
        }
        return .notANumber
    }

    /// Reads `text` (a convenience for tests and command-line values).
    public static func parse(_ text: String) -> Outcome {
        var text = text
        return text.withUTF8 { parse($0) }
    }

    /// The longest number at `start` (before `end`): its value into `value` and the position after it, or nil
    /// when no number starts there. The value may be ±infinity or NaN; the caller checks what follows.
    @inline(__always)
    static func parsePrefix(
        _ start: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>, _ value: inout Double
    ) -> UnsafePointer<UInt8>? {
        let first = UnsafeRawPointer(start).assumingMemoryBound(to: CChar.self)
        let last = UnsafeRawPointer(end).assumingMemoryBound(to: CChar.self)
        guard let stop = cff_parse_double(first, last, &value), stop != first else { return nil }
        return UnsafeRawPointer(stop).assumingMemoryBound(to: UInt8.self)
    }

    /// Reads whole lines of `columns` numbers from `cursor` on (a line start), up to `end`, in one C call
    /// (`cff_parse_number_rows`): each field read as `parse` reads it and finite, separated by `delimiter`, lines
    /// ending in `\n`, `\r\n` or `end`. Row r's column `labelIndex` goes to `labels[r]`, its other columns in order to
    /// `features[r·(columns − 1)…]`. Stops at `end`, after `maximumRows` rows, or at the first line holding anything
    /// else (a quote, text, an empty field, a wrong field count, a refused number), with `cursor` at that line's start
    /// so the caller reads it; returns the rows read. Requires `acceptsAsRowDelimiter(delimiter)`.
    /// `portable`: the loop without vector instructions (what a CPU without SSE4.1 runs), for tests; the same result.
    static func parseNumberRows(
        from cursor: inout UnsafePointer<UInt8>, end: UnsafePointer<UInt8>, delimiter: UInt8, columns: Int,
        labelIndex: Int, features: UnsafeMutablePointer<Double>, labels: UnsafeMutablePointer<Double>,
        maximumRows: Int, portable: Bool = false
    ) -> Int {
        var position: UnsafePointer<CChar>? = UnsafeRawPointer(cursor).assumingMemoryBound(to: CChar.self)
        let parse = portable ? cff_parse_number_rows_portable : cff_parse_number_rows
        let rows = parse(
            &position, UnsafeRawPointer(end).assumingMemoryBound(to: CChar.self), delimiter, columns, labelIndex, features,
            labels, maximumRows)
        cursor = UnsafeRawPointer(position!).assumingMemoryBound(to: UInt8.self)
        return rows
    }

    /// Whether `parseNumberRows` can split fields at `delimiter`: a byte that no number (digits, signs, `.`, the letters
    /// of `e`, `inf`, `nan`), quote or line break holds.
    static func acceptsAsRowDelimiter(_ delimiter: UInt8) -> Bool {
        !"0123456789+-.eEiInNaAfFtTyY\"\r\n".utf8.contains(delimiter) && delimiter != 0
    }
}
