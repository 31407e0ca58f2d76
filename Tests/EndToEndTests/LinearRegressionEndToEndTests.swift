import Foundation
import Testing
import _TestSupport

/// `--model linear` trained by the real binary against optima computed here by other means: the ridge normal
/// equations (mse), a semismooth Newton solve (huber), and the certified τ = 0.5 quantile optimum of
/// optima.json (mae, since |e| = 2·ρ_0.5(e)).
@Suite("End to end: linear regression", .serialized)
struct LinearRegressionEndToEndTests {
    /// Standardised features (population std, as `--standardize`) and targets of a CSV whose last column is the
    /// target, restricted to `rows` (all rows when nil).
    struct Problem {
        var features: [[Double]]
        var targets: [Double]

        init(csv path: String, rows: [Int]?) throws {
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst()
            let table = lines.map { $0.split(separator: ",").map { Double($0)! } }
            let selected = rows.map { $0.map { table[$0] } } ?? table
            let width = selected[0].count - 1
            let n = Double(selected.count)
            var columns = [[Double]](repeating: [], count: width)
            for row in selected { for j in 0..<width { columns[j].append(row[j]) } }
            let means = columns.map { $0.reduce(0, +) / n }
            let stds = zip(columns, means).map { column, mean in
                (column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
            }
            features = selected.map { row in (0..<width).map { (row[$0] - means[$0]) / (stds[$0] == 0 ? 1 : stds[$0]) } }
            targets = selected.map { $0[width] }
        }

        /// The design row `[z, 1]` of row i.
        func design(_ i: Int) -> [Double] { features[i] + [1] }

        /// F(θ) = (1/N) Σ loss(ŷ_i − y_i) + (l2/2)‖w‖² with θ = [w, b].
        func objective(_ theta: [Double], l2: Double, loss: (Double) -> Double) -> Double {
            var total = 0.0
            for i in targets.indices {
                let prediction = zip(design(i), theta).reduce(0) { $0 + $1.0 * $1.1 }
                total += loss(prediction - targets[i])
            }
            let weights = theta.dropLast()
            return total / Double(targets.count) + 0.5 * l2 * weights.reduce(0) { $0 + $1 * $1 }
        }

        /// Minimises F for a loss whose derivative is `slope(e)` and second derivative `curvature(e)`, by
        /// Newton steps with backtracking from `start` (θ = 0 when nil): exact for mse in one step, finite for
        /// Huber from the ridge solution (the curvature is piecewise constant).
        func newton(
            l2: Double, from start: [Double]? = nil, loss: (Double) -> Double, slope: (Double) -> Double,
            curvature: (Double) -> Double
        ) -> [Double] {
            let width = features[0].count + 1
            let n = Double(targets.count)
            var theta = start ?? [Double](repeating: 0, count: width)
            for _ in 0..<200 {
                var gradient = [Double](repeating: 0, count: width)
                var hessian = [[Double]](repeating: [Double](repeating: 0, count: width), count: width)
                for i in targets.indices {
                    let a = design(i)
                    let e = zip(a, theta).reduce(0) { $0 + $1.0 * $1.1 } - targets[i]
                    let (g, h) = (slope(e) / n, curvature(e) / n)
                    for j in 0..<width {
                        gradient[j] += g * a[j]
                        for k in 0..<width { hessian[j][k] += h * a[j] * a[k] }
                    }
                }
                for j in 0..<(width - 1) {
                    gradient[j] += l2 * theta[j]
                    hessian[j][j] += l2
                }
                if gradient.reduce(0, { $0 + $1 * $1 }).squareRoot() < 1e-12 { break }
                let step = Self.solve(hessian, gradient)
                var scale = 1.0
                let current = objective(theta, l2: l2, loss: loss)
                while scale > 1e-12 {
                    let trial = zip(theta, step).map { $0 - scale * $1 }
                    if objective(trial, l2: l2, loss: loss) <= current {
                        theta = trial
                        break
                    }
                    scale /= 2
                }
            }
            return theta
        }

        /// Gaussian elimination with partial pivoting.
        static func solve(_ matrix: [[Double]], _ vector: [Double]) -> [Double] {
            var a = matrix
            var b = vector
            let n = b.count
            for column in 0..<n {
                let pivot = (column..<n).max { abs(a[$0][column]) < abs(a[$1][column]) }!
                a.swapAt(column, pivot)
                b.swapAt(column, pivot)
                for row in (column + 1)..<n {
                    let factor = a[row][column] / a[column][column]
                    for k in column..<n { a[row][k] -= factor * a[column][k] }
                    b[row] -= factor * b[column]
                }
            }
            var x = [Double](repeating: 0, count: n)
            for row in stride(from: n - 1, through: 0, by: -1) {
                var sum = b[row]
                for k in (row + 1)..<n { sum -= a[row][k] * x[k] }
                x[row] = sum / a[row][row]
            }
            return x
        }
    }

    static let diabetes = ReferenceData.repositoryRoot.appendingPathComponent("data/diabetes.csv").path

    static func relativeError(_ actual: [Double], _ expected: [Double]) -> Double {
        let difference = zip(actual, expected).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        return difference / expected.reduce(0) { $0 + $1 * $1 }.squareRoot()
    }

    /// Parameters to 1e-9 need the gradient stop: near the optimum the objective changes less than its own
    /// rounding error, so the run turns the relative-objective stop off.
    @Test("mse: the ridge normal equations to 1e-9, the same bits for 0, 1, 2 and 3 workers")
    func ridgeMatchesTheNormalEquations() throws {
        let l2 = 0.01
        let problem = try Problem(csv: Self.diabetes, rows: nil)
        let expected = problem.newton(l2: l2, loss: { $0 * $0 }, slope: { 2 * $0 }, curvature: { _ in 2 })
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var hashes: Set<String> = []
        for workers in [0, 1, 2, 3] {
            let summary = try ModelsEndToEndTests.train(
                ["--data", Self.diabetes, "--standardize", "--model", "linear", "--l2", String(l2),
                    "--objective-tolerance", "0"], workers: workers, in: directory)
            let parameters = try #require(summary["parameters"] as? [Double])
            #expect(Self.relativeError(parameters, expected) <= 1e-9, "\(workers) workers: \(parameters) vs \(expected)")
            hashes.insert(try #require(summary["parameters_sha256"] as? String))
            let metrics = try #require(summary["train_metrics"] as? [String: Any])
            let regression = try #require(metrics["regression"] as? [String: Any])
            let mse = try #require(regression["mean_squared_error"] as? Double)
            let rmse = try #require(regression["root_mean_squared_error"] as? Double)
            #expect(abs(rmse - mse.squareRoot()) <= 1e-12 * rmse)
            #expect(try #require(regression["r_squared"] as? Double) > 0.4)
        }
        #expect(hashes.count == 1, "parameters differ between worker counts: \(hashes)")
    }

    @Test("huber (δ = 20): the optimum of a semismooth Newton solve to 1e-7, 0 and 2 workers identical")
    func huberMatchesNewton() throws {
        let (l2, delta) = (0.01, 20.0)
        let problem = try Problem(csv: Self.diabetes, rows: nil)
        let huber = { (e: Double) in abs(e) <= delta ? 0.5 * e * e : delta * (abs(e) - 0.5 * delta) }
        let ridge = problem.newton(l2: l2, loss: { $0 * $0 }, slope: { 2 * $0 }, curvature: { _ in 2 })
        let expected = problem.newton(
            l2: l2, from: ridge, loss: huber, slope: { min(max($0, -delta), delta) },
            curvature: { abs($0) < delta ? 1 : 0 })
        let optimum = problem.objective(expected, l2: l2, loss: huber)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var hashes: Set<String> = []
        for workers in [0, 2] {
            let summary = try ModelsEndToEndTests.train(
                ["--data", Self.diabetes, "--standardize", "--model", "linear", "--loss", "huber", "--delta", "20",
                    "--l2", String(l2)], workers: workers, in: directory)
            let objective = try #require(summary["objective"] as? Double)
            #expect((objective - optimum) / optimum <= 1e-7, "\(workers) workers: \(objective) vs \(optimum)")
            #expect((objective - optimum) / optimum >= -1e-12, "below the Newton optimum: \(objective) vs \(optimum)")
            hashes.insert(try #require(summary["parameters_sha256"] as? String))
        }
        #expect(hashes.count == 1)
    }

    @Test("mae: twice the certified τ = 0.5 quantile optimum of optima.json to 1e-7, 0 and 2 workers identical")
    func absoluteErrorMatchesTheMedianRegressionOptimum() throws {
        let optima = try ReferenceData.load("optima.json")
        let problem = try #require(optima["problems"]?.array?.first { $0["id"]?.string == "diabetes/quantile/tau=0.5" })
        // ρ_0.5(e) = |e|/2 and l2 = 0 there, so the absolute-error optimum is the same point at twice the objective.
        let optimum = 2 * (try #require(problem["optimum"]?["objective"]?.double))
        let rows = try #require(optima["splits"]?["diabetes"]?["train_rows"]?.ints)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let rowsPath = try directory.write(rows.map(String.init).joined(separator: ","), to: "rows.txt")
        var hashes: Set<String> = []
        for workers in [0, 2] {
            let summary = try ModelsEndToEndTests.train(
                ["--data", Self.diabetes, "--rows", rowsPath, "--standardize", "--model", "linear", "--loss", "mae",
                    "--l2", "0"], workers: workers, in: directory)
            let objective = try #require(summary["objective"] as? Double)
            #expect((objective - optimum) / optimum <= 1e-7, "\(workers) workers: \(objective) vs \(optimum)")
            #expect((objective - optimum) / optimum >= -1e-12, "below the certified optimum: \(objective) vs \(optimum)")
            hashes.insert(try #require(summary["parameters_sha256"] as? String))
        }
        #expect(hashes.count == 1)
    }
}
