import Foundation
import ShardData
import ShardNumerics
import Testing

/// Sizes read from files (rows × columns, classes) and from job specs (blocks), checked with overflow-checked
/// arithmetic and against the machine's memory before anything is allocated.
@Suite("Sizes from files checked before they are allocated")
struct SizeLimitsTests {
    static func memory(_ bytes: Int) -> MachineMemory { MachineMemory(availableBytes: bytes, source: "test") }

    /// A version-1 `.npy` file with `header` (the dict) and `data`, in a fresh temporary file.
    static func numpyFile(header: String, data: [UInt8]) throws -> String {
        var text = header
        while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
        text += "\n"
        let bytes: [UInt8] =
            [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(text.utf8.count & 0xFF), UInt8(text.utf8.count >> 8)]
            + Array(text.utf8) + data
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("shard-size-\(UUID().uuidString).npy").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        return path
    }

    @Test("a .npy shape whose byte count overflows Int is refused from the header (was a trap)")
    func numpyShapeOverflow() throws {
        let path = try Self.numpyFile(
            header: "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", data: [])
        defer { unlink(path) }
        #expect(
            throws: DataError.invalidNumpy(
                path: path, detail: "shape (4611686018427387904, 4) of <f8 needs more than 9223372036854775807 bytes of data")
        ) {
            try NumpyReader.read(path: path)
        }
    }

    @Test("a .npy whose rows × columns as float64 exceed the memory is refused before any value is converted")
    func numpyBeyondMemory() throws {
        // 3 rows × 4 columns of uint8 (12 bytes on disk) become 3 × (3 features + label) × 8 = 96 bytes.
        let path = try Self.numpyFile(
            header: "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 4), }", data: Array(0..<12))
        defer { unlink(path) }
        #expect(
            throws: DataError.tooLarge(
                source: path,
                detail: "3 rows × 3 features read as float64 (the label too) needs 96 B, this machine has 95 B available (test)")
        ) {
            try NumpyReader.read(path: path, memory: Self.memory(95))
        }
        #expect(try NumpyReader.read(path: path, memory: Self.memory(96)).rowCount == 3)
    }

    @Test("a CSV whose estimated rows × columns exceed the memory stops after the first wave of pieces")
    func csvBeyondMemory() throws {
        // 1000 rows of "1,2,3\n" (6 bytes): all in the first wave, so the estimate is exact: 1000 × 3 × 8 bytes.
        let text = "a,b,label\n" + String(repeating: "1,2,3\n", count: 1000)
        #expect(
            throws: DataError.tooLarge(
                source: "t.csv",
                detail: "about 1000 rows × 3 columns (estimated from the first 1000 rows) read as float64 needs 24.0 kB, "
                    + "this machine has 20.0 kB available (test)")
        ) {
            try CSVReader.parse(bytes: Array(text.utf8), source: "t.csv", memory: Self.memory(20_000))
        }
        #expect(try CSVReader.parse(bytes: Array(text.utf8), source: "t.csv", memory: Self.memory(24_000)).rowCount == 1000)
        // Small pieces: the estimate comes from the first wave (4 pieces of 600 bytes: 400 rows) and extrapolates.
        #expect(throws: DataError.self) {
            try CSVReader.parse(bytes: Array(text.utf8), source: "t.csv", pieceBytes: 600, memory: Self.memory(23_000))
        }
    }

    @Test("class labels whose count (largest + 1) cannot be counted in memory are refused, naming the file")
    func classCountBeyondMemory() throws {
        let dataset = try CSVReader.parse(text: "a,label\n1,0\n2,5\n", source: "c.csv")
        #expect(try dataset.classCount(memory: Self.memory(48)) == 6)
        #expect(
            throws: DataError.tooLarge(
                source: "c.csv",
                detail: "6 classes (labels are class indices 0…K−1): counting the rows of each needs 48 B, this machine "
                    + "has 47 B available (test)")
        ) {
            try dataset.classCount(memory: Self.memory(47))
        }
    }

    @Test("a block plan of more blocks than 32-bit ids can name is refused (a job spec could ask for one)")
    func blockPlanLimit() throws {
        #expect(try BlockPlan(rowCount: Int(UInt32.max), blockRows: 1).blockCount == Int(UInt32.max))
        #expect(
            throws: DataError.tooLarge(
                source: "block plan",
                detail: "9223372036854775807 rows in blocks of 1 make 9223372036854775807 blocks, more than 4294967295 "
                    + "(block ids are 32-bit numbers between processes)")
        ) {
            try BlockPlan(rowCount: .max, blockRows: 1)
        }
        #expect(throws: DataError.self) {
            try JSONDecoder().decode(BlockPlan.self, from: Data(#"{"rowCount": 4294967296, "blockRows": 1}"#.utf8))
        }
    }

    @Test("a plan's per-block bookkeeping is checked against the memory (decoding checks this machine's)")
    func blockPlanBookkeeping() throws {
        let plan = try BlockPlan(rowCount: 1000, blockRows: 10)
        try plan.checkBookkeeping(memory: Self.memory(900))
        #expect(
            throws: DataError.tooLarge(
                source: "block plan",
                detail: "100 blocks of 10 rows: their bookkeeping (9 bytes per block) needs 900 B, this machine has 899 B "
                    + "available (test)")
        ) {
            try plan.checkBookkeeping(memory: Self.memory(899))
        }
        let decoded = try JSONDecoder().decode(BlockPlan.self, from: Data(#"{"rowCount": 1000, "blockRows": 10}"#.utf8))
        #expect(decoded == plan)
    }
}
