import Foundation
import ShardArtifacts
import Testing
import _TestSupport

/// Whether `python3` runs here (the cross-checks against Python's zlib are skipped without it).
enum Python {
    static let isAvailable: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import zlib, struct"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// Runs `python3 -c script arguments…`; returns the exit status and standard output.
    static func run(_ script: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

extension ArtifactsTests {
    @Test("CRC-32 and Adler-32 give the published check values")
    func checksumKnownAnswers() {
        #expect(Checksums.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(Checksums.crc32([]) == 0)
        #expect(Checksums.crc32(Array("IEND".utf8)) == 0xAE42_6082)
        #expect(Checksums.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)
        #expect(Checksums.adler32([]) == 1)
        // Both sums of a 100 000-byte run exceed 65521 many times over (checked with Python's zlib.adler32).
        #expect(Checksums.adler32([UInt8](repeating: 255, count: 100_000)) == 0x149A_302C)
    }

    @Test("a 2×2 image encodes to exactly the expected PNG and PGM bytes")
    func tinyImageBytes() throws {
        let image = try GreyImage(width: 2, height: 2, pixels: [0, 255, 128, 7])
        // Built independently with Python's struct and zlib.crc32/adler32 (stored deflate block).
        let expectedPNG =
            "89504e470d0a1a0a0000000d494844520000000200000002080000000057dd52f800000011494441547801010600f9ff"
            + "0000ff00800705090187074d3b8f0000000049454e44ae426082"
        #expect(image.pngData().map { String(format: "%02x", $0) }.joined() == expectedPNG)
        #expect([UInt8](image.pgmData()) == Array("P5\n2 2\n255\n".utf8) + [0, 255, 128, 7])
    }

    @Test("invalid images and grids are errors, not traps")
    func invalidImages() {
        #expect(throws: ArtifactError.self) { try GreyImage(width: 2, height: 2, pixels: [0, 1, 2]) }
        #expect(throws: ArtifactError.self) { try GreyImage(width: 0, height: 1, pixels: []) }
        #expect(throws: ArtifactError.self) { try GreyImage.grid(cells: [], side: 2) }
        #expect(throws: ArtifactError.self) { try GreyImage.grid(cells: [[0, 1, 0]], side: 2) }
        #expect(throws: ArtifactError.self) { try GreyImage.grid(cells: [[0, .nan, 0, 1]], side: 2) }
        let image = try? GreyImage(width: 1, height: 1, pixels: [0])
        #expect(throws: ArtifactError.self) { try image?.write(to: "/tmp/image.jpg") }
    }

    @Test("grid layout: ⌈√n⌉ columns, scaled cells, 1-pixel grey gaps, values clamped and rounded")
    func gridLayout() throws {
        // Three 2×2 cells → 2 columns × 2 rows of (2·3 + 1)-pixel pitch plus the outer gap: 15 × 15.
        let cells: [[Double]] = [[0, 1, 0.5, 2], [-1, 0.2, 0.8, 1], [1, 1, 1, 1]]
        let image = try GreyImage.grid(cells: cells, side: 2, scale: 3, gap: 1)
        #expect(image.width == 15 && image.height == 15)
        func pixel(_ x: Int, _ y: Int) -> UInt8 { image.pixels[y * image.width + x] }
        #expect(pixel(0, 0) == 128 && pixel(7, 3) == 128 && pixel(3, 7) == 128)
        #expect(pixel(1, 1) == 0 && pixel(3, 1) == 0 && pixel(4, 1) == 255 && pixel(6, 3) == 255)
        #expect(pixel(1, 4) == 128 && pixel(4, 6) == 255)  // 0.5 → 127.5 rounds to 128; 2 clamps to 255
        #expect(pixel(8, 1) == 0 && pixel(11, 1) == 51 && pixel(8, 4) == 204)  // −1 clamps; 0.2·255 = 51
        #expect(pixel(1, 8) == 255 && pixel(12, 12) == 128)  // third cell; the fourth slot stays grey
    }

    @Test("Python's zlib and struct decode a written PNG to the same pixels", .enabled(if: Python.isAvailable))
    func pythonDecodesPNG() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // Wide enough (70 000 bytes of scanlines) to need two stored deflate blocks.
        let width = 350, height = 200
        let pixels = (0..<(width * height)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / width) }
        let image = try GreyImage(width: width, height: height, pixels: pixels)
        let path = directory.path("grid.png")
        try image.write(to: path)
        let script = """
            import struct, sys, zlib
            data = open(sys.argv[1], 'rb').read()
            assert data[:8] == b'\\x89PNG\\r\\n\\x1a\\n'
            pos, chunks = 8, {}
            while pos < len(data):
                (length,) = struct.unpack('>I', data[pos:pos + 4])
                kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
                (crc,) = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])
                assert crc == zlib.crc32(kind + body), kind
                chunks[kind] = chunks.get(kind, b'') + body
                pos += 12 + length
            w, h, depth, colour, _, _, _ = struct.unpack('>IIBBBBB', chunks[b'IHDR'])
            assert (depth, colour) == (8, 0) and chunks[b'IEND'] == b''
            raw = zlib.decompress(chunks[b'IDAT'])
            assert len(raw) == h * (w + 1)
            rows = [raw[y * (w + 1):(y + 1) * (w + 1)] for y in range(h)]
            assert all(r[0] == 0 for r in rows)
            sys.stdout.write('%d %d %s' % (w, h, b''.join(r[1:] for r in rows).hex()))
            """
        let (status, output) = try Python.run(script, [path])
        #expect(status == 0)
        let expected = "\(width) \(height) " + pixels.map { String(format: "%02x", $0) }.joined()
        #expect(output == expected)
    }
}
