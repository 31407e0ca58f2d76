import ShardNumerics

/// The sizes of a model spec, checked before any model is built or parameter allocated: a spec comes from flags,
/// from a model file or from a coordinator's WELCOME, and a size that overflows or exceeds the machine's memory
/// must end in a message, not a trap.
///
/// ```text
/// P (parameters, D features)   logistic, svm, linear   D + 1
///                              quantile (Q levels)     Q = 1: D + 1;  else (D + 1)·Q
///                              softmax (K classes)     (D + 1)·K
///                              triplet (E, hidden H)   D·E;  with H: D·H + H + H·E
///                              vae (L, hidden H)       D·2L + 2L + L·D + D;  with H: D·H + H + H·2L + 2L + L·H + H + H·D + D
/// A (values per block row)     vae: with H 3H + 2D + 9L, else 2D + 9L (hidden layers, one hidden gradient, logits
///                              and their gradient, the latent quantities);  triplet: 2H + 2E (hidden layer and its
///                              gradient, embeddings and theirs; 2E without H);  the linear models: 0 (tiled kernels)
/// bytes (at least)             4 · 8P + threads · (2 · 8P + 4 · blockRows · A)
///                              (the parameters, the gradient, the optimizer's step and a reduction-tree slot; per
///                              thread two block-sums slots — the engine's groups hold at least 2 × threads blocks —
///                              and a block's activations, in float32 at the least)
/// ```
/// Every product and sum is overflow-checked. `checkedParameterCount` equals the built model's `layout.count`.
extension ModelSpec {
    /// Vectors of P doubles a training run holds besides those of its threads, at least (see above).
    public static let trainingVectorCount = 4

    /// The size fields of this spec with their values, as the JSON spells them (`featureCount`, `classCount`,
    /// `hiddenUnits`, `outputDimension`, `taus`), for messages.
    var sizeFields: [(name: String, value: Int)] {
        var fields = [("featureCount", featureCount)]
        switch configuration {
        case .logistic, .svm, .linear: break
        case .quantile(let taus): fields.append(("taus (count)", taus.count))
        case .softmax(let classCount, _): fields.append(("classCount", classCount))
        case .triplet(let settings):
            fields.append(("classCount", settings.classCount))
            fields.append(("outputDimension", settings.embeddingDimension))
            if let hidden = settings.hiddenUnits { fields.append(("hiddenUnits", hidden)) }
        case .vae(let latentDimension, let hiddenUnits):
            fields.append(("outputDimension", latentDimension))
            if let hidden = hiddenUnits { fields.append(("hiddenUnits", hidden)) }
        }
        return fields
    }

    /// P (see `ModelSpec`'s size table), or nil when it exceeds `Int.max`; throws `invalidSpec` naming the first
    /// size field below 1.
    public func checkedParameterCount() throws(ModelError) -> Int? {
        if let (name, value) = sizeFields.first(where: { $0.value < 1 }) {
            throw .invalidSpec("\(kind.rawValue): \(name) \(value) must be at least 1")
        }
        let d = featureCount
        typealias C = CheckedSize
        switch configuration {
        case .logistic, .svm, .linear:
            return C.sum([d, 1])
        case .quantile(let taus):
            return taus.count == 1 ? C.sum([d, 1]) : C.sum([d, 1]).flatMap { C.product([$0, taus.count]) }
        case .softmax(let classCount, _):
            return C.sum([d, 1]).flatMap { C.product([$0, classCount]) }
        case .triplet(let settings):
            let e = settings.embeddingDimension
            guard let h = settings.hiddenUnits else { return C.product([d, e]) }
            return C.sum([C.product([d, h]), h, C.product([h, e])])
        case .vae(let l, let hiddenUnits):
            guard let twoL = C.product([2, l]) else { return nil }
            guard let h = hiddenUnits else {
                return C.sum([C.product([d, twoL]), twoL, C.product([l, d]), d])
            }
            return C.sum([C.product([d, h]), h, C.product([h, twoL]), twoL, C.product([l, h]), h, C.product([h, d]), d])
        }
    }

    /// A, the values a block pass holds per row (see `ModelSpec`'s size table), or nil beyond `Int.max`.
    func activationsPerRow() -> Int? {
        typealias C = CheckedSize
        switch configuration {
        case .logistic, .svm, .linear, .quantile, .softmax:
            return 0
        case .triplet(let settings):
            return C.sum([C.product([2, settings.hiddenUnits ?? 0]), C.product([2, settings.embeddingDimension])])
        case .vae(let l, let hiddenUnits):
            return C.sum([C.product([3, hiddenUnits ?? 0]), C.product([2, featureCount]), C.product([9, l])])
        }
    }

    /// Throws `invalidSpec` naming the size fields when P overflows or the training's bytes (see the size table)
    /// with `threads` threads computing blocks of `blockRows` rows exceed `memory.availableBytes`.
    public func validateSizes(blockRows: Int = 1, threads: Int = 1, memory: MachineMemory = .current())
        throws(ModelError)
    {
        let fields = sizeFields.map { "\($0.name) \($0.value)" }.joined(separator: ", ")
        guard let count = try checkedParameterCount() else {
            throw .invalidSpec("\(kind.rawValue) with \(fields): the parameter count exceeds \(Int.max)")
        }
        typealias C = CheckedSize
        let vectorBytes = C.product([count, MemoryLayout<Double>.stride])
        let perThread = C.sum([
            vectorBytes.flatMap { C.product([2, $0]) }, activationsPerRow().flatMap { C.product([4, max(blockRows, 1), $0]) },
        ])
        let bytes = C.sum([
            vectorBytes.flatMap { C.product([Self.trainingVectorCount, $0]) },
            perThread.flatMap { C.product([max(threads, 1), $0]) },
        ])
        if let shortfall = memory.shortfall(needing: bytes) {
            let threadText = threads > 1 ? "\(threads) threads" : "1 thread"
            throw .invalidSpec(
                "\(kind.rawValue) with \(fields) has \(count) parameters; training them with \(threadText) on blocks of "
                    + "\(max(blockRows, 1)) row\(blockRows > 1 ? "s" : "") \(shortfall)")
        }
    }
}
