import Foundation
import ShardApplication
import ShardCluster
import ShardProtocol

extension ProgressPrinter {
    /// A worker event of a cluster run as a progress line: JSON (`worker_lost`, `blocks_reassigned`,
    /// `backup_started`, `worker_joined`, with `seconds` since training started) on standard output with
    /// `--log-format json` and to subscribers; the text form is the coordinator's log line on standard error.
    func report(clusterEvent event: CoordinatorInstance.Event, publisher: ProgressPublisher?, since start: ContinuousClock.Instant) {
        var object = ProgressJSON.clusterEvent(event)
        object["seconds"] = (ContinuousClock.now - start).seconds
        if format == .json { emitJSON(object) }
        if let publisher, let line = ProgressJSON.line(object), let topic = object["event"] as? String {
            publisher.publish(topic: topic, line: line)
        }
    }
}

extension ProgressJSON {
    /// `{"event": "worker_lost", "worker": i, "reason": …, "round": r|null, "silent_seconds": s}`,
    /// `{"event": "blocks_reassigned", "from": i|null, "to": j, "blocks": "a..<b, …", "block_count": n,
    /// "shipped": bool, "round": r|null}`, `{"event": "backup_started", "straggler": i, "backup": j,
    /// "blocks": "a..<b", "round": r, "waited_seconds": s}`, `{"event": "worker_joined", "worker": i, "name": …}`.
    static func clusterEvent(_ event: CoordinatorInstance.Event) -> [String: Any] {
        let null: (Int?) -> Any = { $0.map { $0 as Any } ?? NSNull() }
        switch event {
        case .workerJoined(let index, let name):
            return ["event": "worker_joined", "worker": index, "name": name]
        case .workerLost(let index, let reason, let round, let silent):
            return ["event": "worker_lost", "worker": index, "reason": reason, "round": null(round), "silent_seconds": silent]
        case .blocksReassigned(let from, let to, let blocks, let shipped, let round):
            return [
                "event": "blocks_reassigned", "from": null(from), "to": to, "blocks": blocks.description,
                "block_count": blocks.blockCount, "shipped": shipped, "round": null(round),
            ]
        case .backupStarted(let straggler, let backup, let blocks, let round, let waited):
            return [
                "event": "backup_started", "straggler": straggler, "backup": backup,
                "blocks": "\(blocks.lowerBound)..<\(blocks.upperBound)", "round": round, "waited_seconds": waited,
            ]
        }
    }
}

extension FaultCounts {
    init(_ counters: CoordinatorInstance.Counters) {
        self.init(
            workersLost: counters.workersLost, workersJoined: counters.workersJoined, reassignments: counters.reassignments,
            backups: counters.backups, duplicateAnswers: counters.duplicateAnswers, disagreements: counters.disagreements,
            verifications: counters.verifications, staleFrames: counters.staleFrames,
            refusedFrames: counters.refusedFrames)
    }
}
