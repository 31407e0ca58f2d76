import ArgumentParser
import Foundation
import ShardApplication
import ShardLosses
import ShardNumerics

/// `shardtrain bench losses`: throughput of every element-wise loss (value, per-sample values and
/// gradient in one pass) beside a read-only memory pass over the same bytes, and CTC sequences/s.
///
/// ```
/// bytes touched by an element-wise loss = 4 * M * sizeof(T)   (read y, ŷ; write loss_i, grad_i)
/// read pass: sum of the same 4 * M * sizeof(T) bytes as 64-bit words (no stores)
/// ratio = (loss bytes / loss time) / (read-pass bytes / read-pass time)
/// ```
/// Each figure is the best of `--repetitions` timed runs after one warm-up run; outputs are
/// preallocated and pre-faulted so page faults are not timed.
public struct LossesBenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "losses",
        abstract: "Benchmark the losses: elements/s beside a read-only memory pass, and CTC sequences/s.",
        discussion: """
            Build in release first: swift build -c release; numbers from a debug build are meaningless. \
            Example: shardtrain bench losses --elements 10000000 --precision float64
            """)

    @Option(help: "Elements per element-wise loss evaluation.")
    public var elements = 10_000_000

    @Option(help: "Timed runs per measurement (the best is reported).")
    public var repetitions = 5

    @Option(help: "Arithmetic and storage precision: float64 or float32.")
    var precision = Precision.float64

    @Option(help: "CTC sequences per batch (each T=100 frames, C=30 classes, L=20 labels).")
    public var ctcSequences = 64

    @Option(help: "Comma-separated loss names to time (default: every element-wise loss and ctc).")
    var losses: CommaSeparated<LossName>?

    @Flag(help: "Print machine-readable JSON instead of a table.")
    public var json = false

    public init() {}

    public func validate() throws {
        guard elements > 0, repetitions > 0, ctcSequences > 0 else {
            throw ValidationError("--elements, --repetitions and --ctc-sequences must be positive")
        }
    }

    public func run() throws {
        let report = precision == .float32 ? try measure(Float.self) : try measure(Double.self)
        print(json ? report.json : report.table)
    }

    private func measure<T: LossScalar>(_ scalar: T.Type) throws -> BenchReport {
        var random = SplitMix64(seed: 0x5EED)
        let count = elements
        let binaryTargets = (0..<count).map { _ in T(random.next() & 1) }
        let signTargets = binaryTargets.map { 2 * $0 - 1 }
        let predictions = (0..<count).map { _ in T(random.nextUnit() * 0.98 + 0.01) }
        // Outputs live in preallocated, pre-faulted buffers (no copy-on-write, no page faults timed).
        let perSample = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
        let gradient = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
        perSample.initialize(repeating: 0)
        gradient.initialize(repeating: 0)
        defer {
            perSample.deallocate()
            gradient.deallocate()
        }
        let bytes = Double(4 * count * MemoryLayout<T>.stride)

        // The read pass touches the same four arrays' bytes.
        var checksum: UInt64 = 0
        let readSeconds = best(of: repetitions) {
            checksum &+= readPass(UnsafeRawBufferPointer(perSample)) &+ readPass(UnsafeRawBufferPointer(gradient))
            binaryTargets.withUnsafeBytes { checksum &+= readPass($0) }
            predictions.withUnsafeBytes { checksum &+= readPass($0) }
        }
        var rows: [BenchRow] = []
        let selected = losses.map { Set($0.values.map(\.rawValue)) }
        func time(_ loss: some ElementwiseLoss, targets: [T]) throws {
            if let selected, !selected.contains(type(of: loss).name) { return }
            var failure: LossError?
            var sink: T = 0
            let seconds = best(of: repetitions) {
                targets.withUnsafeBufferPointer { y in
                    predictions.withUnsafeBufferPointer { p in
                        do throws(LossError) {
                            sink += try loss.evaluate(target: y, prediction: p, perSample: perSample, gradient: gradient)
                        } catch {
                            failure = error
                        }
                    }
                }
            }
            if let failure { throw LossRequestError("\(type(of: loss).name): \(failure.description)") }
            guard sink.isFinite else { throw LossRequestError("\(type(of: loss).name): non-finite value \(sink)") }
            rows.append(
                BenchRow(
                    name: type(of: loss).name, elementsPerSecond: Double(count) / seconds,
                    bandwidthRatio: (bytes / seconds) / (bytes / readSeconds), bytesPerSecond: bytes / seconds))
        }
        try time(MeanSquaredError(), targets: binaryTargets)
        try time(MeanAbsoluteError(), targets: binaryTargets)
        try time(try HuberLoss(delta: 0.5), targets: binaryTargets)
        try time(try PinballLoss(tau: 0.9), targets: binaryTargets)
        try time(try BinaryCrossEntropy(), targets: binaryTargets)
        try time(BinaryCrossEntropyWithLogits(), targets: binaryTargets)
        try time(HingeLoss(), targets: signTargets)
        try time(SquaredHingeLoss(), targets: signTargets)
        try time(try FocalLoss(gamma: 2, weighting: .byClass(alpha: 0.25)), targets: binaryTargets)
        try time(try FocalLossWithLogits(gamma: 2, weighting: .byClass(alpha: 0.25)), targets: binaryTargets)
        try time(try ContrastiveDistanceLoss(margin: 0.5), targets: binaryTargets)

        // CTC: T = 100, C = 30, L = 20, random normalised log-probabilities and labels 1..29.
        let (frames, classes, labelLength) = (100, 30, 20)
        let logProbabilities = try (0..<ctcSequences).map { _ -> Matrix<T> in
            var values: [T] = []
            for _ in 0..<frames {
                let raw = (0..<classes).map { _ in random.nextUnit() * 4 - 2 }
                let logSum = Foundation.log(raw.map { Foundation.exp($0) }.reduce(0, +))
                values += raw.map { T($0 - logSum) }
            }
            return try Matrix(rows: frames, columns: classes, values: values)
        }
        let labels = (0..<ctcSequences).map { _ in (0..<labelLength).map { _ in 1 + Int(random.next() % UInt64(classes - 1)) } }
        let ctc = try CTCLoss()
        let ctcRepeats = selected.map { $0.contains("ctc") ? repetitions : 0 } ?? repetitions
        var ctcFailure: LossError?
        var ctcSink: T = 0
        let ctcSeconds = ctcRepeats == 0 ? Double.nan : best(of: ctcRepeats) {
            do throws(LossError) {
                ctcSink += try ctc.evaluate(logProbabilities: logProbabilities, labels: labels).value
            } catch {
                ctcFailure = error
            }
        }
        if let ctcFailure { throw LossRequestError("ctc: \(ctcFailure.description)") }
        guard ctcSink.isFinite else { throw LossRequestError("ctc: non-finite value") }
        return BenchReport(
            precision: precision.rawValue, elements: count, repetitions: repetitions, readBytesPerSecond: bytes / readSeconds,
            readElementsPerSecond: Double(count) / readSeconds, rows: rows,
            ctcSequencesPerSecond: Double(ctcSequences) / ctcSeconds, ctcShape: (frames, classes, labelLength),
            checksum: checksum)
    }

    /// The best wall time of `runs` runs of `body`, after one untimed warm-up run.
    private func best(of runs: Int, _ body: () -> Void) -> Double {
        body()
        let clock = ContinuousClock()
        var fastest = Double.infinity
        for _ in 0..<runs {
            let elapsed = clock.measure(body)
            fastest = min(fastest, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
        return fastest
    }
}

/// Sums the bytes of `values` as 64-bit words (wrapping), so the pass reads memory and nothing else.
@inline(never)
func readPass(_ raw: UnsafeRawBufferPointer) -> UInt64 {
    let words = raw.count / 8
    var lanes = SIMD4<UInt64>(repeating: 0)
    var index = 0
    while index + 4 <= words {
        lanes &+= raw.loadUnaligned(fromByteOffset: index * 8, as: SIMD4<UInt64>.self)
        index += 4
    }
    var total = lanes[0] &+ lanes[1] &+ lanes[2] &+ lanes[3]
    while index < words {
        total &+= raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)
        index += 1
    }
    return total
}

struct BenchRow {
    let name: String
    let elementsPerSecond: Double
    let bandwidthRatio: Double
    let bytesPerSecond: Double
}

struct BenchReport {
    let precision: String
    let elements: Int
    let repetitions: Int
    let readBytesPerSecond: Double
    let readElementsPerSecond: Double
    let rows: [BenchRow]
    let ctcSequencesPerSecond: Double
    let ctcShape: (frames: Int, classes: Int, labels: Int)
    let checksum: UInt64

    static var buildMode: String {
        #if DEBUG
            "debug"
        #else
            "release"
        #endif
    }

    var table: String {
        var lines: [String] = []
        if Self.buildMode == "debug" { lines.append("WARNING: debug build; these numbers are meaningless (use -c release).") }
        lines.append(
            "losses bench: \(elements) elements, \(precision), best of \(repetitions), \(Self.buildMode) build"
                + " (read-pass checksum \(checksum % 1000))")
        lines.append(
            "read-only pass over the same 4 arrays: " + String(format: "%.2f GB/s, %.3g elements/s", readBytesPerSecond / 1e9, readElementsPerSecond))
        lines.append("")
        lines.append("loss                      elements/s     GB/s   of read bandwidth")
        for row in rows {
            let name = row.name.padding(toLength: 24, withPad: " ", startingAt: 0)
            lines.append(
                name + String(format: "  %10.3g  %7.2f   %5.1f%%%@", row.elementsPerSecond, row.bytesPerSecond / 1e9,
                    row.bandwidthRatio * 100, row.bandwidthRatio >= 0.5 ? "" : "  (below half)"))
        }
        lines.append("")
        if ctcSequencesPerSecond.isFinite {
            lines.append(
                String(format: "ctc (T=%d, C=%d, L=%d, log space, value + gradient): %.4g sequences/s",
                    ctcShape.frames, ctcShape.classes, ctcShape.labels, ctcSequencesPerSecond))
        }
        return lines.joined(separator: "\n")
    }

    var json: String {
        let rowObjects = rows.map { row in
            JSONText.object([
                ("loss", JSONText.string(row.name)), ("elements_per_second", JSONText.number(row.elementsPerSecond)),
                ("bytes_per_second", JSONText.number(row.bytesPerSecond)),
                ("fraction_of_read_bandwidth", JSONText.number(row.bandwidthRatio)),
            ])
        }
        return JSONText.object([
            ("build", JSONText.string(Self.buildMode)), ("precision", JSONText.string(precision)),
            ("elements", "\(elements)"), ("repetitions", "\(repetitions)"),
            ("read_pass_bytes_per_second", JSONText.number(readBytesPerSecond)),
            ("read_pass_elements_per_second", JSONText.number(readElementsPerSecond)),
            ("elementwise", "[" + rowObjects.joined(separator: ", ") + "]"),
            (
                "ctc",
                JSONText.object([
                    ("frames", "\(ctcShape.frames)"), ("classes", "\(ctcShape.classes)"), ("labels", "\(ctcShape.labels)"),
                    ("sequences_per_second", ctcSequencesPerSecond.isFinite ? JSONText.number(ctcSequencesPerSecond) : "null"),
                ])
            ),
        ])
    }
}
