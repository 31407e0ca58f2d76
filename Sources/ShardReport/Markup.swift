/// Text that goes into HTML or SVG, made safe, and numbers written for coordinates.
public enum Markup {
    /// `text` for element content and attribute values: `& < > " '` become character references, and the characters
    /// XML 1.0 does not allow (controls other than tab, line feed and carriage return, U+FFFE, U+FFFF) become U+FFFD,
    /// so a column name from a user's file can neither open a tag nor make the document ill-formed.
    public static func escape(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&#39;"
            case "\t", "\n", "\r": output.unicodeScalars.append(scalar)
            default:
                let allowed = scalar.value >= 0x20 && scalar.value != 0xFFFE && scalar.value != 0xFFFF
                output.unicodeScalars.append(allowed ? scalar : "\u{FFFD}")
            }
        }
        return output
    }

    /// A coordinate or length in SVG user units with at most two decimals (`12`, `12.5`, `-0.25`); a non-finite value,
    /// which must never reach a document, is a programming error.
    static func coordinate(_ value: Double) -> String {
        precondition(value.isFinite, "a non-finite coordinate reached the SVG")
        let hundredths = (value * 100).rounded()
        if hundredths == 0 { return "0" }
        let negative = hundredths < 0
        let magnitude = Int(abs(hundredths))
        let whole = magnitude / 100
        let fraction = magnitude % 100
        var text = negative ? "-" : ""
        text += String(whole)
        if fraction != 0 {
            text += fraction % 10 == 0 ? "." + String(fraction / 10) : "." + (fraction < 10 ? "0" : "") + String(fraction)
        }
        return text
    }
}
