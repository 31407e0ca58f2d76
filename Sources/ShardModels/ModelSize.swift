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
/// bytes                        8 · P · 4   (training holds at least the parameters, the gradient, one block's sums
///                                           and the optimizer's step: four vectors of P doubles)
/// ```
/// Every product and sum is overflow-checked. `parameterCount` equals the built model's `layout.count`.
extension ModelSpec {
    /// Vectors of P doubles any training run holds at once, at least (see above).
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

    /// Throws `invalidSpec` naming the size fields when P overflows or the training's `8 · P · 4` bytes exceed
    /// `memory.availableBytes`.
    public func validateSizes(memory: MachineMemory = .current()) throws(ModelError) {
        let fields = sizeFields.map { "\($0.name) \($0.value)" }.joined(separator: ", ")
        guard let count = try checkedParameterCount() else {
            throw .invalidSpec("\(kind.rawValue) with \(fields): the parameter count exceeds \(Int.max)")
        }
        let bytes = CheckedSize.product([count, MemoryLayout<Double>.stride, Self.trainingVectorCount])
        if let shortfall = memory.shortfall(needing: bytes) {
            throw .invalidSpec(
                "\(kind.rawValue) with \(fields) has \(count) parameters; training holds at least "
                    + "\(Self.trainingVectorCount) vectors of them and \(shortfall)")
        }
    }
}
