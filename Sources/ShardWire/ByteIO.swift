/// Writes little-endian fields into a buffer whose size was computed beforehand.
///
/// Offsets are unaligned in general (a u8 precision byte precedes the values), so scalars go through
/// `storeBytes`, which allows any alignment, and value arrays through one `copyMemory` each.
struct ByteWriter {
    let buffer: UnsafeMutableRawBufferPointer
    private(set) var offset = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        self.buffer = buffer
    }

    mutating func write<T: FixedWidthInteger>(_ value: T) {
        buffer.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
    }

    mutating func write(_ value: Double) {
        write(value.bitPattern)
    }

    mutating func write(raw bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + bytes.count]).copyMemory(from: bytes)
        offset += bytes.count
    }

    /// Writes the values' IEEE-754 bit patterns in little-endian order: a single memory copy on a
    /// little-endian host.
    mutating func write<T: WireFloat>(values: [T]) {
        values.withUnsafeBufferPointer { write(values: $0) }
    }

    mutating func write<T: WireFloat>(values: UnsafeBufferPointer<T>) {
        #if _endian(little)
        write(raw: UnsafeRawBufferPointer(values))
        #else
        for value in values { write(value.bitPattern) }
        #endif
    }

    /// Writes a u32 byte count then the UTF-8 bytes (`length` was validated by the caller).
    mutating func write(string: String) {
        var string = string
        string.withUTF8 { utf8 in
            write(UInt32(truncatingIfNeeded: utf8.count))
            write(raw: UnsafeRawBufferPointer(utf8))
        }
    }
}

/// Reads little-endian fields from a buffer, checking before every read that the bytes are there.
///
/// Field names are autoclosures: they are only built when a read fails.
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    private(set) var offset: Int

    init(_ buffer: UnsafeRawBufferPointer, offset: Int = 0) {
        self.buffer = buffer
        self.offset = offset
    }

    var remaining: Int { buffer.count - offset }

    /// Fails unless `count` more bytes are available.
    func require(_ count: Int, for field: @autoclosure () -> String) throws(WireError) {
        guard count <= remaining else {
            throw .truncated(field: field(), needed: count, available: remaining)
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws(WireError) -> T {
        try require(MemoryLayout<T>.size, for: field())
        let value = T(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return value
    }

    mutating func readDouble(_ field: @autoclosure () -> String) throws(WireError) -> Double {
        Double(bitPattern: try read(UInt64.self, field()))
    }

    mutating func readRaw(count: Int, _ field: @autoclosure () -> String) throws(WireError) -> UnsafeRawBufferPointer {
        try require(count, for: field())
        let slice = UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + count])
        offset += count
        return slice
    }

    /// Reads `count` values of `T`; `count` comes from the wire, so the byte size is checked against the
    /// remaining bytes (with overflow detection) before anything is allocated.
    mutating func readValues<T: WireFloat>(
        _: T.Type, count: UInt64, _ field: @autoclosure () -> String
    ) throws(WireError) -> [T] {
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: UInt64(MemoryLayout<T>.size))
        guard !overflow, byteCount <= UInt64(remaining) else {
            throw .truncated(
                field: "\(field()) (\(count) values of \(MemoryLayout<T>.size) bytes)",
                needed: overflow || byteCount > UInt64(Int.max) ? Int.max : Int(byteCount), available: remaining)
        }
        let raw = try readRaw(count: Int(byteCount), field())
        let elementCount = Int(count)
        #if _endian(little)
        return [T](unsafeUninitializedCapacity: elementCount) { storage, initialized in
            UnsafeMutableRawBufferPointer(storage).copyMemory(from: raw)
            initialized = elementCount
        }
        #else
        return (0..<elementCount).map { index in
            T(bitPattern: T.BitPattern(
                littleEndian: raw.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.BitPattern.self)))
        }
        #endif
    }

    /// Reads a u32 byte count and that many bytes of UTF-8, rejecting lengths above `limit` and invalid
    /// UTF-8.
    mutating func readString(limit: Int, _ field: @autoclosure () -> String) throws(WireError) -> String {
        let length = Int(try read(UInt32.self, "\(field()) length"))
        guard length <= limit else {
            throw .stringTooLong(field: field(), bytes: length, limit: limit)
        }
        let bytes = try readRaw(count: length, field())
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw .invalidUTF8(field: field())
        }
        return string
    }
}

/// The two value types blocks are stored in, with their IEEE-754 bit patterns.
protocol WireFloat: BinaryFloatingPoint {
    associatedtype BitPattern: FixedWidthInteger
    init(bitPattern: BitPattern)
    var bitPattern: BitPattern { get }
}

extension Float: WireFloat {}
extension Double: WireFloat {}
