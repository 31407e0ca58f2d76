import FuzzSupport
import ShardWire

/// Any bytes given to the frame decoder (what a ROUTER socket hands the coordinator from any peer) must decode
/// or throw a `WireError`; a frame that decodes must encode back to the same bytes (the format has one spelling).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrame(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let codec = WireCodec()
    guard let frame = try? codec.decode(bytes) else { return 0 }
    let encoded = try? codec.encode(frame)
    precondition(encoded == bytes, "frame \(frame.message.type) does not encode back to its bytes")
    return 0
}

runLibFuzzer()
