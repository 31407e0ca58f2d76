import CZlib
import ShardNumerics

/// gzip input (RFC 1952), decompressed with zlib into memory before it is parsed.
///
/// ```text
/// detected   by the magic bytes 1f 8b at offset 0 (not by the name)
/// members    several gzip members one after another (cat a.gz b.gz, pigz, bgzip) are read as one text
/// memory     the whole decompressed text, held while the file is parsed (on top of the dataset); checked
///            against the available memory each time the buffer grows (`tooLarge`)
/// refused    a truncated or corrupt stream (`invalidGzip`, with zlib's message)
/// ```
public enum Gzip {
    /// Compressed bytes read per call.
    static let inputChunk = 1 << 20

    /// Whether `source` starts with the gzip magic bytes.
    static func isCompressed(_ source: some ByteSource) throws(DataError) -> Bool {
        try source.bytes(at: 0, count: 2) == [0x1F, 0x8B]
    }

    /// Whether `bytes` start with the gzip magic bytes.
    public static func isCompressed(_ bytes: [UInt8]) -> Bool { bytes.starts(with: [0x1F, 0x8B]) }

    /// The decompressed bytes of `compressed` (`source` names them in messages).
    public static func decompress(
        _ compressed: [UInt8], source: String, memory: MachineMemory = .current()
    ) throws(DataError) -> [UInt8] {
        try decompress(ByteArray(name: source, bytes: compressed), memory: memory)
    }

    /// The decompressed bytes of `source`; `cancellation` is asked before each megabyte of input.
    static func decompress(
        _ source: some ByteSource, cancellation: ReadCancellation = .never, memory: MachineMemory = .current()
    ) throws(DataError) -> [UInt8] {
        var stream = z_stream()
        guard shardtrain_inflate_init_gzip(&stream) == Z_OK else {
            throw .invalidGzip(path: source.name, detail: "zlib could not start decompressing")
        }
        defer { inflateEnd(&stream) }
        let input = UnsafeMutableRawBufferPointer.allocate(byteCount: inputChunk, alignment: 16)
        defer { input.deallocate() }
        let initial = max(1 << 16, min(source.size * 4, 64 << 20))
        if let shortfall = memory.shortfall(needing: initial) {
            throw .tooLarge(source: source.name, detail: "decompressing into memory \(shortfall)")
        }
        var output = [UInt8](repeating: 0, count: initial)
        var produced = 0
        var consumed = 0
        var status = Z_OK
        while true {
            try cancellation.check(reading: source.name)
            let count = try source.read(into: input, at: consumed)
            if count == 0 {
                guard status == Z_STREAM_END else {
                    throw .invalidGzip(path: source.name, detail: "the gzip data is truncated (it ends inside a member)")
                }
                break
            }
            stream.next_in = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
            stream.avail_in = UInt32(count)
            while stream.avail_in > 0 {
                if status == Z_STREAM_END {
                    // Another member follows.
                    guard inflateReset(&stream) == Z_OK else {
                        throw .invalidGzip(path: source.name, detail: "zlib could not start the next gzip member")
                    }
                }
                if produced == output.count {
                    let larger = output.count * 2
                    if let shortfall = memory.shortfall(needing: larger) {
                        throw .tooLarge(
                            source: source.name,
                            detail: "decompressed into memory: more than \(MachineMemory.describe(bytes: output.count)) "
                                + "of text, growing to \(MachineMemory.describe(bytes: larger)) \(shortfall)")
                    }
                    output += [UInt8](repeating: 0, count: larger - output.count)
                }
                status = output.withUnsafeMutableBufferPointer { buffer in
                    stream.next_out = buffer.baseAddress! + produced
                    stream.avail_out = UInt32(min(buffer.count - produced, Int(UInt32.max)))
                    let before = Int(stream.avail_out)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    produced += before - Int(stream.avail_out)
                    return status
                }
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                    let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw .invalidGzip(
                        path: source.name,
                        detail: "the gzip data is corrupt near compressed byte \(consumed + count - Int(stream.avail_in)): \(reason)")
                }
            }
            consumed += count
        }
        output.removeSubrange(produced...)
        return output
    }
}
