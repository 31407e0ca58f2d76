import Foundation
import ShardApplication
import ShardArtifacts
import ShardCluster
import ShardEngine
import ShardNumerics

/// What `scale` reports: as JSON (`--json`, `--summary-json`; keys in README.md, "The scale document") and as a
/// table.
struct ScaleDocument {
    let command: ScaleCommand
    let run: PreparedRun
    let entries: [ScaleCommand.Entry]
    let model: ScalingModel
    let network: EmulatedHosts?
    let framing: LinkFraming
    /// The --bandwidth rate, bytes per second (infinite for `inf`).
    let linkRate: Double
    let predictCluster: (Int) -> (bytes: RoundBytes, setting: ScalingModel.Setting)?

    static let format = "shardtrain-scale/1"

    var identicalParameters: Bool { Set(entries.map(\.measured.parametersSHA256)).count == 1 }

    /// The measured one-worker round, the base of speedup and efficiency.
    var singleWorkerSeconds: Double? { entries.first { $0.measured.workers == 1 }?.measured.roundSeconds }

    /// (model − measured) / measured, in percent.
    static func errorPercent(model: Double, measured: Double) -> Double { 100 * (model - measured) / measured }

    var predictionErrors: [Double] {
        entries.filter { $0.role == .predict }.compactMap { entry in
            entry.modelled.map { Self.errorPercent(model: $0.round, measured: entry.measured.roundSeconds) }
        }
    }

    struct ClusterPoint {
        let workers: Int
        let bytes: RoundBytes
        let setting: ScalingModel.Setting
    }

    var clusterPoints: (points: [ClusterPoint], skipped: [Int]) {
        var points: [ClusterPoint] = []
        var skipped: [Int] = []
        for count in command.clusterWorkers.values {
            if let (bytes, setting) = predictCluster(count) {
                points.append(ClusterPoint(workers: count, bytes: bytes, setting: setting))
            } else {
                skipped.append(count)
            }
        }
        return (points, skipped)
    }

    private static func optional(_ value: Double?) -> Any { value.map { $0 as Any } ?? NSNull() }
    private static func rateOrNull(_ bytesPerSecond: Double) -> Any { bytesPerSecond.isFinite ? bytesPerSecond * 8 : NSNull() }

    func object() -> [String: Any] {
        let single = singleWorkerSeconds
        let runs = entries.map { entry -> [String: Any] in
            let m = entry.measured
            let speedup = single.map { $0 / m.roundSeconds }
            return [
                "workers": m.workers, "role": entry.role.rawValue, "rounds": m.rounds, "round_seconds": m.roundSeconds,
                "compute_seconds": m.computeSeconds, "wait_seconds": m.waitSeconds,
                "communication_seconds": m.communicationSeconds, "rows_per_second": m.rowsPerSecond,
                "parameters_sha256": m.parametersSHA256,
                "speedup": Self.optional(m.workers > 0 ? speedup : nil),
                "efficiency": Self.optional(m.workers > 0 ? speedup.map { $0 / Double(m.workers) } : nil),
                "cores": entry.setting.cores, "frame_bytes": entry.bytes.frames, "link_bytes": entry.bytes.wire,
                "rate_limited_bytes": entry.bytes.rateLimited,
                "transfer_seconds": entry.setting.transferSeconds,
                "model_round_seconds": Self.optional(entry.modelled?.round),
                "model_compute_seconds": Self.optional(entry.modelled?.compute),
                "model_communication_seconds": Self.optional(entry.modelled?.communication),
                "model_error_percent": Self.optional(
                    entry.modelled.map { Self.errorPercent(model: $0.round, measured: m.roundSeconds) }),
            ]
        }
        let (points, skipped) = clusterPoints
        let clusterSingle = predictCluster(1).map { model.roundSeconds($0.setting) }
        let plan = network?.plan
        let errors = predictionErrors.map(abs)
        return [
            "format": Self.format,
            "rows": run.data.dataset.rowCount, "blocks": run.data.blocks.count, "parameters": run.model.parameterCount,
            "sums_width": run.model.sumsWidth, "rounds": command.rounds, "cores_per_worker": command.coresPerWorker,
            "machine_cores": ThreadCount.availableCores,
            "network": [
                "kind": network == nil ? "unix-socket" : "emulated-hosts",
                "hosts": plan.map { $0.hosts as Any } ?? NSNull(),
                "link_bits_per_second": plan.map { Double($0.bitsPerSecond) as Any } ?? NSNull(),
                "tbf_burst_bytes": plan.map { $0.burstBytes as Any } ?? NSNull(),
                "subnet": plan.map { "\($0.subnet).0/24" as Any } ?? NSNull(),
                "curve": framing.curve,
            ] as [String: Any],
            "identical_parameters": identicalParameters,
            "fit_workers": entries.filter { $0.role != .predict }.map(\.measured.workers),
            "predict_workers": entries.filter { $0.role == .predict }.map(\.measured.workers),
            "runs": runs,
            "model": [
                "compute_latency_seconds": model.computeLatency, "communication_latency_seconds": model.communicationLatency,
                "latency_seconds": model.latency, "work_core_seconds": model.work, "per_worker_seconds": model.perWorker,
            ],
            "prediction_error_percent": errors.isEmpty
                ? NSNull()
                : ["mean_absolute": errors.reduce(0, +) / Double(errors.count), "max_absolute": errors.max()!] as [String: Any],
            "cluster_prediction": [
                "assumptions": [
                    "cores_per_host": command.coresPerWorker, "link_bits_per_second": Self.rateOrNull(linkRate),
                    "curve": !command.insecure,
                    "topology": "one coordinator whose link carries every PARAMS and PARTIALS frame; one worker per host",
                ] as [String: Any],
                "points": points.map { point -> [String: Any] in
                    let round = model.roundSeconds(point.setting)
                    let speedup = clusterSingle.map { $0 / round }
                    return [
                        "workers": point.workers, "round_seconds": round,
                        "compute_seconds": model.computeSeconds(point.setting),
                        "communication_seconds": model.communicationSeconds(point.setting),
                        "transfer_seconds": point.setting.transferSeconds, "frame_bytes": point.bytes.frames,
                        "link_bytes": point.bytes.wire, "rate_limited_bytes": point.bytes.rateLimited,
                        "rows_per_second": Double(run.data.dataset.rowCount) / round,
                        "speedup": Self.optional(speedup),
                        "efficiency": Self.optional(speedup.map { $0 / Double(point.workers) }),
                    ]
                },
                "skipped_workers": skipped,
            ] as [String: Any],
            "settings": settingsObject,
        ]
    }

    /// The run's settings as a training summary writes them (`RunSettings`, snake-case keys).
    var settingsObject: Any {
        guard let data = try? JSONStyle.encoder(snakeCaseKeys: true).encode(run.settings),
            let object = try? JSONSerialization.jsonObject(with: data)
        else { return NSNull() }
        return object
    }

    func json() -> Data { ProgressJSON.line(object()) ?? Data("{}".utf8) }

    func text() -> String {
        let plan = network?.plan
        let place =
            plan.map {
                "\($0.hosts) emulated hosts + coordinator, \(Self.rate(Double($0.bitsPerSecond) / 8)) links (tc tbf), "
                    + (framing.curve ? "CURVE" : "no encryption")
            } ?? "local workers on a Unix socket"
        var lines = [
            "\(run.data.dataset.rowCount) rows in \(run.data.blocks.count) blocks, \(run.model.parameterCount) parameters; "
                + "\(place); \(command.coresPerWorker) core(s) per worker, \(ThreadCount.availableCores) on this machine; "
                + "medians per round (ms)",
            "workers  role        round   compute      wait   communication   transfer      model    error     rows/s   parameters",
        ]
        for entry in entries {
            let m = entry.measured
            let error = entry.modelled.map {
                String(format: "%+7.1f%%", Self.errorPercent(model: $0.round, measured: m.roundSeconds))
            }
            lines.append(
                String(
                    format: "%7d  %@ %6.3f  %8.3f  %8.3f  %14.3f  %9.3f  %9@  %7@  %8.3gM   %@", m.workers,
                    entry.role.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0), m.roundSeconds * 1e3, m.computeSeconds * 1e3, m.waitSeconds * 1e3,
                    m.communicationSeconds * 1e3, entry.setting.transferSeconds * 1e3,
                    Self.right(entry.modelled.map { String(format: "%.3f", $0.round * 1e3) } ?? "–", 9),
                    Self.right(error ?? "–", 7),
                    m.rowsPerSecond / 1e6, String(m.parametersSHA256.prefix(12))))
        }
        lines.append(identicalParameters ? "identical parameters for every worker count" : "PARAMETERS DIFFER between worker counts")
        lines.append(
            String(
                format: "cost model: t = %.4g ms + %.4g core-ms / cores + %.4g ms · N + link bytes / rate",
                model.latency * 1e3, model.work * 1e3, model.perWorker * 1e3))
        let errors = predictionErrors
        if !errors.isEmpty {
            lines.append(
                "predicted before measured: "
                    + zip(entries.filter { $0.role == .predict }, errors).map {
                        String(format: "N=%d %+.1f%%", $0.0.measured.workers, $0.1)
                    }.joined(separator: ", "))
        }
        let (points, skipped) = clusterPoints
        let single = predictCluster(1).map { model.roundSeconds($0.setting) }
        let predictedPoints: [String] = points.map { point in
            let round = model.roundSeconds(point.setting)
            let speedup: Double = single.map { $0 / round } ?? .nan
            return String(
                format: "N=%d %.3f ms (%.3f ms on the link, speedup %.2f)", point.workers, round * 1e3,
                point.setting.transferSeconds * 1e3, speedup)
        }
        let links = linkRate.isFinite ? Self.rate(linkRate) : "unlimited"
        let encryption = command.insecure ? "no encryption" : "CURVE"
        var cluster =
            "cluster prediction (one worker per host with \(command.coresPerWorker) core(s), \(links) links, "
            + "\(encryption), the coordinator's link shared): " + predictedPoints.joined(separator: ", ")
        if !skipped.isEmpty {
            cluster +=
                (predictedPoints.isEmpty ? "" : "; ")
                + "not predicted: \(skipped.map(String.init).joined(separator: ", ")) workers (more than the "
                + "\(run.data.blocks.count) blocks; smaller --block-rows give more)"
        }
        lines.append(cluster)
        return lines.joined(separator: "\n")
    }

    /// `text` right-aligned in `width` characters (String(format:) pads %@ by bytes, if at all).
    static func right(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    /// "100 Mbit/s" for 12.5e6 bytes per second.
    static func rate(_ bytesPerSecond: Double) -> String {
        let bits = bytesPerSecond * 8
        for (scale, unit) in [(1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")] where bits >= scale {
            return String(format: "%g %@", bits / scale, unit)
        }
        return String(format: "%g bit/s", bits)
    }
}
