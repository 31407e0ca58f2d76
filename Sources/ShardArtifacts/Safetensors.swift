import Foundation
import ShardData

/// Reads and writes the safetensors format, so NumPy and PyTorch users can load our models.
///
/// Layout (https://huggingface.co/docs/safetensors):
///
///     [8 bytes]  N = header length, unsigned little-endian 64-bit
///     [N bytes]  UTF-8 JSON: { "__metadata__": {string: string},
///                              "<tensor>": {"dtype": "F64", "shape": [..], "data_offsets": [begin, end]}, … }
///     [rest]     tensor bytes, little-endian, row-major; offsets are relative to the start of this part
///
/// We write float64 (`F64`) tensors only, back to back in layout order, and pad the header with spaces to a
/// multiple of 8 bytes so the data is aligned.
public struct SafetensorsFile: Sendable, Equatable {
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var values: [Double]

        public init(name: String, shape: [Int], values: [Double]) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    public var tensors: [Tensor]
    public var metadata: [String: String]

    public init(tensors: [Tensor], metadata: [String: String]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public func encoded() throws(ArtifactError) -> Data {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for tensor in tensors {
            guard tensor.shape.reduce(1, *) == tensor.values.count else {
                throw .format(
                    path: "safetensors", reason: "tensor \(tensor.name): shape \(tensor.shape) vs \(tensor.values.count) values")
            }
            let end = offset + tensor.values.count * 8
            header[tensor.name] = ["dtype": "F64", "shape": tensor.shape, "data_offsets": [offset, end]]
            offset = end
        }
        var headerBytes: Data
        do {
            headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        } catch {
            throw .format(path: "safetensors", reason: "cannot encode header: \(error)")
        }
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var data = Data()
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(headerBytes)
        for tensor in tensors {
            for value in tensor.values {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    public func write(to path: String) throws(ArtifactError) {
        try AtomicFile.write(try encoded(), to: path)
    }

    /// Parses a file written by any safetensors writer, as long as its tensors are `F64`.
    /// Reads with ShardData's POSIX reader (a regular file only; failures give the system's reason), not
    /// `FileManager.contents(atPath:)`, which leaks 4 KiB per call in Swift 6.3.1's Foundation on Linux.
    public static func read(from path: String) throws(ArtifactError) -> SafetensorsFile {
        let bytes: [UInt8]
        do {
            bytes = try DataFile.bytes(path: path)
        } catch {
            guard case .fileUnreadable(_, let reason) = error else { throw .io(path: path, reason: error.description) }
            throw .io(path: path, reason: "cannot read the file: \(reason)")
        }
        return try decode(Data(bytes), path: path)
    }

    public static func decode(_ data: Data, path: String) throws(ArtifactError) -> SafetensorsFile {
        let bytes = [UInt8](data)
        let notSafetensors = "not a safetensors model file (a file written by `train --save` starts with an 8-byte "
            + "header length and a JSON header)"
        guard bytes.count >= 8 else { throw .format(path: path, reason: "\(notSafetensors); it has \(bytes.count) bytes") }
        var headerLength: UInt64 = 0
        for k in 0..<8 { headerLength |= UInt64(bytes[k]) << (8 * UInt64(k)) }
        guard headerLength <= UInt64(bytes.count - 8), bytes.count > 8, bytes[8] == UInt8(ascii: "{") else {
            // The files users mistake for models (only once the file is not a model: a header length may start with
            // the byte of "{").
            let start = String(decoding: bytes.prefix(32), as: UTF8.self)
            if start.hasPrefix("shardtrain-checkpoint") {
                throw .format(
                    path: path,
                    reason: "a checkpoint (of train --checkpoint), not a model file: continue its run with train --resume "
                        + "FOLDER, or use the model file of train --save")
            }
            if start.hasPrefix("{") {
                throw .format(path: path, reason: "\(notSafetensors); this is JSON (a summary of --summary-json?), not a model")
            }
            if bytes.count > 8, bytes[8] == UInt8(ascii: "{"), headerLength < 1 << 32 {
                throw .format(
                    path: path,
                    reason: "the model file is truncated: its header alone needs \(headerLength) bytes after the length, "
                        + "the file has \(bytes.count - 8) (copied or written only in part?)")
            }
            throw .format(path: path, reason: "\(notSafetensors); its header length would be \(headerLength) bytes of \(bytes.count)")
        }
        let dataStart = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart]))
        } catch {
            throw .format(path: path, reason: "header is not JSON")
        }
        guard let header = json as? [String: Any] else { throw .format(path: path, reason: "header is not an object") }
        let metadata = (header["__metadata__"] as? [String: String]) ?? [:]
        var tensors: [(begin: Int, tensor: Tensor)] = []
        for (name, entry) in header where name != "__metadata__" {
            guard let fields = entry as? [String: Any], let dtype = fields["dtype"] as? String,
                let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int], offsets.count == 2
            else { throw .format(path: path, reason: "tensor \(name): malformed entry") }
            guard dtype == "F64" else { throw .format(path: path, reason: "tensor \(name): dtype \(dtype), expected F64") }
            // Every size below is checked before it is used: a corrupt header must not trap or overflow.
            let dataBytes = bytes.count - dataStart
            var count = 1
            for dimension in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard dimension >= 0, !overflow, product <= dataBytes / 8 else {
                    throw .format(path: path, reason: "tensor \(name): shape \(shape) is invalid or larger than the file")
                }
                count = product
            }
            guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= dataBytes, offsets[1] - offsets[0] == count * 8
            else {
                throw .format(path: path, reason: "tensor \(name): offsets \(offsets) do not fit shape \(shape)")
            }
            let begin = dataStart + offsets[0]
            var values = [Double](repeating: 0, count: count)
            for k in 0..<count {
                var bits: UInt64 = 0
                for b in 0..<8 { bits |= UInt64(bytes[begin + 8 * k + b]) << (8 * UInt64(b)) }
                values[k] = Double(bitPattern: bits)
            }
            tensors.append((offsets[0], Tensor(name: name, shape: shape, values: values)))
        }
        return SafetensorsFile(tensors: tensors.sorted { $0.begin < $1.begin }.map(\.tensor), metadata: metadata)
    }
}
