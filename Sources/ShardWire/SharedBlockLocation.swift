import ShardNumerics

/// Where one block lies in a shared-memory region written by the coordinator (see `Message.sharedBlocks`).
///
/// The block's bytes are `rows·columns` feature values (row-major) followed at once by `rows` labels, all in
/// `precision`, little-endian, starting at byte `offset` of the region:
///
///     features  [offset, offset + rows·columns·w)
///     labels    [offset + rows·columns·w, offset + (rows·columns + rows)·w)      w = precision.byteWidth
public struct SharedBlockLocation: Sendable, Equatable {
    public var id: UInt32
    public var rows: UInt32
    public var columns: UInt32
    public var precision: Precision
    public var offset: UInt64

    public init(id: UInt32, rows: UInt32, columns: UInt32, precision: Precision, offset: UInt64) {
        self.id = id
        self.rows = rows
        self.columns = columns
        self.precision = precision
        self.offset = offset
    }

    /// `(rows·columns + rows)·w` bytes, or nil when that does not fit in 64 bits.
    public var byteCount: UInt64? {
        let (features, overflow) = UInt64(rows).multipliedReportingOverflow(by: UInt64(columns))
        let (values, overflow2) = features.addingReportingOverflow(UInt64(rows))
        let (bytes, overflow3) = values.multipliedReportingOverflow(by: UInt64(precision.byteWidth))
        return overflow || overflow2 || overflow3 ? nil : bytes
    }

    /// The byte range `[offset, offset + byteCount)`, or nil when its end does not fit in 64 bits.
    public var byteRange: Range<UInt64>? {
        guard let byteCount else { return nil }
        let (end, overflow) = offset.addingReportingOverflow(byteCount)
        return overflow ? nil : offset..<end
    }
}
