import Foundation
import ShardEngine

/// How progress is shown.
public enum LogFormat: String, Sendable, CaseIterable {
    /// A live one-line display on a terminal, plain lines otherwise.
    case text
    /// One JSON object per line (`"event": "round"` per round, `"event": "summary"` at the end).
    case json
}

/// Prints a `RoundReport` per round: live line, plain line or JSON line.
public final class ProgressPrinter: TrainingObserver {
    private let format: LogFormat
    private let live: Bool
    private var liveLineOpen = false
    /// Plain lines are throttled to one per `plainInterval` seconds (plus the last round).
    private let plainInterval: Double
    private var lastPlain = -Double.infinity

    public init(format: LogFormat, live: Bool = isatty(STDOUT_FILENO) == 1, plainInterval: Double = 0) {
        self.format = format
        self.live = live && format == .text
        self.plainInterval = plainInterval
    }

    public func roundFinished(_ report: RoundReport) {
        switch format {
        case .json:
            let workers = report.workerTimings.map { ["worker": $0.worker, "compute_seconds": $0.computeSeconds] as [String: Any] }
            emitJSON([
                "event": "round", "round": report.round, "objective": report.objective,
                "gradient_norm": report.gradientNorm, "smoothing": report.smoothing,
                "batch_step": report.batchStep.map { $0 as Any } ?? NSNull(),
                "rows_per_second": report.rowsPerSecond, "round_seconds": report.roundSeconds, "workers": workers,
            ])
        case .text:
            let workers = report.workerTimings.map { "w\($0.worker) \(milliseconds($0.computeSeconds))" }
                .joined(separator: " ")
            let line =
                "round \(report.round)  objective \(format12(report.objective))  |g| \(scientific(report.gradientNorm))  "
                + "\(compact(report.rowsPerSecond)) rows/s  compute [\(workers)]"
            if live {
                FileHandle.standardOutput.write(Data(("\r\u{1B}[2K" + line).utf8))
                liveLineOpen = true
            } else if report.roundSeconds >= 0 {
                let now = ProcessInfo.processInfo.systemUptime
                guard now - lastPlain >= plainInterval else { return }
                lastPlain = now
                print(line)
            }
        }
    }

    /// Ends the live line before other output.
    public func finishLiveLine() {
        if liveLineOpen {
            print("")
            liveLineOpen = false
        }
    }

    /// Writes one JSON object as a line on standard output.
    public func emitJSON(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: sanitized(object), options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return
        }
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// JSON has no non-finite numbers: write them as the strings "Infinity", "-Infinity", "NaN".
    private func sanitized(_ value: Any) -> Any {
        switch value {
        case let number as Double where !number.isFinite:
            return number.isNaN ? "NaN" : (number > 0 ? "Infinity" : "-Infinity")
        case let dictionary as [String: Any]:
            return dictionary.mapValues(sanitized)
        case let array as [Any]:
            return array.map(sanitized)
        default:
            return value
        }
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
