/// Reads lists of 0-based data-row indices (the header line is not a data row).
///
/// Accepted forms: integers separated by any mix of commas, spaces, tabs and line breaks
/// (`3, 1, 4` or one index per line), or a JSON array of integers (`[3, 1, 4]`). Order is kept;
/// range and duplicate checks happen in `Dataset.selectingRows(_:)`, which knows the row count.
public enum RowIndices {
    /// Reads the index file at `path`.
    public static func read(path: String) throws(DataError) -> [Int] {
        let bytes = try readFileBytes(path: path)
        return try parse(text: String(decoding: bytes, as: UTF8.self), source: path)
    }

    /// Parses index text; `source` names it in messages.
    public static func parse(text: String, source: String) throws(DataError) -> [Int] {
        let characters = Array(text.utf8)
        var position = 0
        var line = 1
        var indices: [Int] = []
        func isSeparator(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: ",") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
                || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
        }
        /// Skips separators and returns how many commas it passed.
        @discardableResult
        func skipSeparators() -> Int {
            var commas = 0
            while position < characters.count, isSeparator(characters[position]) {
                if characters[position] == UInt8(ascii: "\n") { line += 1 }
                if characters[position] == UInt8(ascii: ",") { commas += 1 }
                position += 1
            }
            return commas
        }
        func skipWhitespace() {
            while position < characters.count, characters[position] != UInt8(ascii: ","),
                isSeparator(characters[position])
            {
                if characters[position] == UInt8(ascii: "\n") { line += 1 }
                position += 1
            }
        }

        skipWhitespace()
        let isJSONArray = position < characters.count && characters[position] == UInt8(ascii: "[")
        let openingLine = line
        if isJSONArray { position += 1 }
        var closed = false
        while true {
            let commas = skipSeparators()
            guard position < characters.count else { break }
            // "1,,2" or a leading comma: an entry is missing (a typo that must not silently drop a row).
            if commas > 1 || (commas == 1 && indices.isEmpty) {
                throw .malformedRowIndexList(path: source, line: line, detail: "an empty entry between commas")
            }
            if isJSONArray, characters[position] == UInt8(ascii: "]") {
                closed = true
                position += 1
                break
            }
            let tokenStart = position
            while position < characters.count, !isSeparator(characters[position]),
                !(isJSONArray && characters[position] == UInt8(ascii: "]"))
            {
                position += 1
            }
            let token = String(decoding: characters[tokenStart..<position], as: UTF8.self)
            guard let value = Int(token) else {
                throw .invalidRowIndex(path: source, line: line, token: token)
            }
            guard value >= 0 else { throw .negativeRowIndex(path: source, line: line, value: value) }
            indices.append(value)
        }
        if isJSONArray {
            guard closed else {
                throw .malformedRowIndexList(
                    path: source, line: openingLine, detail: "the \"[\" on this line is never closed by \"]\"")
            }
            skipSeparators()
            if position < characters.count {
                var tokenEnd = position
                while tokenEnd < characters.count, !isSeparator(characters[tokenEnd]) { tokenEnd += 1 }
                let extra = String(decoding: characters[position..<tokenEnd], as: UTF8.self)
                throw .malformedRowIndexList(path: source, line: line, detail: "unexpected \"\(extra)\" after \"]\"")
            }
        }
        guard !indices.isEmpty else { throw .emptyRowIndexFile(path: source) }
        return indices
    }
}
