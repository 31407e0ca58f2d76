import Foundation
import ShardData
import Synchronization
import Testing
import _TestSupport

/// Counts the readers' questions and answers "stop" from the `stopAt`-th on (never when nil).
private final class CancellationProbe: Sendable {
    let asked = Atomic<Int>(0)
    let stopAt: Int?

    init(stopAt: Int?) { self.stopAt = stopAt }

    var cancellation: ReadCancellation {
        ReadCancellation { [self] in
            let count = asked.add(1, ordering: .relaxed).newValue
            return stopAt.map { count >= $0 } ?? false
        }
    }
}

/// Readers stop between pieces of work once cancellation is requested (a Ctrl-C while a large file loads).
extension ShardDataSuite {
    /// `rows` lines of two features and a label.
    private static func csv(rows: Int) -> [UInt8] {
        Array(("a,b,label\n" + (0..<rows).map { "\($0),\($0 % 7).5,\($0 % 2)\n" }.joined()).utf8)
    }

    @Test("the CSV reader asks before each piece and stops in the wave of the first yes")
    func csvReadStopsInTheWaveWhereCancellationIsAsked() throws {
        let bytes = Self.csv(rows: 2000)
        let pieces = (bytes.count - "a,b,label\n".utf8.count + 255) / 256
        let complete = CancellationProbe(stopAt: nil)
        let dataset = try CSVReader.parse(
            bytes: bytes, source: "big.csv", threads: 1, pieceBytes: 256, cancellation: complete.cancellation)
        #expect(dataset.rowCount == 2000)
        #expect(complete.asked.load(ordering: .relaxed) == pieces)
        // One thread: waves of 4 pieces of 256 bytes; "stop" at the 6th piece ends the read after the second wave.
        let stopped = CancellationProbe(stopAt: 6)
        #expect(throws: DataError.interrupted(path: "big.csv")) {
            try CSVReader.parse(bytes: bytes, source: "big.csv", threads: 1, pieceBytes: 256, cancellation: stopped.cancellation)
        }
        #expect(pieces > 8 && stopped.asked.load(ordering: .relaxed) == 8)
        #expect(DataError.interrupted(path: "big.csv").description == "big.csv: reading was interrupted")
    }

    @Test("the .npy reader stops once cancellation is requested, and reads everything when it never is")
    func numpyReadStopsWhenCancelled() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // 40 000 rows × 3 float64 columns (the last one the label): several chunks of rows.
        let rows = 40_000
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (\(rows), 3), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var file = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        file.append(Data(header.utf8))
        for row in 0..<rows {
            for value in [Double(row), 0.5, Double(row % 2)] {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { file.append(contentsOf: $0) }
            }
        }
        let path = directory.path("x.npy")
        try file.write(to: URL(fileURLWithPath: path))
        let complete = CancellationProbe(stopAt: nil)
        let dataset = try NumpyReader.read(path: path, cancellation: complete.cancellation)
        #expect(dataset.rowCount == rows && dataset.labels[1] == 1)
        #expect(complete.asked.load(ordering: .relaxed) > 2)
        for stopAt in [1, 2] {
            let stopped = CancellationProbe(stopAt: stopAt)
            #expect(throws: DataError.interrupted(path: path)) {
                try NumpyReader.read(path: path, cancellation: stopped.cancellation)
            }
        }
    }
}
