import Foundation
import ShardArtifacts
import ShardEngine

/// How progress is shown.
public enum LogFormat: String, Sendable, CaseIterable {
    /// A live one-line display on a terminal, plain lines otherwise.
    case text
    /// One JSON object per line (`"event": "round"` per round, `"event": "summary"` at the end).
    case json
}

/// The JSON-lines form of progress, shared by `--log-format json` and the progress publisher.
public enum ProgressJSON {
    /// A round's JSON line, `{"batch_step": …, "event": "round", "gradient_norm": …, "objective": …, "round": …,
    /// "round_seconds": …, "rows_per_second": …, "smoothing": …, "workers": [{"compute_seconds": s, "worker": i}, …]}`,
    /// written directly (sorted keys, as `line` sorts them; numbers in Swift's shortest round-trip form): a round's line costs a few microseconds instead of a `JSONSerialization` of boxed values,
    /// which a mini-batch run of 2 ms steps felt.
    public static func roundLine(_ report: RoundReport) -> Data {
        var text = "{\"batch_step\":" + (report.batchStep.map(String.init) ?? "null")
        text += ",\"event\":\"round\",\"gradient_norm\":" + JSONStyle.number(report.gradientNorm)
        text += ",\"objective\":" + JSONStyle.number(report.objective) + ",\"round\":\(report.round)"
        text += ",\"round_seconds\":" + JSONStyle.number(report.roundSeconds)
        text += ",\"rows_per_second\":" + JSONStyle.number(report.rowsPerSecond)
        text += ",\"smoothing\":" + JSONStyle.number(report.smoothing) + ",\"workers\":["
        for (position, timing) in report.workerTimings.enumerated() {
            text += (position == 0 ? "" : ",") + "{\"compute_seconds\":" + JSONStyle.number(timing.computeSeconds)
                + ",\"worker\":\(timing.worker)}"
        }
        return Data((text + "]}").utf8)
    }

    /// One line of UTF-8 JSON (sorted keys, no trailing newline); non-finite numbers become strings.
    public static func line(_ object: [String: Any]) -> Data? {
        try? JSONSerialization.data(withJSONObject: sanitized(object), options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// JSON has no non-finite numbers: write them as the strings "Infinity", "-Infinity", "NaN".
    private static func sanitized(_ value: Any) -> Any {
        switch value {
        case let number as Double where !number.isFinite:
            return JSONStyle.nonFiniteSpelling(number) ?? number
        case let dictionary as [String: Any]:
            return dictionary.mapValues(sanitized)
        case let array as [Any]:
            return array.map(sanitized)
        default:
            return value
        }
    }
}

/// Prints a `RoundReport` per round: live line on a terminal (at most 20 updates a second), a plain line
/// otherwise, or a JSON line. Everything goes through `OutputQueue.standardOutput`, never blocking the caller.
public final class ProgressPrinter: TrainingObserver {
    let format: LogFormat
    private let live: Bool
    /// The round the run ends at, when that is known in advance (mini-batch runs, fixed-round runs): the live line
    /// then shows a bar, the percentage and the time left.
    private let expectedRounds: Int?
    private var firstReport: Double?
    private var pendingLiveLine: String?
    private var lastLiveUpdate = -Double.infinity
    private var liveLineOpen = false

    public init(format: LogFormat, live: Bool = isatty(STDOUT_FILENO) == 1, expectedRounds: Int? = nil) {
        self.format = format
        self.live = live && format == .text
        self.expectedRounds = expectedRounds
    }

    public func roundFinished(_ report: RoundReport) {
        switch format {
        case .json:
            OutputQueue.standardOutput.write(ProgressJSON.roundLine(report) + Data("\n".utf8))
        case .text:
            let line = Self.text(report)
            guard live else {
                OutputQueue.standardOutput.write(line + "\n")
                return
            }
            let now = ProcessInfo.processInfo.systemUptime
            let start = firstReport ?? now
            firstReport = start
            pendingLiveLine = expectedRounds.map { Self.bar(round: report.round, of: $0, elapsed: now - start) + line } ?? line
            if now - lastLiveUpdate >= 0.05 {
                lastLiveUpdate = now
                flushLiveLine()
            }
        }
    }

    static func text(_ report: RoundReport) -> String {
        let workers = report.workerTimings.map { "w\($0.worker) \(milliseconds($0.computeSeconds))" }.joined(separator: " ")
        var line =
            "round \(report.round)  objective \(format12(report.objective))  |g| \(scientific(report.gradientNorm))  "
            + "\(compact(report.rowsPerSecond)) rows/s  compute [\(workers)]"
        if report.smoothing > 0 { line += "  μ \(scientific(report.smoothing))" }
        if let step = report.batchStep { line += "  step \(step)" }
        return line
    }

    /// `[########------------]  40%  ETA 12s  `: the share of `total` rounds done and the time left at the pace so
    /// far.
    static func bar(round: Int, of total: Int, elapsed: Double, width: Int = 20) -> String {
        let fraction = min(1, max(0, Double(round) / Double(max(1, total))))
        let filled = Int((fraction * Double(width)).rounded(.down))
        let left = round > 1 && fraction < 1 ? elapsed / Double(round - 1) * Double(total - round) : 0
        let eta = left >= 60 ? String(format: "%dm%02ds", Int(left) / 60, Int(left) % 60) : String(format: "%.0fs", left)
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
            + String(format: "%3.0f%%", fraction * 100) + "  ETA \(eta)  "
    }

    private func flushLiveLine() {
        guard let line = pendingLiveLine else { return }
        OutputQueue.standardOutput.write("\r\u{1B}[2K" + line)
        pendingLiveLine = nil
        liveLineOpen = true
    }

    /// Shows the last round and ends the live line before other output.
    public func finishLiveLine() {
        flushLiveLine()
        if liveLineOpen {
            OutputQueue.standardOutput.write("\n")
            liveLineOpen = false
        }
    }

    /// Shows an event other than a round: a JSON line, or a short text line (data loss of an "eval").
    public func report(event object: [String: Any]) {
        switch format {
        case .json:
            emitJSON(object)
        case .text:
            let round = object["round"] as? Int ?? 0
            let metrics = object["metrics"] as? [String: Any]
            let loss = (metrics?["data_loss"] as? Double).map { String(format: "%.6g", $0) } ?? "?"
            finishLiveLine()
            OutputQueue.standardOutput.write(
                "eval at round \(round) on \(object["split"] as? String ?? "?") rows: data loss \(loss)\n")
        }
    }

    /// Writes one JSON object as a line on standard output.
    public func emitJSON(_ object: [String: Any]) {
        guard let data = ProgressJSON.line(object) else { return }
        OutputQueue.standardOutput.write(data + Data("\n".utf8))
    }
}

/// Passes every report to several observers (display, publisher).
public struct ProgressFanOut: TrainingObserver {
    public let observers: [any TrainingObserver]

    public init(_ observers: [any TrainingObserver]) { self.observers = observers }

    public func roundFinished(_ report: RoundReport) {
        for observer in observers { observer.roundFinished(report) }
    }

    public func checkpoint(round: Int, parameters: [Double]) {
        for observer in observers { observer.checkpoint(round: round, parameters: parameters) }
    }
}

func format12(_ value: Double) -> String { String(format: "%.12g", value) }
func scientific(_ value: Double) -> String { String(format: "%.3e", value) }
func milliseconds(_ seconds: Double) -> String { String(format: "%.2fms", seconds * 1000) }
func compact(_ value: Double) -> String {
    switch value {
    case 1e9...: String(format: "%.2fG", value / 1e9)
    case 1e6...: String(format: "%.2fM", value / 1e6)
    case 1e3...: String(format: "%.1fk", value / 1e3)
    default: String(format: "%.0f", value)
    }
}
