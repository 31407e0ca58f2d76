// Connectionist Temporal Classification (Graves et al. 2006), computed in log space.

/// The result of a CTC evaluation over a batch of sequences.
public struct CTCResult<T: LossScalar>: Sendable, Equatable {
    /// The reduced loss over the N sequences (`+∞` if a sequence is infeasible and `zeroInfinity`
    /// is off).
    public var value: T
    /// The negative log-likelihood of each sequence (`+∞` for an infeasible one, 0 under
    /// `zeroInfinity`).
    public var perSample: [T]
    /// `(1/N) sum_n perSample[n] / max(L_n, 1)`, the "mean" reduction of some libraries.
    public var valueMeanOverTargetLength: T
    /// `d value / d input` per sequence (`T_n x C`), with respect to the log-probabilities or the
    /// logits depending on the entry point; `nil` when `value` is infinite (no gradient exists).
    public var gradient: [Matrix<T>]?
}

/// CTC loss with a blank symbol, repeated labels and variable input and label lengths.
///
/// For one sequence with log-probabilities `lp` (`T x C`, rows normalised) and label
/// `l = (l_1..l_L)`, over the extended label `e = (blank, l_1, blank, l_2, ..., l_L, blank)` of
/// length `S = 2L + 1`:
/// ```
/// alpha[0][0] = lp[0][blank],  alpha[0][1] = lp[0][l_1]
/// alpha[t][s] = lp[t][e_s] + logsumexp(alpha[t-1][s], alpha[t-1][s-1],
///                                      alpha[t-1][s-2] if e_s != blank and e_s != e_{s-2})
/// nll = -logsumexp(alpha[T-1][S-1], alpha[T-1][S-2])      (-alpha[T-1][0] when L = 0)
/// beta[t][s] = log P(frames t+1.. complete the label | state s at t)   (no emission at t)
/// occupancy[t][s] = exp(alpha[t][s] + beta[t][s] + nll)
/// d nll / d lp[t][c] = -sum_{s : e_s = c} occupancy[t][s]           (rows sum to -1)
/// d nll / d z[t][c]  = d nll / d lp[t][c] + softmax(z_t)_c           (lp = log_softmax(z))
/// ```
/// A sequence needs `T >= L + (number of adjacent equal labels)`; otherwise (or when every path
/// has probability 0) its nll is `+∞`. With `zeroInfinity`, such sequences count as 0 with zero
/// gradient. All arithmetic is in log space, so T = 1000 frames do not underflow.
///
/// Inputs: log-probabilities must be <= 0 and every frame normalised, |logsumexp_c lp[t][c]| <= 1e-6·C
/// in Double (1e-4·C in Float), else `invalidPrediction` names the sequence and frame (an
/// unnormalised frame can give a negative nll). Logits must be finite or -inf, with at least one
/// finite logit per frame (a frame of all -inf has no softmax).
///
/// Shapes: N sequences; sequence n is `T_n x C` (same C for all), labels n has `L_n` values in
/// `0..<C` other than `blank`. `.mean` divides by N. Reference: Graves, Fernández, Gomez &
/// Schmidhuber (2006), "Connectionist Temporal Classification"; Tests/Reference/README.md, `ctc`.
public struct CTCLoss: Sendable {
    public static let name = "ctc"
    public let blank: Int
    public let zeroInfinity: Bool

    /// Throws `LossError.invalidParameter` for a negative blank index.
    public init(blank: Int = 0, zeroInfinity: Bool = false) throws(LossError) {
        guard blank >= 0 else { throw .invalidParameter("\(Self.name): blank must be >= 0, got \(blank)") }
        self.blank = blank
        self.zeroInfinity = zeroInfinity
    }

    /// CTC on log-probabilities (each entry <= 0, each frame's log-sum-exp 0 within 1e-6·C in Double,
    /// 1e-4·C in Float); the gradient is with respect to them.
    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public func evaluate<T: LossScalar>(
        logProbabilities: [Matrix<T>], labels: [[Int]], reduction: Reduction = .mean
    ) throws(LossError) -> CTCResult<T> {
        try validate(logProbabilities, labels: labels)
        for (sequence, matrix) in logProbabilities.enumerated() {
            for (index, value) in matrix.values.enumerated() where !(value <= 0) {
                throw .invalidPrediction(
                    "\(Self.name): log-probability (\(index / matrix.columns), \(index % matrix.columns)) of sequence "
                        + "\(sequence) is \(value); log-probabilities must be <= 0")
            }
            let tolerance = normalisationTolerance(T.self, classes: matrix.columns)
            try matrix.values.withUnsafeBufferPointer { (values) throws(LossError) in
                for frame in 0..<matrix.rows {
                    let row = UnsafeBufferPointer(rebasing: values[(frame * matrix.columns)..<((frame + 1) * matrix.columns)])
                    let logSumExp = StableMath.logSumExp(row)
                    guard abs(logSumExp) <= tolerance else {
                        throw .invalidPrediction(
                            "\(Self.name): frame \(frame) of sequence \(sequence) has log-sum-exp \(logSumExp); each frame's "
                                + "log-probabilities must be normalised, |logsumexp| <= "
                                + normalisationToleranceText(T.self, classes: matrix.columns))
                    }
                }
            }
        }
        return run(logProbabilities: logProbabilities, labels: labels, reduction: reduction).result
    }

    /// CTC on unnormalised logits (`log_softmax` is applied per frame); the gradient is with
    /// respect to the logits.
    @_specialize(where T == Double)
    @_specialize(where T == Float)
    public func evaluate<T: LossScalar>(
        logits: [Matrix<T>], labels: [[Int]], reduction: Reduction = .mean
    ) throws(LossError) -> CTCResult<T> {
        try validate(logits, labels: labels)
        for (sequence, matrix) in logits.enumerated() {
            for (index, value) in matrix.values.enumerated() where value.isNaN || value == .infinity {
                throw .invalidPrediction(
                    "\(Self.name): logit (\(index / matrix.columns), \(index % matrix.columns)) of sequence \(sequence) "
                        + "is \(value); logits must be finite or -inf")
            }
        }
        var logProbabilities: [Matrix<T>] = []
        logProbabilities.reserveCapacity(logits.count)
        for (sequence, matrix) in logits.enumerated() {
            var normalised = matrix
            try matrix.values.withUnsafeBufferPointer { (values) throws(LossError) in
                for frame in 0..<matrix.rows {
                    let row = UnsafeBufferPointer(rebasing: values[(frame * matrix.columns)..<((frame + 1) * matrix.columns)])
                    let logSumExp = StableMath.logSumExp(row)
                    guard logSumExp > -.infinity else {
                        throw .invalidPrediction(
                            "\(Self.name): frame \(frame) of sequence \(sequence) has every logit -inf; a frame needs "
                                + "at least one finite logit")
                    }
                    for symbol in 0..<matrix.columns { normalised[frame, symbol] = row[symbol] - logSumExp }
                }
            }
            logProbabilities.append(normalised)
        }
        var (result, zeroed) = run(logProbabilities: logProbabilities, labels: labels, reduction: reduction)
        if let gradients = result.gradient {
            result.gradient = zip(gradients, logProbabilities).enumerated().map { sequence, pair in
                let (gradient, logProbability) = pair
                // A sequence zeroed by zeroInfinity has no gradient at all, not even the softmax term.
                guard !zeroed[sequence] else { return gradient }
                var logitGradient = gradient
                for frame in 0..<gradient.rows {
                    var frameTotal: T = 0
                    for symbol in 0..<gradient.columns { frameTotal += gradient[frame, symbol] }
                    for symbol in 0..<gradient.columns {
                        logitGradient[frame, symbol] -= T.exp(logProbability[frame, symbol]) * frameTotal
                    }
                }
                return logitGradient
            }
        }
        return result
    }

    private func validate<T>(_ inputs: [Matrix<T>], labels: [[Int]]) throws(LossError) {
        guard inputs.count == labels.count else {
            throw .shapeMismatch("\(Self.name): \(inputs.count) sequences but \(labels.count) label lists")
        }
        guard let classes = inputs.first?.columns else { return }
        guard blank < classes else {
            throw .invalidParameter("\(Self.name): blank \(blank) is outside the \(classes) classes")
        }
        for (sequence, matrix) in inputs.enumerated() where matrix.columns != classes {
            throw .shapeMismatch("\(Self.name): sequence \(sequence) has \(matrix.columns) classes, sequence 0 has \(classes)")
        }
        for (sequence, label) in labels.enumerated() {
            for (position, symbol) in label.enumerated() where symbol < 0 || symbol >= classes || symbol == blank {
                throw .invalidTarget(
                    "\(Self.name): label \(position) of sequence \(sequence) is \(symbol); labels must be in "
                        + "0..<\(classes) and differ from the blank \(blank)")
            }
        }
    }

    /// The result, and per sequence whether zeroInfinity replaced an infinite nll by 0.
    private func run<T: LossScalar>(
        logProbabilities: [Matrix<T>], labels: [[Int]], reduction: Reduction
    ) -> (result: CTCResult<T>, zeroed: [Bool]) {
        let count = logProbabilities.count
        let weight: T = reduction.weight(count: count)
        var perSample = [T](repeating: 0, count: count)
        var gradients: [Matrix<T>] = []
        gradients.reserveCapacity(count)
        var infinite = false
        var zeroed = [Bool](repeating: false, count: count)
        var perLengthTotal: T = 0
        for (sequence, logProbability) in logProbabilities.enumerated() {
            var gradient = Matrix<T>(zeros: logProbability.rows, logProbability.columns)
            var nll = Self.sequenceLoss(
                logProbability, label: labels[sequence], blank: blank, gradientWeight: weight, gradient: &gradient)
            if !nll.isFinite {
                if zeroInfinity {
                    nll = 0
                    zeroed[sequence] = true
                    gradient = Matrix<T>(zeros: logProbability.rows, logProbability.columns)
                } else {
                    infinite = true
                }
            }
            perSample[sequence] = nll
            perLengthTotal += nll / T(max(labels[sequence].count, 1))
            gradients.append(gradient)
        }
        let total = perSample.reduce(0, +)
        let result = CTCResult(
            value: reduction.value(total: total, weight: weight), perSample: perSample,
            valueMeanOverTargetLength: count > 0 ? perLengthTotal / T(count) : 0,
            gradient: infinite ? nil : gradients)
        return (result, zeroed)
    }

    /// The nll of one sequence; adds `gradientWeight * d nll / d lp` into `gradient` when finite.
    static func sequenceLoss<T: LossScalar>(
        _ logProbability: Matrix<T>, label: [Int], blank: Int, gradientWeight: T, gradient: inout Matrix<T>
    ) -> T {
        let frames = logProbability.rows
        let classes = logProbability.columns
        let repeats = zip(label, label.dropFirst()).filter { $0 == $1 }.count
        if frames < label.count + repeats { return .infinity }
        if frames == 0 { return 0 }  // empty label over zero frames: probability 1
        let states = 2 * label.count + 1
        let extended = (0..<states).map { $0 % 2 == 0 ? blank : label[$0 / 2] }
        // A state may skip the blank before it when it is a label different from the one two back.
        let canSkip = (0..<states).map { $0 >= 2 && extended[$0] != blank && extended[$0] != extended[$0 - 2] }
        let lp = logProbability.values
        var alpha = [T](repeating: -.infinity, count: frames * states)
        var beta = [T](repeating: -.infinity, count: frames * states)

        alpha[0] = lp[blank]
        if states > 1 { alpha[1] = lp[extended[1]] }
        for frame in 1..<max(frames, 1) {
            let previous = (frame - 1) * states
            let current = frame * states
            // States that cannot be reached yet or can no longer finish stay at -inf.
            let first = max(0, states - 2 * (frames - frame))
            let last = min(states - 1, 2 * frame + 1)
            guard first <= last else { continue }
            for state in first...last {
                var high = alpha[previous + state]
                if state >= 1 { high = max(high, alpha[previous + state - 1]) }
                if canSkip[state] { high = max(high, alpha[previous + state - 2]) }
                guard high > -.infinity else { continue }
                var sum = T.exp(alpha[previous + state] - high)
                if state >= 1 { sum += T.exp(alpha[previous + state - 1] - high) }
                if canSkip[state] { sum += T.exp(alpha[previous + state - 2] - high) }
                alpha[current + state] = lp[frame * classes + extended[state]] + high + T.log(sum)
            }
        }
        let lastFrame = (frames - 1) * states
        let logLikelihood =
            states > 1
            ? StableMath.logAddExp(alpha[lastFrame + states - 1], alpha[lastFrame + states - 2])
            : alpha[lastFrame]
        guard logLikelihood > -.infinity else { return .infinity }

        beta[lastFrame + states - 1] = 0
        if states > 1 { beta[lastFrame + states - 2] = 0 }
        if frames >= 2 {
            for frame in stride(from: frames - 2, through: 0, by: -1) {
                let current = frame * states
                let next = (frame + 1) * states
                let nextRow = (frame + 1) * classes
                for state in 0..<states {
                    // Successors: stay, advance by one, or skip to state + 2.
                    let stay = beta[next + state] + lp[nextRow + extended[state]]
                    let advance =
                        state + 1 < states ? beta[next + state + 1] + lp[nextRow + extended[state + 1]] : -T.infinity
                    let skip =
                        state + 2 < states && canSkip[state + 2]
                        ? beta[next + state + 2] + lp[nextRow + extended[state + 2]] : -T.infinity
                    let high = max(stay, max(advance, skip))
                    guard high > -.infinity else { continue }
                    let sum = T.exp(stay - high) + T.exp(advance - high) + T.exp(skip - high)
                    beta[current + state] = high + T.log(sum)
                }
            }
        }
        for frame in 0..<frames {
            for state in 0..<states {
                let logOccupancy = alpha[frame * states + state] + beta[frame * states + state] - logLikelihood
                guard logOccupancy > -.infinity else { continue }
                gradient[frame, extended[state]] -= T.exp(logOccupancy) * gradientWeight
            }
        }
        return -logLikelihood
    }
}
