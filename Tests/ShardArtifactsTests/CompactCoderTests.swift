import Foundation
import ShardArtifacts
import Testing

@Suite("Compact coder")
struct CompactCoderTests {
    enum Phase: Codable, Equatable {
        case idle
        case bracket(low: Double, high: Double?)
    }

    struct State: Codable, Equatable {
        var values: [Double]
        var nested: [[Double]]
        var optional: [Double]?
        var missing: Int?
        var seed: UInt64
        var count: Int
        var small: Int8
        var byte: UInt8
        var ratio: Float
        var name: String
        var flag: Bool
        var phases: [Phase]
        var table: [String: String]
    }

    static let special: [Double] = [
        -0.0, 0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 0.1 + 0.2, -1e-300,
    ]

    static let state = State(
        values: special, nested: [[1, 2], [], special], optional: [3.5], missing: nil, seed: .max, count: -42, small: -5, byte: 200,
        ratio: 0.1, name: "μ = 1e-3 ✓", flag: true, phases: [.idle, .bracket(low: -0.0, high: nil), .bracket(low: 1, high: .nan)],
        table: ["--data sha256": "ab", "model.l2": "0.01"])

    @Test("values come back bit for bit: NaN, infinities, −0, subnormals, UInt64.max, nested enums and optionals")
    func roundTrip() throws {
        let decoded = try CompactCoder.decode(State.self, from: CompactCoder.encode(Self.state))
        #expect(decoded.values.map(\.bitPattern) == Self.special.map(\.bitPattern))
        #expect(decoded.nested.map { $0.map(\.bitPattern) } == Self.state.nested.map { $0.map(\.bitPattern) })
        #expect(decoded.optional == [3.5] && decoded.missing == nil && decoded.seed == .max && decoded.count == -42)
        #expect(decoded.small == -5 && decoded.byte == 200)
        #expect(decoded.ratio == 0.1 && decoded.name == Self.state.name && decoded.flag && decoded.table == Self.state.table)
        #expect(decoded.phases.count == 3 && decoded.phases[0] == .idle && decoded.phases[1] == .bracket(low: -0.0, high: nil))
        guard case .bracket(let low, let high) = decoded.phases[2] else { Issue.record("phase 2"); return }
        #expect(low == 1 && high?.isNaN == true)
        // Deterministic bytes (keys sorted), and a [Double] is 8 bytes per value plus its tag and count.
        #expect(try CompactCoder.encode(Self.state) == CompactCoder.encode(Self.state))
        #expect(try CompactCoder.encode([Double](repeating: 1, count: 1000)).count == 1 + 8 + 8000)
    }

    @Test("truncated, extended or mistyped bytes are decoding errors, never a crash")
    func corruptInput() throws {
        let bytes = try CompactCoder.encode(Self.state)
        for length in [0, 1, 9, bytes.count / 2, bytes.count - 1] {
            #expect(throws: DecodingError.self, "\(length) bytes") { try CompactCoder.decode(State.self, from: bytes.prefix(length)) }
        }
        #expect(throws: DecodingError.self) { try CompactCoder.decode(State.self, from: bytes + Data([0])) }
        // A [Double] whose count claims more values than there are bytes.
        var huge = Data([7])
        withUnsafeBytes(of: UInt64.max.littleEndian) { huge.append(contentsOf: $0) }
        #expect(throws: DecodingError.self) { try CompactCoder.decode([Double].self, from: huge) }
        #expect(throws: DecodingError.self) { try CompactCoder.decode(Int8.self, from: CompactCoder.encode(300)) }
        #expect(throws: DecodingError.self) { try CompactCoder.decode(String.self, from: CompactCoder.encode(1.5)) }
        #expect(throws: DecodingError.self) { try CompactCoder.decode(State.self, from: Data([42])) }
    }
}
