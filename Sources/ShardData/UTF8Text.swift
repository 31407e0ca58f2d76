/// Text cells, ids and column names must be UTF-8: a Latin-1 or Windows-1252 file decoded as UTF-8 would turn
/// every non-ASCII letter into U+FFFD, silently merging categories such as "Zürich" and "Zörich".
enum UTF8Text {
    /// The byte offset of the first byte that does not start a valid UTF-8 sequence, or nil when all is valid
    /// (ASCII, the common case, is decided by one test per byte).
    static func firstInvalidOffset(_ bytes: some Collection<UInt8>) -> Int? {
        if bytes.allSatisfy({ $0 < 0x80 }) { return nil }
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// The message's detail for text of the file at `path` that is not UTF-8, with the command that converts it.
    static func detail(_ bytes: some Collection<UInt8>, path: String) -> String {
        let offset = firstInvalidOffset(bytes) ?? 0
        let byte = Array(bytes)[offset]
        return "the text \"\(escaped(bytes))\" is not UTF-8 (byte 0x\(String(byte, radix: 16, uppercase: true)) at "
            + "position \(offset + 1)); the file looks like Latin-1 or Windows-1252 — convert it to UTF-8 first: "
            + "iconv -f WINDOWS-1252 -t UTF-8 \(path) > \(convertedName(path))"
    }

    /// Where the conversion commands the messages suggest write: `shops.csv` → `shops-utf8.csv`.
    static func convertedName(_ path: String) -> String {
        (path.hasSuffix(".csv") ? String(path.dropLast(4)) : path) + "-utf8.csv"
    }

    /// Valid UTF-8 as it is, every byte of an invalid sequence as `\xNN`.
    static func escaped(_ bytes: some Collection<UInt8>) -> String {
        let array = Array(bytes)
        var shown = ""
        var start = 0
        while start < array.count {
            let rest = array[start...]
            if let bad = firstInvalidOffset(rest) {
                shown += String(decoding: rest.prefix(bad), as: UTF8.self)
                shown += "\\x" + String(array[start + bad], radix: 16, uppercase: true)
                start += bad + 1
            } else {
                shown += String(decoding: rest, as: UTF8.self)
                break
            }
        }
        return shown
    }
}
