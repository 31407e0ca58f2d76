/// Why a training run cannot go on.
public enum EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The block plan or a shard does not fit together.
    case plan(String)
    /// Sizes that do not fit (parameters vs model).
    case dimension(String)
    /// A model failed on a block.
    case model(String)
    /// A worker process failed, went silent or sent something unusable (cluster executor).
    case worker(String)
    /// The optimizer cannot continue.
    case optimizer(String)
    /// The user asked to stop (Ctrl-C).
    case interrupted
    /// A saved trainer state does not fit this run, or could not be saved.
    case checkpoint(String)

    public var description: String {
        switch self {
        case .plan(let message): "block plan: \(message)"
        case .dimension(let message): "dimension mismatch: \(message)"
        case .model(let message): "model: \(message)"
        case .worker(let message): message
        case .optimizer(let message): "optimizer: \(message)"
        case .interrupted: "interrupted"
        case .checkpoint(let message): "checkpoint: \(message)"
        }
    }
}
