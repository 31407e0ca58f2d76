import Foundation
import ShardData
import ShardNumerics
import Testing

/// The CSV reader split into pieces on several threads gives the one-piece result: the same rows in the same
/// order, and the same first error.
extension ShardDataSuite {
    /// A random numeric CSV: 3 to 6 columns, the label at `labelColumn`, `\n` or `\r\n`, maybe no final break.
    private static func randomCSV(_ random: inout SplitMix64, rows: Int) -> (text: String, label: String?) {
        let columns = 3 + Int(random.next() % 4)
        let names = (0..<columns).map { "c\($0)" }
        let label = random.next() % 2 == 0 ? nil : names[Int(random.next() % UInt64(columns))]
        let lineBreak = random.next() % 3 == 0 ? "\r\n" : "\n"
        var lines = [names.joined(separator: ",")]
        for _ in 0..<rows {
            lines.append((0..<columns).map { _ in
                switch random.next() % 4 {
                case 0: String(random.next() % 10)
                case 1: "\(random.nextUniform(-1e6, 1e6))"
                case 2: String(format: "%.17g", Double(bitPattern: random.next() >> 2))
                default: "-" + String(format: "%.3e", random.nextUniform(0, 1e-300))
                }
            }.joined(separator: ","))
        }
        let end = random.next() % 2 == 0 ? lineBreak : ""
        return (lines.joined(separator: lineBreak) + end, label)
    }

    @Test("any piece size and thread count gives the same rows, in file order")
    func piecesGiveTheSameRows() throws {
        var random = SplitMix64(seed: 11)
        for trial in 0..<40 {
            let (text, label) = Self.randomCSV(&random, rows: 1 + Int(random.next() % 300))
            let bytes = Array(text.utf8)
            let whole = try CSVReader.parse(bytes: bytes, source: "t.csv", labelColumn: label, pieceBytes: 1 << 30)
            for (pieceBytes, threads) in [(1, 2), (2, 3), (7, 2), (64, 1), (100, 4), (997, 2)] {
                let split = try CSVReader.parse(
                    bytes: bytes, source: "t.csv", labelColumn: label, threads: threads, pieceBytes: pieceBytes)
                #expect(split.features.map(\.bitPattern) == whole.features.map(\.bitPattern), "trial \(trial)")
                #expect(split.labels.map(\.bitPattern) == whole.labels.map(\.bitPattern), "trial \(trial)")
                #expect(split.lineNumbers == whole.lineNumbers)
                #expect(split == whole)
            }
            // And the one-piece result is what Double(String) gives, field by field.
            // ("\r\n" is one Character in Swift, so it is replaced before splitting.)
            let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n")
            let labelIndex = label.map { Int($0.dropFirst())! } ?? (whole.featureCount)
            var labels: [Double] = [], features: [Double] = []
            for line in lines.dropFirst() {
                for (column, field) in line.split(separator: ",").enumerated() {
                    if column == labelIndex { labels.append(Double(field)!) } else { features.append(Double(field)!) }
                }
            }
            #expect(whole.labels.map(\.bitPattern) == labels.map(\.bitPattern))
            #expect(whole.features.map(\.bitPattern) == features.map(\.bitPattern))
        }
    }

    @Test("the first error in file order wins, whichever piece or thread finds it")
    func firstErrorInFileOrder() throws {
        var random = SplitMix64(seed: 12)
        let faults = ["x", "", "1,2", "0x1", "nan", "1e999", "1 "]
        for trial in 0..<60 {
            let (text, label) = Self.randomCSV(&random, rows: 50 + Int(random.next() % 200))
            var lines = text.utf8.split(separator: 10, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            // Two faults: the earlier one is the error, the later one must never be reported.
            let first = 1 + Int(random.next() % UInt64(lines.count - 2))
            let second = first + 1 + Int(random.next() % UInt64(lines.count - first - 1))
            for line in [first, second] {
                var fields = lines[line].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                if random.next() % 5 == 0 {
                    lines[line] = ""
                } else {
                    fields[Int(random.next() % UInt64(fields.count))] = faults[Int(random.next() % 7)]
                    lines[line] = fields.joined(separator: ",")
                }
            }
            let bytes = Array(lines.joined(separator: "\n").utf8)
            var messages: Set<String> = []
            for (pieceBytes, threads) in [(1 << 30, 1), (1, 2), (5, 3), (64, 2), (333, 2)] {
                do {
                    _ = try CSVReader.parse(
                        bytes: bytes, source: "t.csv", labelColumn: label, threads: threads, pieceBytes: pieceBytes)
                    Issue.record("trial \(trial): no error")
                } catch {
                    messages.insert(error.description)
                }
            }
            #expect(messages.count == 1, "trial \(trial): \(messages)")
            #expect(messages.first?.hasPrefix("t.csv:\(first + 1):") == true, "trial \(trial): \(messages)")
        }
    }

    @Test("blank lines at the end are the end of the data whatever the pieces; blank lines inside are errors")
    func trailingBlankLinesAcrossPieces() throws {
        let text = Array("a,b\n1,2\n3,4\n\n\r\n\n".utf8)
        for pieceBytes in [1, 2, 3, 4, 100] {
            let dataset = try CSVReader.parse(bytes: text, source: "t.csv", threads: 2, pieceBytes: pieceBytes)
            #expect(dataset.labels == [2, 4])
        }
        let inside = Array("a,b\n1,2\n\n3,4\n".utf8)
        for pieceBytes in [1, 2, 3, 100] {
            #expect(throws: DataError.wrongFieldCount(path: "t.csv", line: 3, expected: 2, found: 0)) {
                try CSVReader.parse(bytes: inside, source: "t.csv", threads: 2, pieceBytes: pieceBytes)
            }
        }
    }

    @Test("a file read in pieces from disk equals the same bytes parsed in memory")
    func fileAndMemoryAgree() throws {
        var random = SplitMix64(seed: 13)
        let (text, label) = Self.randomCSV(&random, rows: 2_000)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pieces-\(UUID().uuidString).csv")
        try text.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let fromFile = try CSVReader.read(path: url.path, labelColumn: label, threads: 2)
        let inMemory = try CSVReader.parse(text: text, source: url.path, labelColumn: label)
        #expect(fromFile == inMemory)
        #expect(fromFile.rowCount == 2_000)
    }
}
