import Logging
import ShardApplication
import ShardEngine

/// The checkpoints of a `train` or `coordinator` run: the state it resumes from (`--resume`) and the writer
/// of new checkpoints (`--checkpoint`, else into the `--resume` folder).
struct Checkpointing {
    let resume: ResumePoint?
    let writer: CheckpointWriter?
    let saving: StateSaving?

    /// Rounds between checkpoints when `--checkpoint-every` is not given.
    static let defaultEvery = 50

    init(_ arguments: OutputArguments, run: PreparedRun, logger: Logger) throws(CheckpointError) {
        guard let folder = arguments.checkpoint ?? arguments.resume else {
            (resume, writer, saving) = (nil, nil, nil)
            return
        }
        let identity = try RunIdentity(run)
        if let resumeFolder = arguments.resume {
            let point = try ResumePoint(folder: resumeFolder, identity: identity)
            for (path, reason) in point.skipped {
                logger.warning("DAMAGED CHECKPOINT skipped: \(path): \(reason); falling back to an older checkpoint")
            }
            logger.info("resuming from \(point.path) after round \(point.state.round)")
            resume = point
        } else {
            resume = nil
        }
        let writer = CheckpointWriter(folder: folder, identity: identity)
        self.writer = writer
        saving = StateSaving(sink: writer, every: arguments.checkpointEvery ?? Self.defaultEvery)
    }

    /// Where an interrupted run's state is, and how to continue it.
    var interruptedNote: String? {
        guard let writer, let (path, round) = writer.lastWritten else { return nil }
        return "the state after round \(round) is in \(path): continue with --resume \(writer.directory.path)"
    }
}
