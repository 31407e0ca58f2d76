import Foundation
import ShardArtifacts
import ShardData
import ShardEngine

/// Why a run cannot resume from a checkpoint folder.
public enum CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The folder has no checkpoint file.
    case empty(folder: String)
    /// No file could be read, or an input file could not be hashed.
    case artifact(ArtifactError)
    /// The newest intact checkpoint is not in ShardTrain's checkpoint format.
    case unreadable(path: String, reason: String)
    /// The checkpoint belongs to another run: `field` (a setting or a part of the data fingerprint) differs.
    case mismatch(path: String, field: String, saved: String, current: String)
    /// The engine refused the saved state.
    case state(path: String, EngineError)

    public var description: String {
        switch self {
        case .empty(let folder): "--resume \(folder): the folder has no checkpoint file"
        case .artifact(let error): error.description
        case .unreadable(let path, let reason): "\(path): not a checkpoint of this version: \(reason)"
        case .mismatch(let path, let field, let saved, let current):
            "\(path) belongs to another run: \(Self.shown(field)) differs (checkpoint: \(saved), this run: \(current)); "
                + (field == RunIdentity.maxRoundsKey
                    ? "another --max-rounds continues a run only without a --schedule that stretches over it or a smoothing continuation; resume with the same --max-rounds, or start again with the larger one (and another --checkpoint folder)"
                    : "resume with the same data and options")
        case .state(let path, let error): "\(path): \(error)"
        }
    }

    /// A model setting as the command line spells it: `--hidden (model.configuration.vae.hiddenUnits)`. The run's
    /// other settings are flags already (`--learning-rate`), fingerprint fields are plain (`block rows`).
    static func shown(_ field: String) -> String {
        guard field.hasPrefix("model."), let last = field.split(separator: ".").last else { return field }
        let flags = [
            "hiddenUnits": "--hidden", "latentDimension": "--dimension", "outputDimension": "--dimension",
            "classCount": "--classes", "taus": "--tau", "l2": "--l2", "gamma": "--focal-gamma", "alpha": "--focal-alpha",
            "classWeights": "--class-weight", "featureCount": "the feature count of the data",
        ]
        return flags[String(last)].map { "\($0) (\(field))" } ?? field
    }
}

/// What a checkpoint file holds (in `CompactCoder`'s binary form): the trainer's state, and what identifies the run that saved it — every
/// setting that affects the result (`RunSettings`, flattened) and a fingerprint of the data.
struct CheckpointDocument: Codable {
    var format = 1
    var moment: StateMoment
    /// `setting name → value`, e.g. `--max-rounds → 200`, `model.l2 → 0.01`.
    var settings: [String: String]
    /// `--data sha256`, `training rows`, `block rows`, … (see `RunIdentity.fingerprint`).
    var fingerprint: [String: String]
    var state: TrainerState
}

/// The settings and the data fingerprint of a prepared run: a checkpoint of another identity is refused.
public struct RunIdentity: Sendable, Equatable {
    public let settings: [String: String]
    public let fingerprint: [String: String]

    /// Records the run's input files' SHA-256 (`digests`, hashed now when not given) and its block plan and split.
    public init(_ run: PreparedRun, digests: InputDigests? = nil) throws(CheckpointError) {
        settings = Self.flatten(RunSettings(run))
        var fingerprint: [String: String] = [:]
        let hashes: InputDigests
        if let digests { hashes = digests } else { hashes = try InputDigests(run.request.data) }
        for (flag, digest) in hashes.sha256 { fingerprint["\(flag) sha256"] = digest }
        fingerprint["training rows"] = String(run.data.dataset.rowCount)
        fingerprint["features"] = String(run.data.dataset.featureCount)
        fingerprint["block rows"] = String(run.data.blockRows)
        fingerprint["blocks"] = String(run.data.blocks.count)
        fingerprint["held-out rows"] = String(run.data.test?.rowCount ?? 0)
        self.fingerprint = fingerprint
    }

    /// The first field (fingerprint first, then settings, each by name) whose value differs, with both values.
    ///
    /// Another `--max-rounds` is no difference while the rounds do not depend on it (`scheduleIgnoresRoundLimit`): the rounds a run makes do not depend on how many more it may make, so the resumed run
    /// continues the saved one and ends where a run with the new limit from the start ends (a checkpoint beyond a
    /// smaller limit is refused when its state is read).
    func firstDifference(from saved: CheckpointDocument) -> (field: String, saved: String, current: String)? {
        for (own, theirs) in [(fingerprint, saved.fingerprint), (settings, saved.settings)] {
            for key in Set(own.keys).union(theirs.keys).sorted() where own[key] != theirs[key] {
                if key == Self.maxRoundsKey, scheduleIgnoresRoundLimit { continue }
                return (key, theirs[key] ?? "(none)", own[key] ?? "(none)")
            }
        }
        return nil
    }

    static let maxRoundsKey = "--max-rounds"

    /// Whether the rounds of this run do not depend on its `--max-rounds`: no learning-rate schedule stretches
    /// over it (cosine and step do), and no smoothing continuation, whose stage cut short by the limit counts as
    /// finished.
    private var scheduleIgnoresRoundLimit: Bool {
        ["(none)", "constant"].contains(settings["--schedule"] ?? "(none)")
            && (settings["--smoothing-start"] ?? "(none)") == "(none)"
    }

    /// Every stored property as `name → description`: the top-level ones in their command-line spelling
    /// (`maxRounds` → `--max-rounds`), the fields of a nested struct as `outer.inner` (`model.l2`). File paths
    /// are left out: the files' bytes are in the fingerprint, so a moved file still resumes.
    static func flatten(_ settings: RunSettings) -> [String: String] {
        var flat: [String: String] = [:]
        func visit(_ value: Any, name: String, path: String) {
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .optional {
                if let wrapped = mirror.children.first {
                    visit(wrapped.value, name: name, path: path)
                } else {
                    flat[name] = "(none)"
                }
            } else if mirror.displayStyle == .struct || mirror.displayStyle == .tuple, !mirror.children.isEmpty {
                for (position, child) in mirror.children.enumerated() {
                    let field = path + "." + (child.label ?? String(position))
                    visit(child.value, name: field, path: field)
                }
            } else if mirror.displayStyle == .enum, let payload = mirror.children.first, let caseName = payload.label {
                // A case with associated values: its name, then each value on its own (`model.configuration` →
                // `vae`, `model.configuration.vae.hiddenUnits` → `64`), so a difference names the one that differs.
                flat[name] = caseName
                visit(payload.value, name: path + "." + caseName, path: path + "." + caseName)
            } else {
                flat[name] = String(describing: value)
            }
        }
        for child in Mirror(reflecting: settings).children {
            guard let label = child.label, !label.hasSuffix("File") else { continue }
            visit(child.value, name: "--" + label.replacing(#/[A-Z]/#) { "-" + $0.output.lowercased() }, path: label)
        }
        return flat
    }
}

/// The SHA-256 of each input file of a run (`--data`, `--labels`, `--rows`, `--test-rows`, `--test-data`, those
/// given): part of a checkpoint's fingerprint and of the summary (`input_sha256`).
public struct InputDigests: Sendable, Equatable {
    /// Flag → lowercase hex SHA-256 of the file's bytes.
    public let sha256: [String: String]

    /// The input files of `data` by flag (nil where not given).
    public static func files(of data: DataConfiguration) -> [(flag: String, path: String?)] {
        [
            ("--data", data.path), ("--labels", data.labelsPath), ("--rows", data.rowsPath),
            ("--test-rows", data.testRowsPath), ("--test-data", data.testDataPath),
        ]
    }

    /// Hashes every input file of `data` (streaming, `Digest.sha256Hex(fileAt:)`); `cancelled` stops it between
    /// 4 MiB pieces (an interrupted run exits without waiting for the digest).
    public init(_ data: DataConfiguration, cancelled: () -> Bool = { false }) throws(CheckpointError) {
        var sha256: [String: String] = [:]
        for (flag, path) in Self.files(of: data) {
            guard let path else { continue }
            do { sha256[flag] = try Digest.sha256Hex(fileAt: path, cancelled: cancelled) } catch { throw .artifact(error) }
        }
        self.sha256 = sha256
    }

    public init(sha256: [String: String]) { self.sha256 = sha256 }

    /// The summary's form: keys without the dashes, in snake case (`--test-rows` → `test_rows`).
    public var summaryKeys: [String: String] {
        Dictionary(uniqueKeysWithValues: sha256.map { (Self.summaryKey($0.key), $0.value) })
    }

    static func summaryKey(_ flag: String) -> String { String(flag.dropFirst(2)).replacing("-", with: "_") }
}

/// Writes the trainer's state into a checkpoint folder (`TrainerStateSink`), with the run's identity.
public final class CheckpointWriter: TrainerStateSink {
    public let directory: CheckpointDirectory
    let identity: RunIdentity
    /// The last file written and its round.
    public private(set) var lastWritten: (path: String, round: Int)?
    /// Files written, seconds spent encoding and writing them, and the size of the last one.
    public private(set) var written = (files: 0, seconds: 0.0, lastBytes: 0)

    public init(folder: String, identity: RunIdentity) {
        directory = CheckpointDirectory(path: folder)
        self.identity = identity
    }

    public func save(_ state: TrainerState, moment: StateMoment) throws(EngineError) {
        let document = CheckpointDocument(
            moment: moment, settings: identity.settings, fingerprint: identity.fingerprint, state: state)
        let start = ContinuousClock.now
        do {
            let payload = try CompactCoder.encode(document)
            lastWritten = (try directory.write(payload, round: state.round), state.round)
            written = (written.files + 1, written.seconds + (ContinuousClock.now - start).seconds, payload.count)
        } catch let error as ArtifactError {
            throw .checkpoint(error.description)
        } catch {
            throw .checkpoint("round \(state.round): cannot encode the state: \(error)")
        }
    }
}

/// A state read back from a checkpoint folder for `run`.
public struct ResumePoint: Sendable {
    public let state: TrainerState
    /// When the state was saved (periodic, interrupted, finished).
    public let moment: StateMoment
    public let path: String
    /// Newer checkpoint files that were damaged and skipped, with the reason (say so loudly).
    public let skipped: [(path: String, reason: String)]

    /// The newest intact checkpoint of `folder`, refused unless it was saved by a run with `identity`.
    public init(folder: String, identity: RunIdentity) throws(CheckpointError) {
        let newest: CheckpointDirectory.Loaded?
        do { newest = try CheckpointDirectory(path: folder).newest() } catch { throw .artifact(error) }
        guard let loaded = newest else { throw .empty(folder: folder) }
        let document: CheckpointDocument
        do {
            document = try CompactCoder.decode(CheckpointDocument.self, from: loaded.payload)
        } catch {
            throw .unreadable(path: loaded.path, reason: "\(error)")
        }
        guard document.format == 1 else { throw .unreadable(path: loaded.path, reason: "format \(document.format)") }
        if let difference = identity.firstDifference(from: document) {
            throw .mismatch(path: loaded.path, field: difference.field, saved: difference.saved, current: difference.current)
        }
        state = document.state
        moment = document.moment
        path = loaded.path
        skipped = loaded.skipped
    }
}
