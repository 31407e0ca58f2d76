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
}
