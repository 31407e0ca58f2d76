import Testing

@testable import ShardData

/// The table's message for `bytes`, nil when it reads.
private func tableError(_ bytes: [UInt8], verbatimColumn: String? = nil, pieceBytes: Int = CSVReader.defaultPieceBytes)
    -> String?
{
    do {
        _ = try CSVReader.parseTable(
            bytes: bytes, source: "shops.csv", verbatimColumn: verbatimColumn, threads: 2, pieceBytes: pieceBytes)
        return nil
    } catch {
        return error.description
    }
}

private let hint = "the file looks like Latin-1 or Windows-1252 — convert it to UTF-8 first: "
    + "iconv -f WINDOWS-1252 -t UTF-8 shops.csv > shops-utf8.csv"

@Suite("UTF-8 text: Latin-1 cells, ids and names are refused, not merged into U+FFFD")
struct UTF8TextTests {
    @Test("the first invalid byte's offset; valid multi-byte text and ASCII pass")
    func offsets() {
        #expect(UTF8Text.firstInvalidOffset(Array("Zürich ✓ 東京".utf8)) == nil)
        #expect(UTF8Text.firstInvalidOffset([UInt8]()) == nil)
        #expect(UTF8Text.firstInvalidOffset([0x5A, 0xFC, 0x72]) == 1)  // Latin-1 ü
        #expect(UTF8Text.firstInvalidOffset([0x61, 0xC3]) == 1)  // a sequence cut at the end
        #expect(UTF8Text.firstInvalidOffset([0xED, 0xA0, 0x80]) == 0)  // an encoded surrogate
        #expect(UTF8Text.escaped([0x5A, 0xFC, 0x72, 0xC3, 0xA9]) == "Z\\xFCré")
    }

    /// Two Latin-1 categories that would both read "Z\u{FFFD}rich" — the silent merge this refusal prevents.
    @Test("a text cell, unquoted (fast path) or quoted (slow path), names file, line, column and the fix",
          arguments: [false, true])
    func cells(quoted: Bool) {
        let city: [UInt8] = quoted ? [0x22, 0x5A, 0xF6, 0x72, 0x69, 0x63, 0x68, 0x22] : [0x5A, 0xF6, 0x72, 0x69, 0x63, 0x68]
        let bytes = Array("city,x,label\nBern,1.5,0\n".utf8) + city + Array(",2.5,1\n".utf8)
        #expect(tableError(bytes) == "shops.csv:3: column 1 (\"city\"): the text \"Z\\xF6rich\" is not UTF-8 "
            + "(byte 0xF6 at position 2); " + hint)
        // The same with pieces of a few bytes, so that the line is read by a later piece.
        #expect(tableError(bytes, pieceBytes: 7)?.hasPrefix("shops.csv:3: column 1 (\"city\"): the text") == true)
    }

    @Test("an id column kept as written and a header name are checked too")
    func idsAndNames() {
        let id = Array("id,x,label\nA1,1,0\n".utf8) + [0x42, 0xE9] + Array(",2,1\n".utf8)
        #expect(tableError(id, verbatimColumn: "id")
            == "shops.csv:3: column 1 (\"id\"): the text \"B\\xE9\" is not UTF-8 (byte 0xE9 at position 2); " + hint)
        let header = [0x63, 0xE9] + Array(",x,label\nBern,1,0\n".utf8)
        #expect(tableError(header) == "shops.csv:1: column 1: the text \"c\\xE9\" is not UTF-8 (byte 0xE9 at position 2); " + hint)
    }

    @Test("UTF-8 categories that differ only in a non-ASCII letter stay two categories")
    func validTextReads() throws {
        let table = try CSVReader.parseTable(
            bytes: Array("city,x,label\nZürich,1,0\nZörich,2,1\nZürich,3,1\n".utf8), source: "shops.csv")
        #expect(Set(table.text.strings) == ["Zürich", "Zörich"])
    }
}

@Suite("UTF-16 files are named as such, with the command that converts them")
struct UTF16FileTests {
    @Test("a byte-order mark of either order", arguments: [[UInt8]([0xFF, 0xFE]), [0xFE, 0xFF]])
    func byteOrderMark(mark: [UInt8]) {
        // "a,label\n1,0\n" in UTF-16 (the order does not matter: the mark alone decides).
        let text = Array("a,label\n1,0\n".utf8).flatMap { mark[0] == 0xFF ? [$0, 0] : [0, $0] }
        let order = mark[0] == 0xFF ? "little-endian" : "big-endian"
        #expect(tableError(mark + text) == "shops.csv:1: the file is UTF-16 (\(order) byte-order mark), not UTF-8 text; "
            + "convert it first: iconv -f UTF-16 -t UTF-8 shops.csv > shops-utf8.csv")
    }
}
