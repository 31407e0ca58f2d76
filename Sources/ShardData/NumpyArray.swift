#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import ShardNumerics

/// A NumPy `.npy` file (format versions 1–3), read with `pread` (immutable after `open`, so safe to read from
/// several threads). Reading, not mapping: a file that shrinks while it is read is a short read, named as such,
/// where a mapping would end the process with SIGBUS.
///
/// ```text
/// bytes   "\x93NUMPY" major minor, header length (2 bytes LE in v1, 4 in v2/v3), header, data
/// header  a Python dict literal: {'descr': '<f8', 'fortran_order': False, 'shape': (n, d), }
/// data    n·d little-endian values in C (row-major) order, at the end of the padded header
/// ```
///
/// Accepted element types: `<f8`, `<f4`, `|u1`, `|i1`, `<i4`, `<i8`, `|b1` (read as `Double`; integers beyond 2^53
/// round; booleans as 0 and 1). Big-endian, object, Fortran-order and any other arrays are refused with the reason.
final class NumpyArray: Sendable {
    enum ElementType: String {
        case float64 = "<f8", float32 = "<f4", uint8 = "|u1", int8 = "|i1", int32 = "<i4", int64 = "<i8"
        /// NumPy's bool: one byte, 0 or 1 (labels saved as `y.astype(bool)`).
        case bool = "|b1"

        var size: Int {
            switch self {
            case .float64, .int64: 8
            case .float32, .int32: 4
            case .uint8, .int8, .bool: 1
            }
        }
    }

    let path: String
    let elementType: ElementType
    let shape: [Int]
    private let file: ByteFile
    private let dataOffset: Int

    var elementCount: Int { shape.reduce(1, *) }

    private init(path: String, elementType: ElementType, shape: [Int], file: ByteFile, dataOffset: Int) {
        self.path = path
        self.elementType = elementType
        self.shape = shape
        self.file = file
        self.dataOffset = dataOffset
    }

    /// Opens the file at `path` and checks its header and size.
    static func open(path: String) throws(DataError) -> NumpyArray {
        func invalid(_ detail: String) -> DataError { .invalidNumpy(path: path, detail: detail) }
        let file = try ByteFile(path: path)
        let size = file.size
        guard size >= 10 else { throw invalid("the file is too short for a .npy header (\(size) bytes)") }
        let prefix = try file.bytes(at: 0, count: 12)
        let prefixBytes = prefix.count
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
        guard prefixBytes >= 10, prefix.prefix(6).elementsEqual(magic) else {
            throw invalid("not a .npy file (the first bytes are not \\x93NUMPY)")
        }
        let major = prefix[6], minor = prefix[7]
        let lengthBytes = major == 1 ? 2 : 4
        guard (1...3).contains(major), size >= 8 + lengthBytes, prefixBytes >= 8 + lengthBytes else {
            throw invalid("unsupported .npy format version \(major).\(minor)")
        }
        let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(prefix[8 + $1]) << (8 * $1) }
        let headerStart = 8 + lengthBytes
        guard headerStart + headerLength <= size else { throw invalid("the file is truncated inside its header") }
        let headerBytes = try file.bytes(at: headerStart, count: headerLength)
        guard headerBytes.count == headerLength else { throw invalid("the file is truncated inside its header") }
        let header = String(decoding: headerBytes, as: UTF8.self)
        let fields = try Self.parseHeader(header, path: path)
        guard let type = ElementType(rawValue: fields.descr) else { throw invalid(Self.unsupportedTypeReason(fields.descr)) }
        guard !fields.fortranOrder else {
            throw invalid("the array is in Fortran (column-major) order; save it with np.ascontiguousarray(x)")
        }
        let dataOffset = headerStart + headerLength
        guard let needed = CheckedSize.product(fields.shape + [type.size]) else {
            throw invalid("shape \(describe(fields.shape)) of \(type.rawValue) needs more than \(Int.max) bytes of data")
        }
        guard size - dataOffset >= needed else {
            throw invalid(
                "the file is truncated: shape \(describe(fields.shape)) of \(type.rawValue) needs \(needed) "
                    + "bytes of data, the file has \(size - dataOffset)")
        }
        return NumpyArray(path: path, elementType: type, shape: fields.shape, file: file, dataOffset: dataOffset)
    }

    /// `(3, 4)` as NumPy writes it.
    static func describe(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    private static func unsupportedTypeReason(_ descr: String) -> String {
        if descr.hasPrefix(">") { return "the array is big-endian (\(descr)); save it as little-endian: x.astype(x.dtype.newbyteorder('<'))" }
        if descr.contains("O") { return "the array holds Python objects (\(descr)); save a numeric array (float32 or float64)" }
        return "element type \(descr) is not supported (use <f4 or <f8; <i8, <i4, |i1, |u1 and |b1 are read as numbers too)"
    }

    /// Reads `'descr'`, `'fortran_order'` and `'shape'` from the header dict.
    private static func parseHeader(_ header: String, path: String) throws(DataError)
        -> (descr: String, fortranOrder: Bool, shape: [Int])
    {
        func invalid(_ detail: String) -> DataError { .invalidNumpy(path: path, detail: "bad header \(header.trimmingSpaces): \(detail)") }
        func value(of key: String) throws(DataError) -> Substring {
            guard let keyRange = header.firstRange(of: "'\(key)':") else { throw invalid("no '\(key)' entry") }
            return header[keyRange.upperBound...].drop { $0 == " " }
        }
        let descrText = try value(of: "descr")
        guard descrText.first == "'", let close = descrText.dropFirst().firstIndex(of: "'") else {
            throw invalid("'descr' is not a simple type string")
        }
        let descr = String(descrText[descrText.index(after: descrText.startIndex)..<close])
        let orderText = try value(of: "fortran_order")
        let fortranOrder: Bool
        if orderText.hasPrefix("True") {
            fortranOrder = true
        } else if orderText.hasPrefix("False") {
            fortranOrder = false
        } else {
            throw invalid("'fortran_order' is neither True nor False")
        }
        let shapeText = try value(of: "shape")
        guard shapeText.first == "(", let end = shapeText.firstIndex(of: ")") else { throw invalid("'shape' is not a tuple") }
        var shape: [Int] = []
        for part in shapeText[shapeText.index(after: shapeText.startIndex)..<end].split(separator: ",") {
            let trimmed = part.trimmingSpaces
            guard !trimmed.isEmpty else { continue }
            guard let extent = Int(trimmed), extent >= 0 else { throw invalid("'shape' holds \(trimmed)") }
            shape.append(extent)
        }
        return (descr, fortranOrder, shape)
    }

    /// The elements of columns `columns` of every row of a 2-D array (or the only column of a 1-D one), row-major,
    /// as `Double`, in chunks of `chunkRows` rows read and converted on every core. Throws at the first NaN or
    /// infinity in row-major order, naming its 1-based row and column; `.fileChanged` when the file shrank or
    /// changed while it was read; `.interrupted` once `cancellation` is requested (checked before each chunk). With
    /// `arena`, the chunks are pieces of it, handed out in row order.
    func rows(
        columns: Range<Int>, names: [String], chunkRows: Int, cancellation: ReadCancellation = .never,
        arena: SharedArena? = nil
    ) throws(DataError) -> FeatureRows {
        let rows = shape[0], chunkRows = max(1, chunkRows)
        let chunkCount = (rows + chunkRows - 1) / chunkRows
        let pieces = arena.map { arena in
            (0..<chunkCount).map { chunk in
                let count = min(rows, (chunk + 1) * chunkRows) - chunk * chunkRows
                return SharedChunk(arena: arena, values: count * columns.count, labels: count)
            }
        }
        let chunks = try ParallelBlocks.map(count: chunkCount, threads: 0) {
            (chunk) throws(DataError) -> FeatureChunk in
            try cancellation.check(reading: path)
            let first = chunk * chunkRows, end = min(rows, first + chunkRows)
            let values = try self.values(rows: first..<end, columns: columns)
            if let index = values.firstIndex(where: { !$0.isFinite }) {
                let column = index % columns.count
                throw .nonFiniteValue(
                    path: path, line: first + index / columns.count + 1, column: columns.lowerBound + column + 1,
                    columnName: names[column], text: "\(values[index])")
            }
            if let piece = pieces?[chunk], piece.store(values) { return .shared(piece) }
            return .array(values)
        }
        try file.checkUnchanged()
        return FeatureRows(chunks: chunks, rowCount: rows, columns: columns.count, chunkRows: chunkRows, arena: arena)
    }

    /// Columns `columns` of `rows`, row-major, as `Double`: float64 rows of every column read straight into the
    /// result, others read into a buffer and converted. Throws `.fileChanged` on a short read (the file shrank).
    private func values(rows: Range<Int>, columns: Range<Int>) throws(DataError) -> [Double] {
        let width = shape.count == 2 ? shape[1] : 1
        let rowBytes = width * elementType.size
        let offset = dataOffset + rows.lowerBound * rowBytes
        let count = rows.count
        let byteCount = count * rowBytes
        if elementType == .float64, columns.count == width {
            // Stored as the dataset stores them (little-endian hosts).
            var failure: DataError?
            let result = [Double](unsafeUninitializedCapacity: count * width) { buffer, filled in
                do throws(DataError) {
                    let read = try file.read(into: UnsafeMutableRawBufferPointer(buffer), at: offset)
                    if read < byteCount { failure = .fileChanged(path: path) }
                } catch {
                    failure = error
                }
                if failure != nil { buffer.initialize(repeating: 0) }
                filled = count * width
            }
            if let failure { throw failure }
            return result
        }
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, byteCount), alignment: 16)
        defer { raw.deallocate() }
        let read = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<byteCount]), at: offset)
        guard read == byteCount else { throw .fileChanged(path: path) }
        let data = UnsafeRawPointer(raw.baseAddress!)
        return [Double](unsafeUninitializedCapacity: count * columns.count) { buffer, filled in
            let output = buffer.baseAddress!
            switch elementType {
            case .float64: Self.gather(UInt64.self, data, count, width, columns, output) { Double(bitPattern: $0) }
            case .float32: Self.gather(Float.self, data, count, width, columns, output) { Double($0) }
            case .int64: Self.gather(Int64.self, data, count, width, columns, output) { Double($0) }
            case .int32: Self.gather(Int32.self, data, count, width, columns, output) { Double($0) }
            case .uint8: Self.gather(UInt8.self, data, count, width, columns, output) { Double($0) }
            case .bool: Self.gather(UInt8.self, data, count, width, columns, output) { $0 == 0 ? 0 : 1 }
            case .int8: Self.gather(Int8.self, data, count, width, columns, output) { Double($0) }
            }
            filled = count * columns.count
        }
    }

    /// `output[r·C + c] = convert(x[r, columns.lowerBound + c])` for little-endian elements of type `T`.
    @inline(__always)
    private static func gather<T: FixedWidthInteger>(
        _ type: T.Type, _ data: UnsafeRawPointer, _ rows: Int, _ width: Int, _ columns: Range<Int>,
        _ output: UnsafeMutablePointer<Double>, _ convert: (T) -> Double
    ) {
        var out = output
        for row in 0..<rows {
            for column in columns {
                out.pointee = convert(
                    T(littleEndian: data.loadUnaligned(fromByteOffset: (row * width + column) * T.bitWidth / 8, as: T.self)))
                out += 1
            }
        }
    }

    @inline(__always)
    private static func gather(
        _ type: Float.Type, _ data: UnsafeRawPointer, _ rows: Int, _ width: Int, _ columns: Range<Int>,
        _ output: UnsafeMutablePointer<Double>, _ convert: (Float) -> Double
    ) {
        gather(UInt32.self, data, rows, width, columns, output) { convert(Float(bitPattern: $0)) }
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
