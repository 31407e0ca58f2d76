import Foundation
import ShardData
import ShardNumerics
import Testing

/// Delimiters (sniffed or given), RFC 4180 quoting, the numeric-first-line refusal and files without a header.
extension ShardDataSuite {
    private static func error(_ body: () throws(DataError) -> Dataset) -> DataError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    /// A random numeric table (header `c0…`, label last) written with `delimiter` between fields.
    private static func table(_ random: inout SplitMix64, rows: Int, delimiter: String) -> String {
        let columns = 4
        var lines = [(0..<columns).map { "c\($0)" }.joined(separator: delimiter)]
        for _ in 0..<rows {
            lines.append((0..<columns).map { _ in String(format: "%.17g", random.nextUniform(-1e3, 1e3)) }
                .joined(separator: delimiter))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("tab and semicolon files give the comma file's values bit for bit, sniffed or given, in any pieces")
    func delimitersGiveTheSameValues() throws {
        var random = SplitMix64(seed: 5)
        let comma = Self.table(&random, rows: 200, delimiter: ",")
        let reference = try CSVReader.parse(text: comma, source: "t.csv")
        for delimiter in ["\t", ";"] {
            let text = comma.replacingOccurrences(of: ",", with: delimiter)
            let byte = UInt8(ascii: Unicode.Scalar(delimiter)!)
            for dialect in [CSVDialect(), CSVDialect(delimiter: byte)] {
                for (threads, pieceBytes) in [(1, 1 << 20), (2, 97)] {
                    let dataset = try CSVReader.parse(
                        bytes: Array(text.utf8), source: "t.csv", dialect: dialect, threads: threads, pieceBytes: pieceBytes)
                    #expect(dataset.featureNames == ["c0", "c1", "c2"])
                    #expect(dataset.features.map(\.bitPattern) == reference.features.map(\.bitPattern))
                    #expect(dataset.labels.map(\.bitPattern) == reference.labels.map(\.bitPattern))
                }
            }
        }
    }

    @Test("fields quoted at random give the unquoted values bit for bit, in any pieces")
    func quotedNumbersGiveTheSameValues() throws {
        var random = SplitMix64(seed: 6)
        let plain = Self.table(&random, rows: 300, delimiter: ",")
        let reference = try CSVReader.parse(text: plain, source: "t.csv")
        let quoted = plain.split(separator: "\n").map { line in
            line.split(separator: ",").map { random.next() % 2 == 0 ? "\"\($0)\"" : String($0) }.joined(separator: ",")
        }.joined(separator: "\r\n")
        for (threads, pieceBytes) in [(1, 1 << 20), (2, 61)] {
            let dataset = try CSVReader.parse(bytes: Array(quoted.utf8), source: "t.csv", threads: threads, pieceBytes: pieceBytes)
            #expect(dataset.features.map(\.bitPattern) == reference.features.map(\.bitPattern))
            #expect(dataset.labels.map(\.bitPattern) == reference.labels.map(\.bitPattern))
        }
    }

    @Test("sniffing takes the most frequent delimiter outside quotes; a given delimiter overrides it")
    func sniffingAndOverride() throws {
        // Three semicolons and one comma (inside quotes: not counted) on the first line.
        let text = "a;\"b,c\";d;label\n1;2;3;0\n"
        let sniffed = try CSVReader.parse(text: text, source: "t.csv")
        #expect(sniffed.featureNames == ["a", "b,c", "d"])
        #expect(CSVDialect.delimiter(named: "tab") == UInt8(ascii: "\t"))
        #expect(CSVDialect.delimiter(named: "|") == UInt8(ascii: "|"))
        #expect(CSVDialect.delimiter(named: "\"") == nil && CSVDialect.delimiter(named: ".") == nil)
        #expect(CSVDialect.delimiter(named: ",,") == nil)
        let piped = try CSVReader.parse(
            text: "a|b|label\n1|2|0\n", source: "t.csv", dialect: CSVDialect(delimiter: UInt8(ascii: "|")))
        #expect(piped.featureNames == ["a", "b"] && piped.features.map { $0 } == [1, 2])
        // Given a comma, the semicolon file is one column: refused, naming the only column.
        let forced = Self.error {
            () throws(DataError) in
            try CSVReader.parse(text: "a;b\n1;0\n", source: "t.csv", dialect: CSVDialect(delimiter: UInt8(ascii: ",")))
        }
        #expect(forced == .noFeatureColumns(path: "t.csv", labelName: "a;b"))
    }

    @Test("quoted fields: quoted numbers, doubled quotes, delimiters inside quoted header names")
    func quotedFields() throws {
        let text = "\"size, cm\",\"say \"\"hi\"\"\",label\r\n\"1.5\",2,\"0\"\r\n-3,\"4e-1\",1\r\n"
        for pieceBytes in [1, 5, 1 << 20] {
            let dataset = try CSVReader.parse(bytes: Array(text.utf8), source: "q.csv", threads: 2, pieceBytes: pieceBytes)
            #expect(dataset.featureNames == ["size, cm", "say \"hi\""])
            #expect(dataset.features.map { $0 } == [1.5, 2, -3, 0.4])
            #expect(dataset.labels == [0, 1])
        }
        // A doubled quote inside a field that should be a number: the field is shown unquoted, with its place.
        let bad = Self.error { () throws(DataError) in try CSVReader.parse(text: "a,b\n1,0\n\"1\"\"5\",1\n", source: "q.csv") }
        #expect(bad == .notANumber(path: "q.csv", line: 3, column: 1, columnName: "a", text: "1\"5"))
        #expect(bad?.description == "q.csv:3: column 1 (\"a\"): \"1\"5\" is not a number")
    }

    @Test("a quoted field may not span lines: the line that opens it is named, whatever the pieces")
    func quotedLineBreakIsRefused() throws {
        let text = "a,b,label\n1,2,0\n3,\"4\n5\",1\n6,7,0\n"
        for (threads, pieceBytes) in [(1, 1 << 20), (2, 3), (2, 17), (3, 1)] {
            let error = Self.error {
                () throws(DataError) in
                try CSVReader.parse(bytes: Array(text.utf8), source: "q.csv", threads: threads, pieceBytes: pieceBytes)
            }
            #expect(
                error
                    == .malformedQuote(
                        path: "q.csv", line: 3, column: 2, columnName: "b",
                        reason: "the quoted field does not end on this line (a closing \" is missing; line breaks inside "
                            + "quoted fields are not supported)"), "pieces of \(pieceBytes)")
        }
        let after = Self.error { () throws(DataError) in try CSVReader.parse(text: "a,b\n\"1\"x,0\n", source: "q.csv") }
        #expect(after?.description.hasPrefix("q.csv:2: column 1 (\"a\"): text follows the closing quote") == true)
        let header = Self.error { () throws(DataError) in try CSVReader.parse(text: "a,\"b\nc\",y\n1,2,3\n", source: "q.csv") }
        #expect(header?.description.hasPrefix("q.csv:1: column 2: the quoted field does not end on this line") == true)
    }

    @Test("a first line of numbers is refused with a hint; --no-header names the columns f0… and label")
    func headerlessFiles() throws {
        let text = "5.1,3.5,1.4,0\n4.9,\"3\",1.4,1\n"
        let refused = Self.error { () throws(DataError) in try CSVReader.parse(text: text, source: "h.csv") }
        #expect(refused == .numericHeader(path: "h.csv", fields: ["5.1", "3.5", "1.4", "0"]))
        #expect(
            refused?.description
                == "h.csv:1: the first line is all numbers (\"5.1\", \"3.5\", \"1.4\", \"0\"): it looks like data, not a "
                + "header of column names; add a header line, or give --no-header to name the columns f0 … f2 and label")
        let noHeader = CSVDialect(hasHeader: false)
        for pieceBytes in [1, 1 << 20] {
            let dataset = try CSVReader.parse(
                bytes: Array(text.utf8), source: "h.csv", dialect: noHeader, threads: 2, pieceBytes: pieceBytes)
            #expect(dataset.featureNames == ["f0", "f1", "f2"] && dataset.labelName == "label")
            #expect(dataset.features.map { $0 } == [5.1, 3.5, 1.4, 4.9, 3, 1.4] && dataset.labels == [0, 1])
            #expect(dataset.lineNumbers == LineNumbers(first: 1, count: 2))
        }
        // Without a header, lines count from 1; a named generated column can be the label.
        let bad = Self.error {
            () throws(DataError) in try CSVReader.parse(text: "1;2\n3;x\n", source: "h.csv", dialect: noHeader)
        }
        #expect(bad?.description == "h.csv:2: column 2 (\"label\"): \"x\" is not a number")
        let labelFirst = try CSVReader.parse(text: "0\t1\t2\n", source: "h.tsv", labelColumn: "f0", dialect: noHeader)
        #expect(labelFirst.featureNames == ["f1", "label"] && labelFirst.labels == [0])
        // A header with one name among numbers is a header.
        #expect(try CSVReader.parse(text: "1,2,y\n3,4,0\n", source: "h.csv").featureNames == ["1", "2"])
    }

    @Test("errors in a TSV keep file:line and the column's number and name")
    func tabErrorsNameTheCell() {
        let error = Self.error { () throws(DataError) in try CSVReader.parse(text: "a\tb\tc\n1\t2\t0\n1\tx\t0\n", source: "t.tsv") }
        #expect(error?.description == "t.tsv:3: column 2 (\"b\"): \"x\" is not a number")
        let count = Self.error { () throws(DataError) in try CSVReader.parse(text: "a\tb\tc\n1\t2,5\t0\n1\t2\n", source: "t.tsv") }
        #expect(count?.description == "t.tsv:2: column 2 (\"b\"): \"2,5\" is not a number")
    }
}
