import Foundation
import ShardData
import ShardNumerics
import Testing
import _TestSupport

/// The CSV reader's number parsing (fast_float) against Swift's `Double(String)`, the reader it replaced.
extension ShardDataSuite {
    /// The value `Double(String)` gives, or nil where it gives none or a non-finite value.
    private static func reference(_ text: String) -> Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    private static func expectSameAsDouble(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let expected = reference(text)
        switch DecimalField.parse(text) {
        case .number(let value):
            #expect(
                expected?.bitPattern == value.bitPattern, "\(text): \(value) vs Double: \(String(describing: expected))",
                sourceLocation: sourceLocation)
        case let outcome:
            #expect(expected == nil, "\(text): \(outcome) vs Double: \(String(describing: expected))",
                sourceLocation: sourceLocation)
        }
    }

    @Test("every bundled data file reads to the bits Double(String) gives for each field")
    func bundledFilesMatchDoubleParsing() throws {
        for name in ["breast_cancer.csv", "diabetes.csv", "digits.csv", "fraud_synthetic.csv", "iris.csv"] {
            let path = ReferenceData.repositoryRoot.appendingPathComponent("data/\(name)").path
            let dataset = try CSVReader.read(path: path)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n")
            let rows = lines.dropFirst().filter { !$0.isEmpty }
            #expect(rows.count == dataset.rowCount, "\(name)")
            var features: [UInt64] = [], labels: [UInt64] = []
            for row in rows {
                let fields = row.split(separator: ",", omittingEmptySubsequences: false).map { Double(String($0))! }
                features += fields.dropLast().map(\.bitPattern)
                labels.append(fields.last!.bitPattern)
            }
            #expect(features == dataset.features.map(\.bitPattern), "\(name)")
            #expect(labels == dataset.labels.map(\.bitPattern), "\(name)")
        }
    }

    @Test("random doubles written as 17 digits, shortest, %e with many digits read back as Double(String) reads them")
    func randomRoundTrips() {
        var random = SplitMix64(seed: 0x5EED_F1E1D)
        for index in 0..<40_000 {
            // All exponents, subnormals included: random bit patterns, skipping NaN and infinities.
            var value = Double(bitPattern: random.next())
            if !value.isFinite { value = Double(bitPattern: random.next() >> 12) }  // a subnormal
            if index % 4 == 1 { value = Double(bitPattern: random.next() >> 12) }
            if index % 4 == 2 { value = random.nextUniform(-1000, 1000) }
            let texts = [
                String(format: "%.17g", value), "\(value)", String(format: "%.40e", value),
                String(format: "%.16e", value).uppercased(), String(format: "%.3f", value),
            ]
            for text in texts { Self.expectSameAsDouble(text) }
            if case .number(let back) = DecimalField.parse("\(value)") {
                #expect(back.bitPattern == value.bitPattern, "shortest form of \(value) reads back")
            } else {
                Issue.record("\(value) does not read back")
            }
        }
    }

    @Test("long digit strings, halfway cases, signs and exponent edges round exactly as Double(String)")
    func manyDigitsAndEdges() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<3_000 {
            let digitCount = 18 + Int(random.next() % 780)
            let digits = String((0..<digitCount).map { _ in Character(String(random.next() % 10)) })
            let point = Int(random.next() % UInt64(digitCount + 1))
            let exponent = Int(random.next() % 700) - 350
            let body = String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
            for text in [body, "-" + body, body + "e\(exponent)", "+" + body + "E\(exponent)"] {
                Self.expectSameAsDouble(text)
            }
        }
        let edges = [
            "9007199254740993", "9007199254740993.0000000000000000000001", "9007199254740995",
            "2.2250738585072011e-308", "2.2250738585072014e-308", "4.9406564584124654e-324",
            "2.4703282292062327e-324", "2.4703282292062328e-324", "1.7976931348623157e308",
            "1.7976931348623158e308", "1e-400", "-1e-400", "0e999999999", "1e-99999999999", "0.000", "-0",
            "+.5", "5.", "1.e3", "0001", "1.5e0005", "123456789012345678901234567890",
        ]
        for text in edges { Self.expectSameAsDouble(text) }
    }

    @Test("what the reader accepts: the texts Double(String) accepts, minus hexadecimal and NUL bytes")
    func acceptedSyntax() {
        let same = [
            "1", "+1", "-1", " 1", "1 ", "\t1", "", "-", "+", ".", "1e", "1e+", "1_0", "+-1", "-+1", "--1", "++1",
            "1d", "1f", "-.e1", "e5", "١", "1,5", "1.2.3", "0x", "x10",
        ]
        for text in same { Self.expectSameAsDouble(text) }
        #expect(DecimalField.parse("0x10") == .hexadecimal)
        #expect(DecimalField.parse("-0X1p-3") == .hexadecimal)
        #expect(DecimalField.parse("1\u{0}2") == .nulByte)
        #expect(DecimalField.parse("\u{0}") == .nulByte)
        for text in ["nan", "NaN", "-inf", "+inf", "Infinity", "nan(12)", "1e400", "-1.7976931348623159e308"] {
            #expect(DecimalField.parse(text) == .nonFinite, "\(text)")
        }
        // Underflow: the correctly rounded value, ±0 below half the smallest subnormal (as IEEE and Double(String)).
        #expect(DecimalField.parse("1e-400") == .number(0))
        #expect(DecimalField.parse("-1e-400").bitPatternOfNumber == (-0.0).bitPattern)
        #expect(DecimalField.parse("5e-324") == .number(.leastNonzeroMagnitude))
    }

    @Test(arguments: [
        ("a,b,label\n0x10,2,3\n", "t.csv:2: column 1 (\"a\"): \"0x10\" is not a number: hexadecimal numbers are not accepted; write decimals"),
        ("a,b,label\n1,2,3\n1,-0X1p3,3\n", "t.csv:3: column 2 (\"b\"): \"-0X1p3\" is not a number: hexadecimal numbers are not accepted; write decimals"),
        ("a,b,label\n1,2\u{0}5,3\n", "t.csv:2: column 2 (\"b\"): \"2\\05\" is not a number: the field holds a NUL byte (is this a binary or UTF-16 file?)"),
        ("a,b,label\n1,+-2,3\n", "t.csv:2: column 2 (\"b\"): \"+-2\" is not a number"),
        ("a,b,label\n1,2 ,3\n", "t.csv:2: column 2 (\"b\"): \"2 \" is not a number"),
        ("a,b,label\n1,2,3e\n", "t.csv:2: column 3 (\"label\"): \"3e\" is not a number"),
        ("a,b,label\n1,2,+inf\n", "t.csv:2: column 3 (\"label\"): \"+inf\" is not finite (NaN, infinities and values beyond the Double range are not numbers; a missing cell is written empty, NA or NaN: see --missing)"),
        ("a,b,label\n-1.8e308,2,1\n", "t.csv:2: column 1 (\"a\"): \"-1.8e308\" is not finite (NaN, infinities and values beyond the Double range are not numbers; a missing cell is written empty, NA or NaN: see --missing)"),
    ])
    func numberErrorMessages(text: String, message: String) {
        do {
            _ = try CSVReader.parse(text: text, source: "t.csv")
            Issue.record("no error for \(text.debugDescription)")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test("a leading + and an underflowing literal read as Double(String) reads them")
    func plusSignAndUnderflowInFiles() throws {
        let dataset = try CSVReader.parse(text: "a,b,label\n+1.5,1e-400,+0\n-1e-400,4.9e-324,1\n", source: "t.csv")
        #expect(dataset.features.map(\.bitPattern) == [1.5, 0, -0.0, Double.leastNonzeroMagnitude].map(\.bitPattern))
        #expect(dataset.labels == [0, 1])
    }
}

extension DecimalField.Outcome {
    fileprivate var bitPatternOfNumber: UInt64? {
        if case .number(let value) = self { return value.bitPattern }
        return nil
    }
}
