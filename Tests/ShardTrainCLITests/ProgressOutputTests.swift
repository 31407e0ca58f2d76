import Dispatch
import Foundation
@testable import ShardEngine
import ShardNumerics
@testable import ShardTrainCLI
import Synchronization
import Testing

/// The progress stream: round lines written by hand, and standard output written in coalesced batches.
@Suite("Progress output")
struct ProgressOutputTests {
    static func parsed(_ data: Data) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: data) as? NSDictionary)
    }

    /// A round report as the generic encoding takes it (a dictionary of boxed values).
    static func roundObject(_ report: RoundReport) -> [String: Any] {
        let workers = report.workerTimings.map { ["worker": $0.worker, "compute_seconds": $0.computeSeconds] as [String: Any] }
        return [
            "event": "round", "round": report.round, "objective": report.objective,
            "gradient_norm": report.gradientNorm, "smoothing": report.smoothing,
            "batch_step": report.batchStep.map { $0 as Any } ?? NSNull(),
            "rows_per_second": report.rowsPerSecond, "round_seconds": report.roundSeconds, "workers": workers,
        ]
    }

    @Test("a round's JSON line written by hand holds the keys, order and values of the generic encoding")
    func roundLineMatchesTheGenericEncoding() throws {
        let values: [Double] = [0, -0.0, 1, 0.1, 1e-300, Double.leastNonzeroMagnitude, 123456.789, -2.5e17, .infinity, -.infinity, .nan]
        var random = SplitMix64(seed: 3)
        func below(_ bound: Int) -> Int { Int(random.next() % UInt64(bound)) }
        for trial in 0..<200 {
            func pick() -> Double { values[below(values.count)] * (trial.isMultiple(of: 2) ? 1 : 3.7) }
            let report = RoundReport(
                round: below(100_000), objective: pick(), gradientNorm: pick(), rowsPerSecond: pick(),
                roundSeconds: pick(),
                workerTimings: (0..<below(4)).map { WorkerTiming(worker: $0, computeSeconds: pick()) },
                smoothing: pick(), batchStep: trial.isMultiple(of: 3) ? nil : below(1000))
            let written = ProgressJSON.roundLine(report)
            let generic = try #require(ProgressJSON.line(Self.roundObject(report)))
            #expect(try Self.parsed(written) == Self.parsed(generic), "\(String(decoding: written, as: UTF8.self))")
            // Sorted keys, as the generic encoding writes them.
            let text = String(decoding: written, as: UTF8.self)
            let keys = [
                "batch_step", "event", "gradient_norm", "objective", "round", "round_seconds", "rows_per_second",
                "smoothing", "workers",
            ]
            let positions = keys.map { text.range(of: "\"" + $0 + "\":")?.lowerBound }
            let found = positions.compactMap { $0 }
            #expect(found.count == keys.count && found == found.sorted(), "\(text)")
        }
    }

    @Test("writes come out in order, in fewer write calls than writes, and drain waits for all of them")
    func writesAreCoalescedInOrder() {
        let out = Mutex<(bytes: Data, calls: Int)>((Data(), 0))
        let queue = OutputQueue(coalescing: .milliseconds(50)) { data in out.withLock { $0.bytes.append(data); $0.calls += 1 } }
        var expected = ""
        for line in 0..<500 {
            let text = "line \(line)\n"
            expected += text
            queue.write(text)
        }
        queue.drain()
        let (bytes, calls) = out.withLock { $0 }
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
        #expect(calls < 10, "\(calls) write calls for 500 lines")
        queue.write("after the drain\n")
        queue.drain()
        #expect(String(decoding: out.withLock { $0.bytes }, as: UTF8.self) == expected + "after the drain\n")
    }
}
