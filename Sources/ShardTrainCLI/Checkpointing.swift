import Foundation
import Logging
import ShardApplication
import ShardEngine

/// The checkpoints of a `train` or `coordinator` run: the state it resumes from (`--resume`) and the writer
/// of new checkpoints (`--checkpoint`, else into the `--resume` folder).
struct Checkpointing {
    let resume: ResumePoint?
    let writer: CheckpointWriter?
    let saving: StateSaving?
    /// Seconds spent hashing the input files for the fingerprint.
    let fingerprintSeconds: Double

    /// Rounds between checkpoints when `--checkpoint-every` is not given.
    static let defaultEvery = 50

    /// `digests`: the input files' SHA-256 for the fingerprint (waited for only when checkpointing).
    init(
        _ arguments: OutputArguments, run: PreparedRun, digests: BackgroundValue<InputDigests, CheckpointError>,
        logger: Logger
    ) throws(CheckpointError) {
        guard let folder = arguments.checkpoint ?? arguments.resume else {
            (resume, writer, saving, fingerprintSeconds) = (nil, nil, nil, 0)
            return
        }
        let hashing = ContinuousClock.now
        let identity = try RunIdentity(run, digests: try digests.value())
        fingerprintSeconds = (ContinuousClock.now - hashing).seconds
        if let resumeFolder = arguments.resume {
            let point = try ResumePoint(folder: resumeFolder, identity: identity)
            for (path, reason) in point.skipped {
                // The reason names the file already when it comes from reading it.
                let shown = reason.hasPrefix(path) ? reason : "\(path): \(reason)"
                logger.warning("DAMAGED CHECKPOINT skipped: \(shown); falling back to an older checkpoint")
            }
            logger.info("resuming from \(point.path) after round \(point.state.round) (saved: \(point.moment.rawValue))")
            resume = point
        } else {
            resume = nil
        }
        let writer = CheckpointWriter(folder: folder, identity: identity)
        self.writer = writer
        saving = StateSaving(sink: writer, every: arguments.checkpointEvery ?? Self.defaultEvery)
    }

    /// How many checkpoints were written, how long they took and how large the last was.
    var writtenNote: String? {
        guard let writer, writer.written.files > 0 else { return nil }
        let (files, seconds, bytes) = writer.written
        return "\(files) checkpoint\(files == 1 ? "" : "s") written into \(writer.directory.path): "
            + String(format: "%.2f ms each (mean), %d bytes the last; data fingerprint %.3f s", 1000 * seconds / Double(files), bytes, fingerprintSeconds)
    }

    /// Where an interrupted run's state is, and how to continue it.
    var interruptedNote: String? {
        guard let writer, let (path, round) = writer.lastWritten else { return nil }
        return "the state after round \(round) is in \(path): continue with --resume \(writer.directory.path)"
    }
}
