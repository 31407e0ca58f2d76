import Foundation
import ShardNumerics
@testable import ShardOptimizers
import Testing
import _TestSupport

// MARK: - Test objectives

/// An objective: value and gradient at a point.
typealias Objective = @Sendable ([Double]) -> (value: Double, gradient: [Double])

/// f(x) = ½ (x − x*)ᵀ A (x − x*), A = Qᵀ diag(λ) Q with Q a product of three Householder reflections
/// and λ log-spaced from 1 to `conditionNumber`. Minimum 0 at x*, so values near the optimum are
/// computed to full relative precision.
struct Quadratic: Sendable {
    let matrix: [[Double]]
    let minimizer: [Double]

    init(dimension n: Int, conditionNumber: Double, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var q = (0..<n).map { i in (0..<n).map { j in i == j ? 1.0 : 0.0 } }
        for _ in 0..<3 {
            let v = (0..<n).map { _ in random.nextUniform(-1, 1) }
            let vv = v.reduce(0) { $0 + $1 * $1 }
            // q ← (I − 2vvᵀ/vᵀv) q
            for column in 0..<n {
                var projection = 0.0
                for row in 0..<n { projection += v[row] * q[row][column] }
                for row in 0..<n { q[row][column] -= 2 * v[row] * projection / vv }
            }
        }
        let eigenvalues = (0..<n).map { Foundation.pow(conditionNumber, Double($0) / Double(n - 1)) }
        var a = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            for j in 0..<n {
                var sum = 0.0
                for k in 0..<n { sum += q[k][i] * eigenvalues[k] * q[k][j] }
                a[i][j] = sum
            }
        }
        matrix = a
        minimizer = (0..<n).map { _ in random.nextUniform(-1, 1) }
    }

    var objective: Objective {
        let matrix = self.matrix, minimizer = self.minimizer
        return { x in
            let e = zip(x, minimizer).map { $0 - $1 }
            let g = matrix.map { row in zip(row, e).reduce(0) { $0 + $1.0 * $1.1 } }
            let value = 0.5 * zip(e, g).reduce(0) { $0 + $1.0 * $1.1 }
            return (value, g)
        }
    }
}

/// Chained Rosenbrock: f(x) = Σᵢ 100 (x_{i+1} − xᵢ²)² + (1 − xᵢ)², minimum 0 at (1, …, 1).
let rosenbrock: Objective = { x in
    var value = 0.0
    var gradient = [Double](repeating: 0, count: x.count)
    for i in 0..<(x.count - 1) {
        let a = x[i + 1] - x[i] * x[i], b = 1 - x[i]
        value += 100 * a * a + b * b
        gradient[i] += -400 * x[i] * a - 2 * b
        gradient[i + 1] += 200 * a
    }
    return (value, gradient)
}

/// L2-regularised logistic regression on the standardised breast-cancer training rows, with the
/// split and standardization from optima.json (`problems[0]`):
///
/// ```text
/// F(w, b) = (1/n) Σ softplus(s_i) − y_i s_i + (l2/2) ‖w‖²,   s_i = z_iᵀw + b
/// ∂F/∂w = (1/n) Σ (σ(s_i) − y_i) z_i + l2·w,   ∂F/∂b = (1/n) Σ (σ(s_i) − y_i)
/// ```
struct BreastCancerLogistic: Sendable {
    let rows: [[Double]]
    let labels: [Double]
    let l2: Double
    let expectedObjective: Double
    let expectedWeights: [Double]
    let expectedBias: Double

    init() throws {
        let optima = try ReferenceData.load("optima.json")
        let problem = try #require(optima["problems"]?[0])
        let mean = try #require(problem["standardization"]?["mean"]?.doubles)
        let std = try #require(problem["standardization"]?["std"]?.doubles)
        let trainRows = try #require(optima["splits"]?["breast_cancer"]?["train_rows"]?.ints)
        l2 = try #require(problem["l2"]?.double)
        expectedObjective = try #require(problem["optimum"]?["objective"]?.double)
        expectedWeights = try #require(problem["optimum"]?["w"]?.doubles)
        expectedBias = try #require(problem["optimum"]?["b"]?.double)

        let url = ReferenceData.repositoryRoot.appendingPathComponent("data/breast_cancer.csv")
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").dropFirst()
        let table = try lines.map { line in try line.split(separator: ",").map { try #require(Double($0)) } }
        rows = trainRows.map { index in
            (0..<30).map { (table[index][$0] - mean[$0]) / (std[$0] == 0 ? 1 : std[$0]) }
        }
        labels = trainRows.map { table[$0][30] }
    }

    var objective: Objective {
        let rows = self.rows, labels = self.labels, l2 = self.l2
        return { theta in
            let d = rows[0].count
            let n = Double(rows.count)
            var value = 0.0
            var gradient = [Double](repeating: 0, count: d + 1)
            for (row, y) in zip(rows, labels) {
                var s = theta[d]
                for j in 0..<d { s += row[j] * theta[j] }
                value += max(s, 0) + Foundation.log1p(Foundation.exp(-abs(s))) - y * s
                let residual = (s >= 0 ? 1 / (1 + Foundation.exp(-s)) : Foundation.exp(s) / (1 + Foundation.exp(s))) - y
                for j in 0..<d { gradient[j] += residual * row[j] }
                gradient[d] += residual
            }
            value /= n
            for j in 0...d { gradient[j] /= n }
            for j in 0..<d {
                value += 0.5 * l2 * theta[j] * theta[j]
                gradient[j] += l2 * theta[j]
            }
            return (value, gradient)
        }
    }
}

/// One accepted step, for checking the Wolfe conditions.
struct AcceptedStep {
    let from: EvaluatedPoint
    let to: EvaluatedPoint
}

/// Drives `optimizer` on `objective` until it finishes or `maxEvaluations` is reached. Returns the
/// points it asked for, in order, and the accepted steps.
@discardableResult
func drive<O: Optimizer>(_ optimizer: inout O, _ objective: Objective, maxEvaluations: Int) throws
    -> (asked: [[Double]], steps: [AcceptedStep])
{
    var asked: [[Double]] = []
    var steps: [AcceptedStep] = []
    while let point = optimizer.pendingPoint, asked.count < maxEvaluations {
        asked.append(point)
        let before = optimizer.bestPoint
        let iterations = optimizer.iterationCount
        let (value, gradient) = objective(point)
        try optimizer.observe(value: value, gradient: gradient)
        if optimizer.iterationCount > iterations, let before, let after = optimizer.bestPoint {
            steps.append(AcceptedStep(from: before, to: after))
        }
    }
    return (asked, steps)
}

func maxAbsDifference(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

func bitPatterns(_ points: [[Double]]) -> [[UInt64]] { points.map { $0.map(\.bitPattern) } }

/// Fails unless `body` throws exactly `expected`.
func expectOptimizerError(_ expected: OptimizerError, _ body: () throws(OptimizerError) -> Void) {
    do {
        try body()
        Issue.record("expected \(expected)")
    } catch {
        #expect(error == expected)
    }
}

// MARK: - Suite

@Suite("ShardOptimizers")
struct ShardOptimizersSuite {
    /// f(x) = ½ (x₁² + 2 x₂²), ∇f = (x₁, 2 x₂): every iterate of η = 1/4 from (1, 1) is a binary
    /// fraction, so the expected points and values are exact.
    static let diagonalQuadratic: Objective = { x in
        (0.5 * (x[0] * x[0] + 2 * x[1] * x[1]), [x[0], 2 * x[1]])
    }

    @Test func gradientDescentGoldenSteps() throws {
        var optimizer = try GradientDescent(initialPoint: [1, 1], learningRate: 0.25)
        let (asked, _) = try drive(&optimizer, Self.diagonalQuadratic, maxEvaluations: 4)
        #expect(asked == [[1, 1], [0.75, 0.5], [0.5625, 0.25], [0.421875, 0.125]])
        #expect(optimizer.pendingPoint == [0.31640625, 0.0625])
        #expect(optimizer.evaluationCount == 4)
        #expect(optimizer.iterationCount == 3)
        #expect(optimizer.status == .running)
        #expect(
            optimizer.bestPoint
                == EvaluatedPoint(point: [0.421875, 0.125], value: 0.1046142578125, gradient: [0.421875, 0.25]))
    }

    @Test func gradientDescentConvergesOnGradientNorm() throws {
        var optimizer = try GradientDescent(
            initialPoint: [1, 1], learningRate: 0.25,
            stopping: StoppingCriteria(gradientTolerance: 1e-6, relativeObjectiveTolerance: 0))
        try drive(&optimizer, Self.diagonalQuadratic, maxEvaluations: 1000)
        guard case .converged(.gradientNorm(let norm, 1e-6)) = optimizer.status else {
            Issue.record("status \(optimizer.status)")
            return
        }
        #expect(norm <= 1e-6)
        #expect(optimizer.pendingPoint == nil)
        // x₁ shrinks by 3/4 per step, x₂ by 1/2: ‖g‖ ≤ 1e-6 first after k = 49 steps
        // (0.75^49 < 1e-6 < 0.75^48).
        #expect(optimizer.iterationCount == 49)
        #expect(optimizer.evaluationCount == 50)
    }

    @Test func gradientDescentStopsWhenDiverging() throws {
        // η = 1.5 > 2/λ_max = 1 on the x₂ mode: |x₂| triples per step until it overflows.
        var optimizer = try GradientDescent(initialPoint: [1, 1], learningRate: 1.5)
        try drive(&optimizer, Self.diagonalQuadratic, maxEvaluations: 10_000)
        guard case .stopped(.nonFiniteEvaluation) = optimizer.status else {
            Issue.record("status \(optimizer.status)")
            return
        }
        #expect(optimizer.bestPoint?.point == [1, 1])
        #expect(optimizer.bestPoint?.value == 1.5)
    }

    @Test func lbfgsSolvesIllConditionedQuadratic() throws {
        let problem = Quadratic(dimension: 10, conditionNumber: 1e4, seed: 42)
        var optimizer = try LBFGS(
            initialPoint: [Double](repeating: 0, count: 10),
            stopping: StoppingCriteria(gradientTolerance: 1e-11, relativeObjectiveTolerance: 0))
        try drive(&optimizer, problem.objective, maxEvaluations: 1000)
        guard case .converged(.gradientNorm) = optimizer.status else {
            Issue.record("status \(optimizer.status)")
            return
        }
        let best = try #require(optimizer.bestPoint)
        #expect(maxAbsDifference(best.point, problem.minimizer) <= 1e-10)
        // Comparable to SciPy's L-BFGS-B (m = 10), which needs 200–280 evaluations on such problems.
        #expect(optimizer.evaluationCount < 400)
        // The reported value and gradient are those of the reported point.
        let (value, gradient) = problem.objective(best.point)
        #expect(value == best.value && gradient == best.gradient)
    }

    /// A trial whose value is one rounding step above φ(0) but whose slope is flat: the decrease the Armijo
    /// test asks for (1e-4 · 1e-3) is far below the resolution of φ ≈ 1e8, so only the approximate Wolfe
    /// conditions can accept it. Beyond the resolution the same slope is refused as before.
    @Test func lineSearchAcceptsByApproximateWolfeWithinRounding() {
        let base = 1e8
        var search = StrongWolfeLineSearch(
            initialValue: base, initialSlope: -1e-3, firstStep: 1, parameters: LineSearchParameters())
        #expect(search.observe(value: base.nextUp, slope: 0) == .accept)
        var beyond = StrongWolfeLineSearch(
            initialValue: base, initialSlope: -1e-3, firstStep: 1, parameters: LineSearchParameters())
        #expect(beyond.observe(value: base + 1e-3, slope: 0) != .accept)
    }

    @Test func lbfgsNeedsFarFewerEvaluationsThanGradientDescent() throws {
        let problem = Quadratic(dimension: 10, conditionNumber: 1e4, seed: 42)
        let stopping = StoppingCriteria(gradientTolerance: 1e-6, relativeObjectiveTolerance: 0)
        let start = [Double](repeating: 0, count: 10)
        var lbfgs = try LBFGS(initialPoint: start, stopping: stopping)
        try drive(&lbfgs, problem.objective, maxEvaluations: 1000)
        // The largest step that is stable for every mode is 2/λ_max; 1/λ_max is the textbook choice.
        var descent = try GradientDescent(initialPoint: start, learningRate: 1e-4, stopping: stopping)
        try drive(&descent, problem.objective, maxEvaluations: 400_000)
        #expect(lbfgs.status.isFinished && descent.status.isFinished)
        #expect(lbfgs.bestPoint.map { $0.gradientNorm <= 1e-6 } == true)
        #expect(descent.bestPoint.map { $0.gradientNorm <= 1e-6 } == true)
        #expect(lbfgs.evaluationCount * 100 < descent.evaluationCount,
                "L-BFGS \(lbfgs.evaluationCount), gradient descent \(descent.evaluationCount)")
    }

    @Test(arguments: [2, 10])
    func lbfgsMinimizesRosenbrock(dimension: Int) throws {
        var optimizer = try LBFGS(
            initialPoint: dimension == 2 ? [-1.2, 1] : [Double](repeating: 0, count: dimension),
            stopping: StoppingCriteria(gradientTolerance: 1e-8, relativeObjectiveTolerance: 0))
        try drive(&optimizer, rosenbrock, maxEvaluations: 2000)
        guard case .converged(.gradientNorm) = optimizer.status else {
            Issue.record("status \(optimizer.status)")
            return
        }
        let best = try #require(optimizer.bestPoint)
        #expect(maxAbsDifference(best.point, [Double](repeating: 1, count: dimension)) < 1e-7)
        #expect(best.value < 1e-16)
    }

    @Test func lbfgsSolvesBreastCancerLogisticRegression() throws {
        let problem = try BreastCancerLogistic()
        var optimizer = try LBFGS(
            initialPoint: [Double](repeating: 0, count: 31),
            stopping: StoppingCriteria(gradientTolerance: 1e-8, relativeObjectiveTolerance: 0))
        try drive(&optimizer, problem.objective, maxEvaluations: 2000)
        guard case .converged(.gradientNorm(let norm, _)) = optimizer.status else {
            Issue.record("status \(optimizer.status)")
            return
        }
        #expect(norm < 1e-8)
        let best = try #require(optimizer.bestPoint)
        #expect(abs(best.value - problem.expectedObjective) <= 1e-7 * problem.expectedObjective)
        #expect(best.value >= problem.expectedObjective * (1 - 1e-12))
        #expect(maxAbsDifference(Array(best.point[0..<30]), problem.expectedWeights) < 1e-6)
        #expect(abs(best.point[30] - problem.expectedBias) < 1e-6)
    }

    /// Every accepted L-BFGS step satisfies the strong Wolfe conditions (checked with s = x_{k+1} − x_k,
    /// which is α·d up to rounding): f_{k+1} ≤ f_k + c1 g_kᵀs and |g_{k+1}ᵀs| ≤ c2 |g_kᵀs|.
    @Test(arguments: ["quadratic-1", "quadratic-2", "quadratic-3", "rosenbrock-2", "rosenbrock-10", "logistic"])
    func acceptedStepsSatisfyStrongWolfe(problemName: String) throws {
        let objective: Objective
        let start: [Double]
        switch problemName {
        case "rosenbrock-2": (objective, start) = (rosenbrock, [-1.2, 1])
        case "rosenbrock-10": (objective, start) = (rosenbrock, [Double](repeating: 0, count: 10))
        case "logistic": (objective, start) = (try BreastCancerLogistic().objective, [Double](repeating: 0, count: 31))
        default:
            let seed = UInt64(problemName.last!.wholeNumberValue!)
            objective = Quadratic(dimension: 8, conditionNumber: 1e3, seed: seed).objective
            var random = SplitMix64(seed: seed + 100)
            start = (0..<8).map { _ in 10 * random.nextUniform(-1, 1) }
        }
        var optimizer = try LBFGS(
            initialPoint: start, stopping: StoppingCriteria(gradientTolerance: 1e-9, relativeObjectiveTolerance: 0))
        let (_, steps) = try drive(&optimizer, objective, maxEvaluations: 2000)
        #expect(steps.count == optimizer.iterationCount)
        #expect(steps.count >= 5)
        for (k, step) in steps.enumerated() {
            let s = zip(step.to.point, step.from.point).map { $0 - $1 }
            let initialSlope = zip(step.from.gradient, s).reduce(0) { $0 + $1.0 * $1.1 }
            let finalSlope = zip(step.to.gradient, s).reduce(0) { $0 + $1.0 * $1.1 }
            let slack = 1e-9 * abs(initialSlope)
            #expect(initialSlope < 0, "step \(k): not a descent direction")
            // Sufficient decrease, or — within φ's rounding — the approximate Wolfe slope condition.
            let rounding = StrongWolfeLineSearch.roundingTolerance * abs(step.from.value)
            let decreases = step.to.value <= step.from.value + 1e-4 * initialSlope + slack
            let approximately = step.to.value <= step.from.value + rounding && finalSlope <= (2e-4 - 1) * initialSlope
            #expect(decreases || approximately, "step \(k): sufficient decrease")
            #expect(abs(finalSlope) <= 0.9 * abs(initialSlope) + slack, "step \(k): curvature")
        }
    }

    @Test func firstStepHasLengthOneOrOneOverGradientNorm() throws {
        var optimizer = try LBFGS(initialPoint: [3, 4])
        try optimizer.observe(value: 12.5, gradient: [3, 4])  // ‖g‖ = 5: α = 1/5, d = −g
        let expected: [Double] = [3 + 0.2 * -3.0, 4 + 0.2 * -4.0]
        #expect(optimizer.pendingPoint == expected)
        var small = try LBFGS(initialPoint: [1])
        try small.observe(value: 0.045, gradient: [0.3])  // ‖g‖ < 1: α = 1
        let expectedSmall: [Double] = [1 + 1 * -0.3]
        #expect(small.pendingPoint == expectedSmall)
    }

    // MARK: Non-finite values

    @Test func nonFiniteInitialEvaluationStops() throws {
        var lbfgs = try LBFGS(initialPoint: [1, 2])
        try lbfgs.observe(value: .nan, gradient: [0, 0])
        #expect(lbfgs.status == .stopped(.nonFiniteInitialEvaluation(detail: "value nan")))
        #expect(lbfgs.pendingPoint == nil && lbfgs.bestPoint == nil && lbfgs.evaluationCount == 1)
        #expect(lbfgs.status.description == "stopped: the objective is not finite at the initial point (value nan)")

        var descent = try GradientDescent(initialPoint: [1, 2], learningRate: 0.1)
        try descent.observe(value: 1, gradient: [0, .infinity])
        #expect(descent.status == .stopped(.nonFiniteInitialEvaluation(detail: "gradient entry 1 is inf")))
        expectOptimizerError(.notAwaitingEvaluation(status: descent.status)) { () throws(OptimizerError) in
            try descent.observe(value: 1, gradient: [0, 0])
        }
    }

    @Test func nonFiniteTrialIsBacktracked() throws {
        // f(x) = 1.5 x² for x ≥ −0.15, NaN below. From 0.1 the first trial (α = 1, d = −0.3) lands at
        // −0.2, where f is NaN; the search bisects to α = 1/2 (x = −0.05), then the secant step hits 0.
        let walled: Objective = { x in x[0] >= -0.15 ? (1.5 * x[0] * x[0], [3 * x[0]]) : (.nan, [.nan]) }
        var optimizer = try LBFGS(initialPoint: [0.1])
        let (asked, _) = try drive(&optimizer, walled, maxEvaluations: 100)
        #expect(asked.count >= 3)
        #expect(asked[1][0] < -0.15)
        #expect(abs(asked[2][0] - -0.05) < 1e-15)
        guard case .converged = optimizer.status else {
            Issue.record("status \(optimizer.status)")
            return
        }
        #expect(abs(optimizer.bestPoint?.point[0] ?? 1) < 1e-10)
        #expect(optimizer.evaluationCount == asked.count)
    }

    @Test func lineSearchFailureKeepsBestAcceptedPoint() throws {
        // f = ½‖x‖² but NaN inside ‖x‖ < 4.9: from (3, 4) no step along −g reaches the curvature
        // condition (it needs α ≥ 0.1, the wall is at α = 0.02), so the search fails and L-BFGS stops.
        let walled: Objective = { x in
            let norm = (x[0] * x[0] + x[1] * x[1]).squareRoot()
            return norm >= 4.9 ? (0.5 * norm * norm, x) : (.nan, [.nan, .nan])
        }
        var optimizer = try LBFGS(initialPoint: [3, 4])
        try drive(&optimizer, walled, maxEvaluations: 1000)
        guard case .stopped(.lineSearchFailed(iteration: 1, _)) = optimizer.status else {
            Issue.record("status \(optimizer.status)")
            return
        }
        #expect(optimizer.bestPoint == EvaluatedPoint(point: [3, 4], value: 12.5, gradient: [3, 4]))
        #expect(optimizer.iterationCount == 0)
        #expect(optimizer.pendingPoint == nil)
        #expect(optimizer.evaluationCount <= 1 + LineSearchParameters().maxEvaluations)
    }

    @Test func roundingLevelStopKeepsAConsistentBestPoint() throws {
        // A large constant hides the last decreases in rounding. With both tolerances at 0 the run can
        // only end by a failed line search or an exactly unchanged value (it is the latter here, after
        // 46 evaluations); either way the point it keeps must carry its own value and gradient.
        let shifted: Objective = { x in
            let (value, gradient) = rosenbrock(x)
            return (value + 1e4, gradient)
        }
        var optimizer = try LBFGS(
            initialPoint: [-1.2, 1], stopping: StoppingCriteria(gradientTolerance: 0, relativeObjectiveTolerance: 0))
        try drive(&optimizer, shifted, maxEvaluations: 5000)
        #expect(optimizer.status.isFinished)
        #expect(optimizer.evaluationCount < 5000)
        let best = try #require(optimizer.bestPoint)
        let (value, gradient) = shifted(best.point)
        #expect(value == best.value && gradient == best.gradient)
        #expect(maxAbsDifference(best.point, [1, 1]) < 1e-5)
    }

    // MARK: Misuse and settings

    @Test func rejectsInvalidSettingsAndObservations() throws {
        expectOptimizerError(.invalidSetting("the initial point has no parameters")) { () throws(OptimizerError) in
            _ = try LBFGS(initialPoint: [])
        }
        expectOptimizerError(.invalidSetting("initial point entry 1 is nan")) { () throws(OptimizerError) in
            _ = try GradientDescent(initialPoint: [0, .nan], learningRate: 1)
        }
        expectOptimizerError(.invalidSetting("L-BFGS memory must be at least 1, got 0")) { () throws(OptimizerError) in
            _ = try LBFGS(initialPoint: [0], memory: 0)
        }
        expectOptimizerError(.invalidSetting("learning rate must be finite and > 0, got -0.1")) {
            () throws(OptimizerError) in
            _ = try GradientDescent(initialPoint: [0], learningRate: -0.1)
        }
        expectOptimizerError(.invalidSetting("line search needs 0 < c1 < c2 < 1, got c1 = 0.5, c2 = 0.4")) {
            () throws(OptimizerError) in
            _ = try LBFGS(initialPoint: [0], lineSearch: LineSearchParameters(sufficientDecrease: 0.5, curvature: 0.4))
        }
        expectOptimizerError(.invalidSetting("gradient tolerance must be finite and ≥ 0, got -1.0")) {
            () throws(OptimizerError) in
            _ = try LBFGS(initialPoint: [0], stopping: StoppingCriteria(gradientTolerance: -1))
        }
        var optimizer = try LBFGS(initialPoint: [0, 0])
        expectOptimizerError(.gradientDimensionMismatch(expected: 2, found: 3)) { () throws(OptimizerError) in
            try optimizer.observe(value: 0, gradient: [1, 2, 3])
        }
        #expect(optimizer.evaluationCount == 0)
        #expect(
            OptimizerError.gradientDimensionMismatch(expected: 2, found: 3).description
                == "gradient has 3 entries, the optimizer has 2 parameters")
    }

    @Test func convergesImmediatelyAtAStationaryPoint() throws {
        var optimizer = try LBFGS(initialPoint: [1, 1])
        try optimizer.observe(value: 0, gradient: [0, 0])
        #expect(optimizer.status == .converged(.gradientNorm(norm: 0, tolerance: 1e-8)))
        #expect(optimizer.iterationCount == 0 && optimizer.pendingPoint == nil)
    }

    @Test func relativeObjectiveCriterionStopsOnTinyChanges() throws {
        var optimizer = try GradientDescent(
            initialPoint: [1, 1], learningRate: 0.25,
            stopping: StoppingCriteria(gradientTolerance: 0, relativeObjectiveTolerance: 1e-3))
        try drive(&optimizer, Self.diagonalQuadratic, maxEvaluations: 1000)
        guard case .converged(.relativeObjectiveChange(let change, 1e-3)) = optimizer.status else {
            Issue.record("status \(optimizer.status)")
            return
        }
        #expect(change <= 1e-3)
    }

    // MARK: State coding

    @Test func lbfgsStateRoundTripsAndContinuesBitIdentically() throws {
        var full = try LBFGS(initialPoint: [-1.2, 1], memory: 5)
        try drive(&full, rosenbrock, maxEvaluations: 1000)
        // Some line searches took several trials, so some of the saved states below are mid-search.
        #expect(full.evaluationCount > full.iterationCount + 1)
        for stopAfter in 0..<min(full.evaluationCount, 60) {
            var original = try LBFGS(initialPoint: [-1.2, 1], memory: 5)
            try drive(&original, rosenbrock, maxEvaluations: stopAfter)
            let encoded = try JSONEncoder().encode(original)
            var decoded = try JSONDecoder().decode(LBFGS.self, from: encoded)
            #expect(decoded == original, "after \(stopAfter) evaluations")
            let continuedOriginal = try drive(&original, rosenbrock, maxEvaluations: 40).asked
            let continuedDecoded = try drive(&decoded, rosenbrock, maxEvaluations: 40).asked
            #expect(!continuedOriginal.isEmpty)
            #expect(bitPatterns(continuedDecoded) == bitPatterns(continuedOriginal), "after \(stopAfter) evaluations")
            #expect(decoded == original)
            #expect(decoded.status == original.status)
        }
    }

    @Test func finishedAndWrappedStatesRoundTrip() throws {
        var optimizer = AnyOptimizer.lbfgs(try LBFGS(initialPoint: [-1.2, 1]))
        try drive(&optimizer, rosenbrock, maxEvaluations: 1000)
        #expect(optimizer.status.isFinished)
        let decoded = try JSONDecoder().decode(AnyOptimizer.self, from: JSONEncoder().encode(optimizer))
        #expect(decoded == optimizer)

        var descent = AnyOptimizer.gradientDescent(try GradientDescent(initialPoint: [1, 1], learningRate: 0.25))
        try drive(&descent, Self.diagonalQuadratic, maxEvaluations: 3)
        var copy = try JSONDecoder().decode(AnyOptimizer.self, from: JSONEncoder().encode(descent))
        #expect(copy == descent)
        let next = try drive(&copy, Self.diagonalQuadratic, maxEvaluations: 1).asked
        #expect(next == [[0.421875, 0.125]])
    }

    @Test func corruptStateIsRejectedWhenDecoding() throws {
        var optimizer = try LBFGS(initialPoint: [-1.2, 1])
        try drive(&optimizer, rosenbrock, maxEvaluations: 4)
        let encoded = try JSONEncoder().encode(optimizer)
        var json = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        json["pendingPoint"] = [1.0, 2.0, 3.0]
        let corrupt = try JSONSerialization.data(withJSONObject: json)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(LBFGS.self, from: corrupt) }
    }
}
