import Foundation

/// An 8-bit greyscale image, row-major: `pixels[y * width + x]`, 0 = black, 255 = white.
public struct GreyImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]

    /// Checks `width, height ≥ 1` and `pixels.count == width · height`.
    public init(width: Int, height: Int, pixels: [UInt8]) throws(ArtifactError) {
        guard width >= 1, height >= 1, pixels.count == width * height else {
            throw .format(
                path: "image", reason: "\(pixels.count) pixels for a \(width)×\(height) image (need width, height ≥ 1)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A grid of square cells, each cell one row of `values` shown as a `side × side` picture.
    ///
    ///     cell c sits in grid row c / columns, grid column c % columns,  columns = ⌈√count⌉
    ///     pixel value = round(255 · clamp(v, 0, 1))      (values are Bernoulli means in [0, 1])
    ///     each value becomes a `scale × scale` square; cells are separated (and framed) by `gap`
    ///     pixels of grey 128, so the image is  columns·(side·scale + gap) + gap  pixels wide
    ///
    /// Every row of `cells` must have `side²` finite values; `cells` must not be empty.
    public static func grid(cells: [[Double]], side: Int, scale: Int = 4, gap: Int = 1) throws(ArtifactError)
        -> GreyImage
    {
        guard !cells.isEmpty, side >= 1, scale >= 1, gap >= 0 else {
            throw .format(
                path: "image", reason: "a grid needs at least one cell, side ≥ 1, scale ≥ 1 and gap ≥ 0")
        }
        for (index, cell) in cells.enumerated() {
            guard cell.count == side * side else {
                throw .format(path: "image", reason: "cell \(index) has \(cell.count) values, expected \(side)×\(side)")
            }
            guard cell.allSatisfy(\.isFinite) else {
                throw .format(path: "image", reason: "cell \(index) has a NaN or infinite value")
            }
        }
        var columns = 1
        while columns * columns < cells.count { columns += 1 }
        let rows = (cells.count + columns - 1) / columns
        let pitch = side * scale + gap
        let width = columns * pitch + gap
        let height = rows * pitch + gap
        var pixels = [UInt8](repeating: 128, count: width * height)
        for (index, cell) in cells.enumerated() {
            let left = gap + (index % columns) * pitch
            let top = gap + (index / columns) * pitch
            for y in 0..<(side * scale) {
                for x in 0..<(side * scale) {
                    let value = cell[(y / scale) * side + x / scale]
                    pixels[(top + y) * width + left + x] = UInt8((255 * min(max(value, 0), 1)).rounded())
                }
            }
        }
        return try GreyImage(width: width, height: height, pixels: pixels)
    }

    /// Binary PGM (netpbm P5): the ASCII header `P5\n<width> <height>\n255\n`, then the pixels, one byte each.
    public func pgmData() -> Data {
        var data = Data("P5\n\(width) \(height)\n255\n".utf8)
        data.append(contentsOf: pixels)
        return data
    }

    /// PNG, greyscale 8-bit, no interlacing (PNG spec, ISO/IEC 15948):
    ///
    ///     signature  89 50 4E 47 0D 0A 1A 0A
    ///     chunk      length (u32 BE) · type (4 ASCII) · data · CRC-32(type ‖ data) (u32 BE)
    ///     IHDR       width, height (u32 BE), bit depth 8, colour type 0, compression 0, filter 0, interlace 0
    ///     IDAT       zlib stream of the scanlines, each prefixed by filter type 0 (none)
    ///     IEND       empty
    ///
    /// The zlib stream (RFC 1950) is `78 01`, then the data in stored (uncompressed) deflate blocks of at
    /// most 65535 bytes (RFC 1951 §3.2.4: header byte BFINAL | BTYPE=00 << 1, LEN and NLEN = ~LEN as u16 LE),
    /// then Adler-32 of the uncompressed data (u32 BE).
    public func pngData() -> Data {
        var scanlines: [UInt8] = []
        scanlines.reserveCapacity(height * (width + 1))
        for y in 0..<height {
            scanlines.append(0)
            scanlines += pixels[(y * width)..<((y + 1) * width)]
        }
        var header: [UInt8] = []
        header += Self.bigEndian(UInt32(width))
        header += Self.bigEndian(UInt32(height))
        header += [8, 0, 0, 0, 0]
        var data = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        data.append(contentsOf: Self.chunk("IHDR", header))
        data.append(contentsOf: Self.chunk("IDAT", Self.zlibStored(scanlines)))
        data.append(contentsOf: Self.chunk("IEND", []))
        return data
    }

    /// Writes `.png` as PNG and `.pgm` as PGM (atomically); any other extension is an error.
    public func write(to path: String) throws(ArtifactError) {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "png": try AtomicFile.write(pngData(), to: path)
        case "pgm": try AtomicFile.write(pgmData(), to: path)
        default: throw .format(path: path, reason: "the image format is chosen by the extension: use .png or .pgm")
        }
    }

    static func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        return bigEndian(UInt32(body.count)) + typed + bigEndian(Checksums.crc32(typed))
    }

    static func zlibStored(_ bytes: [UInt8]) -> [UInt8] {
        var stream: [UInt8] = [0x78, 0x01]
        var start = 0
        repeat {
            let length = min(65_535, bytes.count - start)
            let isFinal = start + length == bytes.count
            stream.append(isFinal ? 1 : 0)
            stream += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            stream += bytes[start..<(start + length)]
            start += length
        } while start < bytes.count
        return stream + bigEndian(Checksums.adler32(bytes))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}

/// The two checksums of PNG files.
public enum Checksums {
    /// CRC-32 of ISO-HDLC / PNG / zlib: reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF.
    ///
    ///     crc ← 0xFFFFFFFF;  for each byte b: crc ← table[(crc ^ b) & 0xFF] ^ (crc >> 8);  return ~crc
    ///     table[n] = n shifted right 8 times, xoring 0xEDB88320 whenever the bit shifted out is 1
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }

    private static let crcTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    /// Adler-32 (RFC 1950): `a = 1 + Σ bytes`, `b = Σ (running a)`, both mod 65521; result `b << 16 | a`.
    public static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return b << 16 | a
    }
}
