import Foundation
import ShardData
import Testing

/// `.npy` input, against fixtures written by NumPy (`scripts/make_npy_fixtures.py`).
extension ShardDataSuite {
    private static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
    }

    private static let x: [Double] = [0.5, -1.25, 3.0, 2.0, 0.125, -4.5, 1.0, 1.0, 1.0, -0.375, 7.0, 2.25]

    @Test("float64 and float32 arrays with a labels file (int64, float32 column, bool) read as NumPy wrote them")
    func numpyWithLabelsFile() throws {
        for (data, labels) in [("X_f8.npy", "y_i8.npy"), ("X_f4.npy", "y_f4_column.npy"), ("X_f8.npy", "y_b1.npy")] {
            let dataset = try NumpyReader.read(path: Self.fixture(data), labelsPath: Self.fixture(labels))
            #expect(dataset.rowCount == 4)
            #expect(dataset.featureNames == ["f0", "f1", "f2"])
            #expect(dataset.labelName == "label")
            #expect(Array(dataset.features) == Self.x)
            #expect(dataset.labels == [0, 1, 1, 0])
            #expect(dataset.lineNumbers == [1, 2, 3, 4])
            #expect(dataset.labelColumnNumber == 4)
        }
    }

    @Test("without a labels file the last column is the label")
    func numpyLabelInLastColumn() throws {
        let dataset = try NumpyReader.read(path: Self.fixture("Xy_f8.npy"))
        #expect(dataset.featureCount == 3)
        #expect(Array(dataset.features) == Self.x)
        #expect(dataset.labels == [0, 1, 1, 0])
    }

    @Test(arguments: [
        ("X_fortran.npy", nil, "Fortran (column-major) order"),
        ("X_big_endian.npy", nil, "big-endian (>f8)"),
        ("X_object.npy", nil, "Python objects (|O)"),
        ("X_3d.npy", nil, "expected a 2-D array (rows × columns), the shape is (2, 2, 2)"),
        ("X_truncated.npy", nil, "the file is truncated: shape (4, 3) of <f8 needs 96 bytes of data, the file has 87"),
        ("X_bad_magic.npy", nil, "not a .npy file"),
        ("X_f8.npy", "y_short.npy", "the labels have shape (3,); expected (4,) or (4, 1)"),
        ("X_f8.npy", "X_f8.npy", "the labels have shape (4, 3)"),
        ("X_nan.npy", nil, "X_nan.npy: row 2, column 1 (\"f0\"): \"nan\" is not finite (a .npy holds numbers only"),
    ] as [(String, String?, String)])
    func numpyErrorsNameTheFile(data: String, labels: String?, message: String) {
        do {
            _ = try NumpyReader.read(path: Self.fixture(data), labelsPath: labels.map(Self.fixture))
            Issue.record("\(data): no error")
        } catch {
            let file = Self.fixture(labels != nil && !message.contains(data) ? labels! : data)
            #expect(error.description.hasPrefix(file), "\(error)")
            #expect(error.description.contains(message), "\(error)")
        }
    }

    /// Found by `scripts/fuzz.sh npy`: the message of an unsupported version read the unmapped file (SIGSEGV).
    @Test("an unsupported format version is named, major and minor")
    func numpyUnsupportedVersion() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture("X_f8.npy"))))
        bytes[6] = 0xFE
        bytes[7] = 7
        try Self.expectNumpyError(bytes, "unsupported .npy format version 254.7")
    }

    /// 2^62 · 4 · 8 bytes overflowed `Int` while checking the file's size (a trap before the fix).
    @Test("a shape whose byte count overflows is refused, naming the shape")
    func numpyOverflowingShape() throws {
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        let bytes = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
            + [UInt8](repeating: 0, count: 64)
        try Self.expectNumpyError(
            bytes,
            "shape (4611686018427387904, 4) of <f8 needs more than 9223372036854775807 bytes of data")
    }

    /// Writes `bytes` to a temporary `.npy` file and expects reading it to fail with `detail`.
    private static func expectNumpyError(_ bytes: [UInt8], _ detail: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("x.npy").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: DataError.invalidNumpy(path: path, detail: detail)) { try NumpyReader.read(path: path) }
    }

    @Test func numpyMissingFileNamesPathAndReason() {
        #expect(throws: DataError.fileUnreadable(path: "/nonexistent/x.npy", reason: "No such file or directory")) {
            try NumpyReader.read(path: "/nonexistent/x.npy")
        }
    }
}
