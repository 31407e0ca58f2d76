import Foundation
@testable import ShardData
import ShardNumerics
import Testing

/// `DecimalField.parseNumberRows`, the C loop that reads runs of all-number lines (8 characters at a time), against
/// Swift's `Double(String)` field by field, and the reader that hands the other lines to its field-by-field path.
extension ShardDataSuite {
    /// What `parseNumberRows` made of `text` (copied into memory of exactly its size, so a read past the end is a
    /// read outside the allocation): rows, where it stopped (byte offset), features, labels; the vector and the
    /// portable loop must agree on all of it.
    private static func numberRows(_ text: String, columns: Int, labelIndex: Int, delimiter: UInt8 = UInt8(ascii: ","))
        -> (rows: Int, stop: Int, features: [Double], labels: [Double])
    {
        let vector = numberRows(text, columns: columns, labelIndex: labelIndex, delimiter: delimiter, portable: false)
        let portable = numberRows(text, columns: columns, labelIndex: labelIndex, delimiter: delimiter, portable: true)
        #expect(vector.rows == portable.rows && vector.stop == portable.stop, "\(text.debugDescription)")
        #expect(vector.features.map(\.bitPattern) == portable.features.map(\.bitPattern), "\(text.debugDescription)")
        #expect(vector.labels.map(\.bitPattern) == portable.labels.map(\.bitPattern), "\(text.debugDescription)")
        return vector
    }

    /// `numberRows` of one of the two loops (the vector one, SSE4.1, where the CPU has it; the portable one).
    private static func numberRows(
        _ text: String, columns: Int, labelIndex: Int, delimiter: UInt8, portable: Bool
    ) -> (rows: Int, stop: Int, features: [Double], labels: [Double]) {
        let bytes = Array(text.utf8)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, bytes.count))
        defer { buffer.deallocate() }
        buffer.initialize(from: bytes, count: bytes.count)
        let capacity = bytes.count + 1
        var features = [Double](repeating: 0, count: capacity * (columns - 1))
        var labels = [Double](repeating: 0, count: capacity)
        var cursor = UnsafePointer(buffer)
        let rows = features.withUnsafeMutableBufferPointer { featureBuffer in
            labels.withUnsafeMutableBufferPointer { labelBuffer in
                DecimalField.parseNumberRows(
                    from: &cursor, end: UnsafePointer(buffer) + bytes.count, delimiter: delimiter, columns: columns,
                    labelIndex: labelIndex, features: featureBuffer.baseAddress!, labels: labelBuffer.baseAddress!,
                    maximumRows: capacity, portable: portable)
            }
        }
        return (rows, cursor - UnsafePointer(buffer), Array(features.prefix(rows * (columns - 1))), Array(labels.prefix(rows)))
    }

    /// The features and labels `Double(String)` gives for lines of numbers (line breaks `\n`; a `\r` before them is
    /// dropped).
    private static func expectedRows(_ lines: [String], labelIndex: Int, delimiter: Character = ",")
        -> (features: [UInt64], labels: [UInt64])
    {
        var features: [UInt64] = [], labels: [UInt64] = []
        for line in lines {
            let fields = line.split(separator: delimiter, omittingEmptySubsequences: false)
            for (column, field) in fields.enumerated() {
                let value = Double(String(field))!
                if column == labelIndex { labels.append(value.bitPattern) } else { features.append(value.bitPattern) }
            }
        }
        return (features, labels)
    }

    /// A random decimal as data files hold them: 1–9 integer digits, 0–18 fraction digits, a sign sometimes,
    /// an exponent (up to two digits: always finite) sometimes.
    private static func randomDecimal(_ random: inout SplitMix64) -> String {
        func digits(_ count: Int) -> String { String((0..<count).map { _ in Character(String(random.next() % 10)) }) }
        var text = ["", "", "-", "+"][Int(random.next() % 4)]
        text += random.next() % 5 == 0 ? "0" : digits(1 + Int(random.next() % 9))
        if random.next() % 6 != 0 { text += "." + digits(Int(random.next() % 19)) }
        if random.next() % 8 == 0 { text += ["e", "E"][Int(random.next() % 2)] + ["", "-", "+"][Int(random.next() % 3)] + digits(1 + Int(random.next() % 2)) }
        return text
    }

    @Test("short decimals of every length read as Double(String) reads them, the word-at-a-time digits included")
    func numberRowsDigitLengths() {
        var random = SplitMix64(seed: 0xD161_7500)
        for integerDigits in 1...9 {
            for fractionDigits in -1...18 {
                var lines: [String] = []
                for _ in 0..<40 {
                    let sign = ["", "-"][Int(random.next() % 2)]
                    let integer = String((0..<integerDigits).map { _ in Character(String(random.next() % 10)) })
                    let fraction = fractionDigits < 0 ? "" : "." + String((0..<fractionDigits).map { _ in Character(String(random.next() % 10)) })
                    // Three columns, the label in the middle; the first field padded so fields fall at every offset.
                    lines.append("\(sign)\(integer)\(fraction),\(random.next() % 2),\(String(repeating: "0", count: lines.count % 9))\(integer)\(fraction)")
                }
                let text = lines.joined(separator: "\n") + "\n"
                let parsed = Self.numberRows(text, columns: 3, labelIndex: 1)
                let expected = Self.expectedRows(lines, labelIndex: 1)
                #expect(parsed.rows == lines.count && parsed.stop == text.utf8.count, "\(integerDigits).\(fractionDigits)")
                #expect(parsed.features.map(\.bitPattern) == expected.features, "\(integerDigits).\(fractionDigits)")
                #expect(parsed.labels.map(\.bitPattern) == expected.labels, "\(integerDigits).\(fractionDigits)")
            }
        }
        // Around 2^53 = 9007199254740992 (beyond it the digits are not exact in a double: fast_float reads those),
        // signed zeros, leading zeros.
        let edges = [
            "9007199.254740992", "9007199.254740993", "900719.9254740991", "0.9007199254740993", "-0", "-0.0", "-0.",
            "0000001.5", "1.", "5.000000000000000", "0.0000000000000001", "1234567.123456789", "0.30000000000000004",
            ".5", "-.5", "123456789012345", "1234567890123456", "12345678901234567", "999999999999999.9",
            // 16 digits beyond 2^53, where Double(digits) / 10^f rounds twice and misses the last bit (found by
            // searching random 16-digit decimals against exact rational rounding).
            "91399620.84340797", "944608837.2433843", "986.5452293525111", "97906356.58315175", "9482.463022877763",
        ]
        // Each edge far from the end of the text (the word-at-a-time readers need 32 bytes there) and near it.
        let padding = Array(repeating: "0", count: 8)
        let text = (edges + padding + edges).map { "\($0),1" }.joined(separator: "\n")
        let parsed = Self.numberRows(text, columns: 2, labelIndex: 1)
        #expect(parsed.rows == 2 * edges.count + padding.count)
        #expect(parsed.features.map(\.bitPattern) == (edges + padding + edges).map { Double($0)!.bitPattern })
    }

    @Test("a delimiter at every offset from 1 to 70 bytes into the line: 16-byte reads, and fields longer than one")
    func numberRowsDelimiterAtEveryOffset() {
        for offset in 1...70 {
            // Leading zeros keep the value while the field grows (longer than 15 bytes: fast_float reads it).
            let fields = [
                String(repeating: "0", count: offset - 1) + "7", "-" + String(repeating: "0", count: max(0, offset - 3)) + ".5",
            ]
            let lines = Array(repeating: fields.joined(separator: ",") + ",1", count: 3)
            let text = lines.joined(separator: "\n")
            let parsed = Self.numberRows(text, columns: 3, labelIndex: 2)
            let expected = Self.expectedRows(lines, labelIndex: 2)
            #expect(parsed.rows == 3 && parsed.stop == text.utf8.count, "offset \(offset)")
            #expect(parsed.features.map(\.bitPattern) == expected.features, "offset \(offset)")
        }
    }

    @Test("random rows read whole, whatever the distance of each field from the end of the text")
    func numberRowsEveryDistanceFromTheEnd() {
        var random = SplitMix64(seed: 0x40_E5)
        for trial in 0..<30 {
            let columns = 1 + Int(random.next() % 6)
            let labelIndex = Int(random.next() % UInt64(columns))
            let lines = (0..<(20 + Int(random.next() % 20))).map { _ in
                (0..<columns).map { _ in Self.randomDecimal(&random) }.joined(separator: ",")
            }
            let lineBreak = trial % 3 == 0 ? "\r\n" : "\n"
            // Every suffix of whole lines, so that the last fields sit at every distance from the end, with and
            // without a final line break.
            for first in lines.indices {
                for finalBreak in ["", lineBreak] {
                    let suffix = Array(lines[first...])
                    let text = suffix.joined(separator: lineBreak) + finalBreak
                    let parsed = Self.numberRows(text, columns: columns, labelIndex: labelIndex)
                    let expected = Self.expectedRows(suffix, labelIndex: labelIndex)
                    #expect(parsed.rows == suffix.count && parsed.stop == text.utf8.count, "trial \(trial), line \(first)")
                    #expect(parsed.features.map(\.bitPattern) == expected.features, "trial \(trial), line \(first)")
                    #expect(parsed.labels.map(\.bitPattern) == expected.labels, "trial \(trial), line \(first)")
                }
            }
        }
    }

    @Test("a semicolon or tab delimiter, and a last line ending in a lone carriage return")
    func numberRowsDelimitersAndLineEnds() {
        for (delimiter, character) in [(UInt8(ascii: ";"), Character(";")), (UInt8(ascii: "\t"), Character("\t"))] {
            let lines = ["1.25\(character)-3\(character)0", "2\(character)4.5\(character)1"]
            let text = lines.joined(separator: "\r\n") + "\r"
            let parsed = Self.numberRows(text, columns: 3, labelIndex: 2, delimiter: delimiter)
            let expected = Self.expectedRows(lines, labelIndex: 2, delimiter: character)
            #expect(parsed.rows == 2 && parsed.stop == text.utf8.count)
            #expect(parsed.features.map(\.bitPattern) == expected.features)
            #expect(parsed.labels.map(\.bitPattern) == expected.labels)
        }
        #expect(DecimalField.acceptsAsRowDelimiter(UInt8(ascii: ",")))
        for refused in "0.-+eE\"\r\nn" { #expect(!DecimalField.acceptsAsRowDelimiter(refused.asciiValue!), "\(refused)") }
    }

    @Test("the row parser stops at the start of the first line that is not all numbers, near the end or far from it")
    func numberRowsStopAtOtherLines() {
        let good = ["1.5,2,0", "-0.25,3.75,1", "4,5,0"]
        let others = [
            "\"1\",2,0", "a,2,0", ",2,0", "1,2,", "1,2", "1,2,0,4", "", "\r", "nan,1,0", "1,inf,0", "1e400,1,0",
            "0x10,1,0", "1.5e,1,0", "1 ,2,0", " 1,2,0", "1,2,0\r3", "1;2;0", "+-1,2,0", "--1,2,0", "1..2,3,0",
            "1,2,0\r\r", "1,2,0 ", "1,2,-", "1,2,.", "1,2,0\u{0}", "1,2,é", "1.2.3,2,0", ".,2,0", "-.,2,0", "1,2e,0",
        ]
        for other in others {
            for padding in [0, 40] {
                // Lines before the other one, and (for padding 40) enough after it that its fields are far from the end.
                let after = Array(repeating: "7,8,1", count: padding / 5)
                let text = (good + [other] + after).joined(separator: "\n") + "\n"
                let parsed = Self.numberRows(text, columns: 3, labelIndex: 2)
                let start = (good.joined(separator: "\n") + "\n").utf8.count
                #expect(parsed.rows == good.count && parsed.stop == start, "\(other.debugDescription), padding \(padding)")
                let expected = Self.expectedRows(good, labelIndex: 2)
                #expect(parsed.features.map(\.bitPattern) == expected.features, "\(other.debugDescription)")
                #expect(parsed.labels.map(\.bitPattern) == expected.labels, "\(other.debugDescription)")
            }
        }
    }

    @Test("text tables whose number lines and text lines alternate in runs read the same in any pieces")
    func tablesMixingNumberAndTextLines() throws {
        var random = SplitMix64(seed: 0x7E47)
        for (trial, textShare) in [0.0, 0.002, 0.05, 0.5, 1.0].enumerated() {
            let columns = 4
            var lines = ["a,b,c,label"]
            var expectedValues: [UInt64] = []
            var expectedCells: [(row: Int, column: Int, text: String?)] = []
            for row in 0..<600 {
                var fields: [String] = []
                for column in 0..<columns {
                    if random.nextUnit() < textShare {
                        let text = ["red", "NA", "", "blue", "n/a"][Int(random.next() % 5)]
                        fields.append(text)
                        expectedCells.append((row, column, MissingValue.isMissing(text) ? nil : text))
                        expectedValues.append(Double.nan.bitPattern)
                    } else {
                        let number = Self.randomDecimal(&random)
                        fields.append(number)
                        expectedValues.append(Double(number)!.bitPattern)
                    }
                }
                lines.append(fields.joined(separator: ","))
            }
            let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
            for (pieceBytes, threads) in [(1 << 30, 1), (97, 2), (1000, 3)] {
                let table = try CSVReader.parseTable(bytes: bytes, source: "t.csv", threads: threads, pieceBytes: pieceBytes)
                var values: [UInt64] = []
                for row in 0..<table.rowCount {
                    for column in 0..<columns { values.append(table.value(row: row, column: column).bitPattern) }
                }
                #expect(table.rowCount == 600, "trial \(trial)")
                #expect(values == expectedValues, "trial \(trial), pieces of \(pieceBytes)")
                let cells = table.text.cells.map { (row: $0.row, column: Int($0.column), text: table.text.text(of: $0)) }
                #expect(cells.elementsEqual(expectedCells) { $0 == $1 }, "trial \(trial), pieces of \(pieceBytes)")
            }
        }
    }
}
