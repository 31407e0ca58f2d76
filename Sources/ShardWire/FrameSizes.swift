/// Exact encoded sizes of the two messages of every round, from the layouts in `Message` and `FrameHeader`
/// (no message needs to be built to know them; `WireCodec` encodes to exactly these sizes).
extension WireCodec {
    /// Bytes of a PARAMS frame with `parameterCount` values and `rangeCount` block ranges:
    ///
    ///     header 28 + count 4 + 8·parameterCount + smoothing 8 + batchStep 8 + rangeCount 4 + 8·rangeCount
    public static func paramsFrameBytes(parameterCount: Int, rangeCount: Int) -> Int {
        FrameHeader.size + paramsPayloadBytes(parameterCount: parameterCount, rangeCount: rangeCount)
    }

    /// Bytes of a PARTIALS frame with `nodeCount` tree nodes of `width` sums each:
    ///
    ///     header 28 + computeSeconds 8 + nodeCount 4 + width 4 + nodeCount · (level 1 + index 4 + rowCount 8 + 8·width)
    public static func partialsFrameBytes(nodeCount: Int, width: Int) -> Int {
        FrameHeader.size + partialsPayloadBytes(nodeCount: nodeCount, width: width)
    }

    static func paramsPayloadBytes(parameterCount: Int, rangeCount: Int) -> Int {
        4 + 8 * parameterCount + 8 + 8 + 4 + 8 * rangeCount
    }

    static func partialsPayloadBytes(nodeCount: Int, width: Int) -> Int {
        8 + 4 + 4 + nodeCount * (nodeHeaderSize + 8 * width)
    }
}
