import ShardModels
import ShardNumerics
import Testing
import _TestSupport

/// The triplet embedding model and the VAE: `models.json`, finite differences, triplet mining and the
/// determinism of `blockSums`.
@Suite("Embedding and VAE models")
struct EmbeddingAndVAETests {
    // MARK: - Helpers

    static func cases(_ names: Set<String>) throws -> [JSONValue] {
        let all = try #require(try ReferenceData.load("models.json")["cases"]?.array)
        return all.filter { names.contains($0["model"]?.string ?? "") }
    }

    /// A parameter tensor of a reference case, flattened row-major (matrices are arrays of rows).
    static func tensor(_ value: JSONValue?) -> [Double]? {
        if let matrix = value?.matrix, matrix.rows > 0, value?[0]?.array != nil { return matrix.values }
        if let vector = value?.doubles { return vector }
        return value?.double.map { [$0] }
    }

    /// Compares `actual` with `expected` element-wise under the case tolerance.
    static func expectClose(
        _ actual: [Double], _ expected: JSONValue?, _ tolerance: Tolerance, _ label: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let reference = try #require(tensor(expected), "\(label): missing in the reference", sourceLocation: sourceLocation)
        let bad = tolerance.mismatches(actual, reference)
        #expect(bad.isEmpty, "\(label): mismatches at \(bad.prefix(5)), e.g. \(bad.first.map { "\(actual.count > $0 ? actual[$0] : .nan) vs \(reference[$0])" } ?? "")", sourceLocation: sourceLocation)
    }

    static func objective(_ model: any Model, lossSum: Double, gradient: [Double], rows: Int, parameters: [Double]) throws
        -> Objective
    {
        try model.objective(sums: [lossSum] + gradient, rowCount: rows, parameters: parameters)
    }

    /// Checks the objective built from `lossSum` and `gradient` against a reference case's `expected`:
    /// each scalar in `terms` (e.g. `value`, `data_loss`, `l2_term`) and the gradient of every layout
    /// tensor (`expected["grad"][name]`), under `tolerance`. `label` starts every message.
    static func expectObjective(
        _ model: any Model, lossSum: Double, gradient: [Double], rows: Int, parameters: [Double],
        matches expected: JSONValue, terms: [String], tolerance: Tolerance, label: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let objective = try objective(model, lossSum: lossSum, gradient: gradient, rows: rows, parameters: parameters)
        let actualTerms = ["value": objective.value, "data_loss": objective.dataLoss, "l2_term": objective.l2Term]
        for name in terms {
            let actual = try #require(actualTerms[name], "\(label): no objective term \(name)", sourceLocation: sourceLocation)
            let reference = try #require(expected[name]?.double, "\(label): \(name)", sourceLocation: sourceLocation)
            #expect(
                tolerance.matches(actual, reference), "\(label) \(name): \(actual) vs \(reference)",
                sourceLocation: sourceLocation)
        }
        for tensor in model.layout.tensors {
            try expectClose(
                Array(objective.gradient[tensor.range]), expected["grad"]?[tensor.name], tolerance,
                "\(label) grad \(tensor.name)", sourceLocation: sourceLocation)
        }
    }

    /// Central differences of `value` against `gradient` at every coordinate.
    static func expectFiniteDifferences(
        _ parameters: [Double], gradient: [Double], step: Double = 1e-6, tolerance: Double = 1e-6,
        _ label: String, value: ([Double]) throws -> Double, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(gradient.count == parameters.count, sourceLocation: sourceLocation)
        var worst = 0.0
        for k in parameters.indices {
            var plus = parameters
            var minus = parameters
            plus[k] += step
            minus[k] -= step
            let numeric = (try value(plus) - value(minus)) / (2 * step)
            let error = abs(numeric - gradient[k]) / max(1, abs(gradient[k]))
            worst = max(worst, error)
            #expect(error <= tolerance, "\(label) parameter \(k): numeric \(numeric), analytic \(gradient[k])", sourceLocation: sourceLocation)
        }
        #expect(worst.isFinite, sourceLocation: sourceLocation)
    }

    // MARK: - Reference cases

    @Test("triplet_linear and triplet_mlp match models.json: value, parts, every gradient, embeddings, per-sample")
    func tripletReference() throws {
        let cases = try Self.cases(["triplet_linear", "triplet_mlp"])
        #expect(cases.count >= 4)
        for testCase in cases {
            let id = try #require(testCase["id"]?.string)
            let inputs = try #require(testCase["inputs"])
            let anchors = try #require(inputs["x_anchor"]?.matrix, "\(id): x_anchor")
            let positives = try #require(inputs["x_positive"]?.matrix, "\(id): x_positive")
            let negatives = try #require(inputs["x_negative"]?.matrix, "\(id): x_negative")
            let l2 = try #require(testCase["hyper"]?["l2"]?.double)
            let margin = try #require(testCase["hyper"]?["margin"]?.double)
            let tolerance = try #require(Tolerance(testCase))
            let parameterValues = try #require(testCase["parameters"])
            let isMLP = testCase["model"]?.string == "triplet_mlp"
            let names = isMLP ? ["W1", "b1", "W2"] : ["W"]
            let lastWeight = try #require(parameterValues[names.last!]?.matrix, "\(id): \(names.last!)")
            let hidden = isMLP ? try #require(parameterValues["b1"]?.doubles).count : nil
            let model = try TripletEmbedding(
                featureCount: anchors.columns, embeddingDimension: lastWeight.columns, hiddenUnits: hidden, margin: margin,
                l2: l2, classCount: 2, pairObjective: .tripletRandom)
            #expect(model.layout.tensors.map(\.name) == names)
            var parameters: [Double] = []
            for name in names { parameters += try #require(Self.tensor(parameterValues[name]), "\(id): \(name)") }
            #expect(parameters.count == model.parameterCount, "\(id): parameter count")

            let evaluation = try model.tripletSums(
                anchors: anchors.values, positives: positives.values, negatives: negatives.values, rows: anchors.rows,
                parameters: parameters)
            let expected = try #require(testCase["expected"])
            try Self.expectObjective(
                model, lossSum: evaluation.lossSum, gradient: evaluation.gradient, rows: anchors.rows, parameters: parameters,
                matches: expected, terms: ["value", "data_loss", "l2_term"], tolerance: tolerance, label: id)
            let intermediates = expected["intermediates"]
            try Self.expectClose(evaluation.anchorEmbeddings, intermediates?["emb_anchor"], tolerance, "\(id) emb_anchor")
            try Self.expectClose(evaluation.positiveEmbeddings, intermediates?["emb_positive"], tolerance, "\(id) emb_positive")
            try Self.expectClose(evaluation.negativeEmbeddings, intermediates?["emb_negative"], tolerance, "\(id) emb_negative")
            try Self.expectClose(evaluation.perSample, intermediates?["per_sample"], tolerance, "\(id) per_sample")

            // The float32 compute path (float32 blocks): inputs and parameters rounded to Float, every product,
            // activation and loss in Float. Checked at the case's float32 tolerance (models.json: rtol 5e-4,
            // atol 1e-5), which is ≈ 10³ Float round-offs (ε = 6e-8) of relative error: the longest sums here
            // have ≤ 24 terms, so each value stays within a few hundred ε of the exact one.
            if testCase["flags"]?["float32_ok"]?.bool != false {
                let loose = try #require(Tolerance(testCase, precision: "float32"), "\(id): float32 tolerance")
                let single = try model.tripletSums(
                    anchors: anchors.values, positives: positives.values, negatives: negatives.values,
                    rows: anchors.rows, parameters: parameters, precision: .float32)
                try Self.expectObjective(
                    model, lossSum: single.lossSum, gradient: single.gradient, rows: anchors.rows, parameters: parameters,
                    matches: expected, terms: ["value", "data_loss", "l2_term"], tolerance: loose, label: "\(id) float32")
                try Self.expectClose(single.anchorEmbeddings, intermediates?["emb_anchor"], loose, "\(id) float32 emb_anchor")
                try Self.expectClose(single.perSample, intermediates?["per_sample"], loose, "\(id) float32 per_sample")
                #expect(single.gradient != evaluation.gradient, "\(id): the float32 path should round in Float")
                #expect(single.anchorEmbeddings.allSatisfy { Double(Float($0)) == $0 }, "\(id): Float embeddings")
            }
        }
    }

    @Test("vae_linear and vae_mlp match models.json: value, parts, every gradient and all intermediates")
    func vaeReference() throws {
        let cases = try Self.cases(["vae_linear", "vae_mlp"])
        #expect(cases.count >= 4)
        for testCase in cases {
            let id = try #require(testCase["id"]?.string)
            let x = try #require(testCase["inputs"]?["x"]?.matrix, "\(id): x")
            let eps = try #require(testCase["inputs"]?["eps"]?.matrix, "\(id): eps")
            let l2 = try #require(testCase["hyper"]?["l2"]?.double)
            let tolerance = try #require(Tolerance(testCase))
            let parameterValues = try #require(testCase["parameters"])
            let isMLP = testCase["model"]?.string == "vae_mlp"
            let hidden = isMLP ? try #require(parameterValues["enc_b1"]?.doubles).count : nil
            let model = try VariationalAutoencoder(featureCount: x.columns, latentDimension: eps.columns, hiddenUnits: hidden, l2: l2)
            var parameters: [Double] = []
            for tensor in model.layout.tensors {
                let values = try #require(Self.tensor(parameterValues[tensor.name]), "\(id): \(tensor.name)")
                #expect(values.count == tensor.count, "\(id): \(tensor.name) has \(values.count) values")
                parameters += values
            }
            let evaluation = try model.evaluate(inputs: x.values, rows: x.rows, noise: eps.values, parameters: parameters)
            let expected = try #require(testCase["expected"])
            try Self.expectObjective(
                model, lossSum: evaluation.lossSum, gradient: evaluation.gradient, rows: x.rows, parameters: parameters,
                matches: expected, terms: ["value", "data_loss", "l2_term"], tolerance: tolerance, label: id)
            let intermediates = expected["intermediates"]
            try Self.expectClose(evaluation.mean, intermediates?["mean"], tolerance, "\(id) mean")
            try Self.expectClose(evaluation.logVariance, intermediates?["logvar"], tolerance, "\(id) logvar")
            try Self.expectClose(evaluation.latent, intermediates?["z"], tolerance, "\(id) z")
            try Self.expectClose(evaluation.decoderLogits, intermediates?["decoder_logits"], tolerance, "\(id) decoder_logits")
            try Self.expectClose(evaluation.reconstructionPerSample, intermediates?["recon_per_sample"], tolerance, "\(id) recon")
            try Self.expectClose(evaluation.klPerSample, intermediates?["kl_per_sample"], tolerance, "\(id) kl")

            // The float32 compute path (float32 blocks) at the case's float32 tolerance (rtol 5e-4, atol 1e-5;
            // see tripletReference for why that bound holds for Float).
            if testCase["flags"]?["float32_ok"]?.bool != false {
                let loose = try #require(Tolerance(testCase, precision: "float32"), "\(id): float32 tolerance")
                let single = try model.evaluate(
                    inputs: x.values, rows: x.rows, noise: eps.values, parameters: parameters, precision: .float32)
                try Self.expectObjective(
                    model, lossSum: single.lossSum, gradient: single.gradient, rows: x.rows, parameters: parameters,
                    matches: expected, terms: ["value", "data_loss", "l2_term"], tolerance: loose, label: "\(id) float32")
                try Self.expectClose(single.decoderLogits, intermediates?["decoder_logits"], loose, "\(id) float32 logits")
                try Self.expectClose(single.reconstructionPerSample, intermediates?["recon_per_sample"], loose, "\(id) float32 recon")
                try Self.expectClose(single.klPerSample, intermediates?["kl_per_sample"], loose, "\(id) float32 kl")
                #expect(single.gradient != evaluation.gradient, "\(id): the float32 path should round in Float")
                #expect(single.decoderLogits.allSatisfy { Double(Float($0)) == $0 }, "\(id): Float logits")
            }
        }
    }

    // MARK: - Finite differences

    @Test("triplet gradients agree with central differences (explicit triplets)", arguments: [nil, 5] as [Int?], [0.0, 0.1])
    func tripletFiniteDifferences(hidden: Int?, l2: Double) throws {
        var data = SplitMix64(seed: 3)
        let (rows, columns, dimension) = (12, 4, 3)
        let model = try TripletEmbedding(
            featureCount: columns, embeddingDimension: dimension, hiddenUnits: hidden, margin: 0.3, l2: l2, classCount: 2,
            pairObjective: .tripletRandom)
        let anchors = data.uniforms(rows * columns, -1...1)
        let positives = data.uniforms(rows * columns, -1...1)
        let negatives = data.uniforms(rows * columns, -1...1)
        let parameters = data.uniforms(model.parameterCount, -0.8...0.8)
        func objective(_ theta: [Double]) throws -> Objective {
            let evaluation = try model.tripletSums(anchors: anchors, positives: positives, negatives: negatives, rows: rows, parameters: theta)
            return try Self.objective(model, lossSum: evaluation.lossSum, gradient: evaluation.gradient, rows: rows, parameters: theta)
        }
        let analytic = try objective(parameters)
        let active = try model.tripletSums(anchors: anchors, positives: positives, negatives: negatives, rows: rows, parameters: parameters)
            .perSample.filter { $0 > 0 }.count
        #expect(active > 0 && active < rows, "the check should see active and inactive triplets (\(active) active)")
        try Self.expectFiniteDifferences(parameters, gradient: analytic.gradient, "triplet H=\(hidden.map(String.init) ?? "-")") {
            try objective($0).value
        }
    }

    @Test("VAE gradients agree with central differences (fixed eps)", arguments: [nil, 4] as [Int?], [0.0, 0.05])
    func vaeFiniteDifferences(hidden: Int?, l2: Double) throws {
        var data = SplitMix64(seed: 11)
        let (rows, columns, latent) = (9, 5, 2)
        let model = try VariationalAutoencoder(featureCount: columns, latentDimension: latent, hiddenUnits: hidden, l2: l2)
        let x = (0..<(rows * columns)).map { index in index % 3 == 0 ? data.nextUnit() : (data.nextUnit() < 0.5 ? 0 : 1) }
        let eps = data.uniforms(rows * latent, -1.5...1.5)
        let parameters = data.uniforms(model.parameterCount, -0.7...0.7)
        func objective(_ theta: [Double]) throws -> Objective {
            let evaluation = try model.evaluate(inputs: x, rows: rows, noise: eps, parameters: theta)
            return try Self.objective(model, lossSum: evaluation.lossSum, gradient: evaluation.gradient, rows: rows, parameters: theta)
        }
        let analytic = try objective(parameters)
        try Self.expectFiniteDifferences(parameters, gradient: analytic.gradient, "vae H=\(hidden.map(String.init) ?? "-")") {
            try objective($0).value
        }
    }

    @Test("blockSums gradients agree with central differences (random triplets and contrastive pairs)",
          arguments: [PairObjective.tripletRandom, .contrastive])
    func blockSumsFiniteDifferences(objective pairObjective: PairObjective) throws {
        var data = SplitMix64(seed: 29)
        let (rows, columns) = (16, 3)
        let model = try TripletEmbedding(
            featureCount: columns, embeddingDimension: 2, hiddenUnits: 4, margin: 1, l2: 0.01, classCount: 3,
            pairObjective: pairObjective)
        let block = try Block(features: data.uniforms(rows * columns, -1...1), labels: (0..<rows).map { Double($0 % 3) }, columns: columns, id: 4)
        let context = RoundContext(seed: 77, round: 3)
        let parameters = data.uniforms(model.parameterCount, -0.9...0.9)
        func objective(_ theta: [Double]) throws -> Objective {
            try model.objective(sums: try model.sums(block, theta, context), rowCount: rows, parameters: theta)
        }
        try Self.expectFiniteDifferences(parameters, gradient: try objective(parameters).gradient, "\(pairObjective)") {
            try objective($0).value
        }
    }

    // MARK: - Mining

    static func miningFixture(rows: Int = 30, classCount: Int = 3) throws -> (TripletEmbedding, Block, [Double], [Int]) {
        var data = SplitMix64(seed: 5)
        let columns = 4
        let labels = (0..<rows).map { ($0 * 7 + $0 / 4) % classCount }
        let block = try Block(
            features: data.uniforms(rows * columns, -1...1), labels: labels.map(Double.init), columns: columns, id: 2)
        let model = try TripletEmbedding(
            featureCount: columns, embeddingDimension: 3, hiddenUnits: 6, margin: 0.5, l2: 0, classCount: classCount,
            pairObjective: .tripletSemiHard)
        return (model, block, data.uniforms(model.parameterCount, -1...1), labels)
    }

    static func withObjective(_ model: TripletEmbedding, _ objective: PairObjective) throws -> TripletEmbedding {
        try TripletEmbedding(
            featureCount: model.featureCount, embeddingDimension: model.embeddingDimension, hiddenUnits: model.hiddenUnits,
            margin: model.margin, l2: model.l2, classCount: model.classCount, pairObjective: objective)
    }

    @Test("mined triplets: positives share the anchor's class, negatives do not, one triplet per anchor",
          arguments: [PairObjective.tripletRandom, .tripletSemiHard])
    func tripletClasses(objective: PairObjective) throws {
        let (base, block, parameters, labels) = try Self.miningFixture()
        let model = try Self.withObjective(base, objective)
        let triplets = try model.minedTriplets(block, parameters: parameters, context: RoundContext(seed: 1, round: 1))
        #expect(triplets.map(\.anchor) == Array(0..<block.rows))
        for triplet in triplets {
            #expect(triplet.positive != triplet.anchor)
            #expect(labels[triplet.positive] == labels[triplet.anchor])
            #expect(labels[triplet.negative] != labels[triplet.anchor])
        }
        // Random positives are spread over the classmates, not always the same row.
        #expect(Set(triplets.map(\.positive)).count > block.rows / 2)
    }

    @Test("semi-hard negatives follow the documented rule on the current embeddings")
    func semiHardRule() throws {
        let (model, block, parameters, labels) = try Self.miningFixture()
        let embeddings = try model.embeddings(of: block, parameters: parameters)
        let dimension = model.embeddingDimension
        func distance(_ u: Int, _ v: Int) -> Double {
            (0..<dimension).reduce(0) { sum, c in
                let difference = embeddings[u * dimension + c] - embeddings[v * dimension + c]
                return sum + difference * difference
            }
        }
        var semiHardCount = 0
        var fallbackCount = 0
        for round in 1...5 {
            for triplet in try model.minedTriplets(block, parameters: parameters, context: RoundContext(seed: 9, round: round)) {
                let positiveDistance = distance(triplet.anchor, triplet.positive)
                let negatives = (0..<block.rows).filter { labels[$0] != labels[triplet.anchor] }
                let farther = negatives.filter { distance(triplet.anchor, $0) > positiveDistance }
                let closestFarther = farther.min { (distance(triplet.anchor, $0), $0) < (distance(triplet.anchor, $1), $1) }
                let hardest = negatives.min { (distance(triplet.anchor, $0), $0) < (distance(triplet.anchor, $1), $1) }
                if let closestFarther, distance(triplet.anchor, closestFarther) < positiveDistance + model.margin {
                    #expect(triplet.negative == closestFarther)
                    semiHardCount += 1
                } else {
                    #expect(triplet.negative == hardest)
                    fallbackCount += 1
                }
            }
        }
        #expect(semiHardCount > 0, "the fixture should exercise the semi-hard branch")
        #expect(fallbackCount > 0, "the fixture should exercise the fallback branch")
    }

    @Test("mining is keyed by the context: same context, same triplets; another round or block, others")
    func miningKeys() throws {
        let (base, block, parameters, _) = try Self.miningFixture()
        let model = try Self.withObjective(base, .tripletRandom)
        let context = RoundContext(seed: 4, round: 7)
        let first = try model.minedTriplets(block, parameters: parameters, context: context)
        #expect(try model.minedTriplets(block, parameters: parameters, context: context) == first)
        #expect(try model.minedTriplets(block, parameters: parameters, context: RoundContext(seed: 4, round: 8)) != first)
        #expect(try model.minedTriplets(block, parameters: parameters, context: RoundContext(seed: 5, round: 7)) != first)
        let moved = try Block(id: block.id + 1, rows: block.rows, columns: block.columns, storage: block.storage)
        #expect(try model.minedTriplets(moved, parameters: parameters, context: context) != first)
    }

    @Test("anchors without a classmate or without another class form no triplet and add nothing")
    func skippedAnchors() throws {
        let model = try TripletEmbedding(
            featureCount: 2, embeddingDimension: 2, hiddenUnits: nil, margin: 1, l2: 0, classCount: 3,
            pairObjective: .tripletRandom)
        let parameters = [0.3, -0.2, 0.5, 0.1]
        // Row 4 is the only row of class 2.
        let block = try Block(features: [1, 0, 0, 1, 1, 1, -1, 0, 0.5, 0.5], labels: [0, 0, 1, 1, 2], columns: 2)
        let triplets = try model.minedTriplets(block, parameters: parameters, context: RoundContext(seed: 0, round: 1))
        #expect(triplets.map(\.anchor) == [0, 1, 2, 3])
        // One class only: nothing to contrast, the sums are exactly zero.
        let single = try Block(features: [1, 0, 0, 1, 1, 1], labels: [1, 1, 1], columns: 2)
        #expect(try model.minedTriplets(single, parameters: parameters, context: RoundContext(seed: 0, round: 1)).isEmpty)
        #expect(try model.sums(single, parameters, RoundContext(seed: 0, round: 1)) == [0, 0, 0, 0, 0])
    }

    @Test("contrastive pairs: the similar flag is class equality, partners are other rows, both kinds occur")
    func contrastivePairs() throws {
        let (base, block, parameters, labels) = try Self.miningFixture()
        let model = try Self.withObjective(base, .contrastive)
        let pairs = try model.minedPairs(block, parameters: parameters, context: RoundContext(seed: 2, round: 1))
        #expect(pairs.map(\.first) == Array(0..<block.rows))
        for pair in pairs {
            #expect(pair.first != pair.second)
            #expect(pair.similar == (labels[pair.first] == labels[pair.second]))
        }
        let similar = pairs.filter(\.similar).count
        #expect(similar > 0 && similar < pairs.count)
        #expect(try model.minedTriplets(block, parameters: parameters, context: RoundContext(seed: 2, round: 1)).isEmpty)
    }

    @Test("float32 blocks: sums from parameters the engine rounded once equal the block's own rounding, bit for bit")
    func roundedParametersGiveTheSameBits() throws {
        var random = SplitMix64(seed: 41)
        let (rows, columns) = (12, 6)
        let vae = try VariationalAutoencoder(featureCount: columns, latentDimension: 2, hiddenUnits: 5, l2: 0)
        let triplet = try TripletEmbedding(
            featureCount: columns, embeddingDimension: 3, hiddenUnits: 4, margin: 1, l2: 0, classCount: 3,
            pairObjective: .tripletRandom)
        let features = (0..<(rows * columns)).map { _ in Float(random.nextUnit()) }
        let labels = (0..<rows).map { Float($0 % 3) }
        let block = try Block(
            id: 3, rows: rows, columns: columns, storage: .float32(features: features, labels: labels))
        let context = RoundContext(seed: 9, round: 4)
        for model in [vae, triplet] as [any Model] {
            #expect(model.roundsParametersForFloat32Blocks)
            let parameters = (0..<model.parameterCount).map { _ in random.nextUniform(-0.5, 0.5) }
            let rounded = parameters.map { Float($0) }
            // The rounded values are really the ones used: a changed weight changes the sums.
            var changed = rounded
            changed[0] += 0.25
            func sums(rounded: [Float]?) throws -> [Double] {
                var output = [Double](repeating: .nan, count: model.sumsWidth)
                try parameters.withUnsafeBufferPointer { theta in
                    try output.withUnsafeMutableBufferPointer { output in
                        guard let rounded else {
                            return try model.blockSums(block, parameters: theta, context: context, into: output)
                        }
                        try rounded.withUnsafeBufferPointer {
                            try model.blockSums(block, parameters: theta, rounded: $0, context: context, into: output)
                        }
                    }
                }
                return output
            }
            let own = try sums(rounded: nil)
            let shared = try sums(rounded: rounded)
            let fromChanged = try sums(rounded: changed)
            #expect(shared.map(\.bitPattern) == own.map(\.bitPattern))
            #expect(!own.contains { !$0.isFinite })
            #expect(fromChanged != own)
        }
    }

    @Test("bad labels are typed errors")
    func badLabels() throws {
        let model = try TripletEmbedding(
            featureCount: 1, embeddingDimension: 1, hiddenUnits: nil, margin: 1, l2: 0, classCount: 2, pairObjective: .tripletRandom)
        for label in [2.0, -1, 0.5, .nan] {
            let block = try Block(features: [1, 2], labels: [0, label], columns: 1)
            #expect(throws: ModelError.self) { try model.sums(block, [0.1], RoundContext(seed: 0, round: 1)) }
        }
    }

    // MARK: - Determinism and noise

    @Test("blockSums is bit-reproducible and keyed by the round", arguments: [PairObjective.tripletRandom, .tripletSemiHard, .contrastive])
    func tripletDeterminism(objective: PairObjective) throws {
        let (base, block, parameters, _) = try Self.miningFixture()
        let model = try Self.withObjective(base, objective)
        let context = RoundContext(seed: 12, round: 2)
        let first = try model.sums(block, parameters, context)
        #expect(first.allSatisfy { $0.isFinite })
        #expect(try model.sums(block, parameters, context) == first)
        #expect(try model.sums(block, parameters, RoundContext(seed: 12, round: 3)) != first)
    }

    @Test("VAE blockSums: reproducible, fresh noise each round, consistent with elboParts", arguments: [nil, 3] as [Int?])
    func vaeBlockSums(hidden: Int?) throws {
        var data = SplitMix64(seed: 41)
        let (rows, columns) = (20, 6)
        let model = try VariationalAutoencoder(featureCount: columns, latentDimension: 2, hiddenUnits: hidden, l2: 0.01)
        let block = try Block(features: (0..<(rows * columns)).map { _ in data.nextUnit() }, labels: [Double](repeating: 7, count: rows), columns: columns, id: 3)
        let parameters = model.initialParameters()
        let context = RoundContext(seed: 8, round: 1)
        let first = try model.sums(block, parameters, context)
        #expect(first.allSatisfy { $0.isFinite })
        #expect(try model.sums(block, parameters, context) == first)
        #expect(try model.sums(block, parameters, RoundContext(seed: 8, round: 2))[0] != first[0])
        let parts = try model.elboParts(block, parameters: parameters, context: context)
        #expect(parts.count == rows)
        #expect(abs(parts.reduce(0) { $0 + $1.reconstruction + $1.kl } - first[0]) <= 1e-12 * abs(first[0]))
        #expect(parts.allSatisfy { $0.reconstruction > 0 && $0.kl >= 0 })
        // Float storage gives the same objective up to the rounding of the inputs.
        let single = try Block(features: block.storage.doubleFeatures, labels: [Double](repeating: 7, count: rows), columns: columns, id: 3, precision: .float32)
        let singleSums = try model.sums(single, parameters, context)
        #expect(abs(singleSums[0] - first[0]) <= 1e-5 * abs(first[0]))
    }

    @Test("VAE blockSums is evaluate(…) on the block's features with latentNoise(block, context), in its precision",
          arguments: [nil, 3] as [Int?], Precision.allCases)
    func vaeBlockSumsIsTheCore(hidden: Int?, precision: Precision) throws {
        var data = SplitMix64(seed: 43)
        let (rows, columns) = (10, 4)
        let model = try VariationalAutoencoder(featureCount: columns, latentDimension: 3, hiddenUnits: hidden, l2: 0)
        let features = (0..<(rows * columns)).map { _ in data.nextUnit() }
        let block = try Block(
            features: features, labels: [Double](repeating: 0, count: rows), columns: columns, id: 6, precision: precision)
        let parameters = data.uniforms(model.parameterCount, -0.5...0.5)
        let context = RoundContext(seed: 3, round: 4)
        let noise = model.latentNoise(block, context: context)
        #expect(noise.count == rows * 3)
        let evaluation = try model.evaluate(
            inputs: features, rows: rows, noise: noise, parameters: parameters, precision: precision)
        #expect(try model.sums(block, parameters, context) == [evaluation.lossSum] + evaluation.gradient)
    }

    @Test("triplet blockSums equals tripletSums on the mined rows", arguments: [PairObjective.tripletRandom, .tripletSemiHard])
    func tripletBlockSumsIsTheCore(objective: PairObjective) throws {
        let (base, block, parameters, _) = try Self.miningFixture()
        let model = try Self.withObjective(base, objective)
        let context = RoundContext(seed: 21, round: 2)
        let triplets = try model.minedTriplets(block, parameters: parameters, context: context)
        guard case .float64(let features, _) = block.storage else { Issue.record("fixture is float64"); return }
        let columns = block.columns
        func rows(_ indices: [Int]) -> [Double] { indices.flatMap { features[($0 * columns)..<(($0 + 1) * columns)] } }
        let explicit = try model.tripletSums(
            anchors: rows(triplets.map(\.anchor)), positives: rows(triplets.map(\.positive)),
            negatives: rows(triplets.map(\.negative)), rows: triplets.count, parameters: parameters)
        let sums = try model.sums(block, parameters, context)
        #expect(explicit.lossSum > 0)
        let reference = [explicit.lossSum] + explicit.gradient
        // Same terms, summed in another order (per row here, per triplet slot there).
        #expect(zip(sums, reference).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($1)) }, "\(sums) vs \(reference)")
    }

    @Test("extreme log-variances (±15) give finite, exact KL terms and gradients")
    func extremeLogVariance() throws {
        let model = try VariationalAutoencoder(featureCount: 2, latentDimension: 2, hiddenUnits: nil, l2: 0)
        // enc_W = 0, enc_b = [mean 0, 0, logvar 15, −15], dec_W = 0, dec_b = 0.
        var parameters = [Double](repeating: 0, count: model.parameterCount)
        let encoderBias = try #require(model.layout.tensor(named: "enc_b"))
        parameters[encoderBias.lowerBoundIndex + 2] = 15
        parameters[encoderBias.lowerBoundIndex + 3] = -15
        let evaluation = try model.evaluate(inputs: [1, 0], rows: 1, noise: [2, -3], parameters: parameters)
        let klExpected = 0.5 * ((Foundation_expm1(15) - 15) + (Foundation_expm1(-15) + 15))
        #expect(abs(evaluation.klPerSample[0] - klExpected) <= 1e-12 * klExpected)
        #expect(evaluation.latent == [2 * Foundation_exp(7.5), -3 * Foundation_exp(-7.5)])
        // Logits are 0: each feature costs log 2.
        #expect(abs(evaluation.reconstructionPerSample[0] - 2 * 0.6931471805599453) <= 1e-15)
        #expect(evaluation.gradient.allSatisfy { $0.isFinite })
        #expect(abs(evaluation.gradient[encoderBias.lowerBoundIndex + 2] - 0.5 * Foundation_expm1(15)) <= 1e-9 * Foundation_expm1(15))
        // Decoder weights see z of size 2e^7.5 ≈ 3616 and stay finite.
        let decoded = try model.decode(latent: [1e6, -1e6], rows: 1, parameters: parameters)
        #expect(decoded == [0.5, 0.5])
    }

    @Test("VAE inputs outside [0, 1] are typed errors")
    func vaeDomain() throws {
        let model = try VariationalAutoencoder(featureCount: 2, latentDimension: 1, hiddenUnits: nil, l2: 0)
        let context = RoundContext(seed: 0, round: 1)
        for precision in Precision.allCases {
            let block = try Block(features: [0.5, 1, 0, 1.5, .nan, 0.25], labels: [0, 0, 0], columns: 2, id: 7, precision: precision)
            let expected = ModelError.dimension(
                "vae: block 7, row 1, feature 1 is 1.5; VAE inputs must lie in [0, 1] (scale features to [0, 1] instead "
                    + "of standardising them)")
            // The block remembers the check; the second round throws the same error.
            for _ in 0..<2 {
                #expect(throws: expected) { try model.sums(block, model.initialParameters(), context) }
            }
            #expect(block.firstFeatureOutsideUnitInterval == 3)
            let clean = try Block(features: [0.5, 1, 0, 1], labels: [0, 0], columns: 2, precision: precision)
            #expect(clean.firstFeatureOutsideUnitInterval == nil)
            #expect(try model.sums(clean, model.initialParameters(), context).allSatisfy(\.isFinite))
        }
        let nan = try Block(features: [0.5, -0.0, .nan, 1], labels: [0, 0], columns: 2)
        #expect(nan.firstFeatureOutsideUnitInterval == 2)
        #expect(throws: ModelError.dimension(
            "vae: row 0, feature 1 is -0.5; VAE inputs must lie in [0, 1] (scale features to [0, 1] instead of "
                + "standardising them)")) {
            try model.evaluate(inputs: [0.5, -0.5], rows: 1, noise: [0], parameters: model.initialParameters())
        }
    }

    @Test("reconstruct decodes the posterior mean")
    func reconstruct() throws {
        let model = try VariationalAutoencoder(featureCount: 3, latentDimension: 2, hiddenUnits: 4, l2: 0)
        let parameters = model.initialParameters()
        let x = [0.0, 1, 0.5, 1, 1, 0]
        let evaluation = try model.evaluate(inputs: x, rows: 2, noise: [0, 0, 0, 0], parameters: parameters)
        let reconstruction = try model.reconstruct(inputs: x, rows: 2, parameters: parameters)
        let expected = evaluation.decoderLogits.map { 1 / (1 + Foundation_exp(-$0)) }
        #expect(zip(reconstruction, expected).allSatisfy { abs($0 - $1) <= 1e-15 })
        #expect(try model.decode(latent: evaluation.mean, rows: 2, parameters: parameters) == reconstruction)
    }

    // MARK: - Specs and initial parameters

    @Test("ModelSpec builds both models and rejects missing or invalid hyper-parameters")
    func specs() throws {
        let triplet = try ModelSpec(featureCount: 4, l2: 0.01, .triplet(TripletSettings(classCount: 3, embeddingDimension: 2, hiddenUnits: 8, margin: 0.5, pairObjective: .tripletSemiHard))).makeModel()
        #expect(triplet.layout.tensors.map(\.name) == ["W1", "b1", "W2"])
        guard case .triplet(let settings) = triplet.spec.configuration else {
            Issue.record("\(triplet.spec)")
            return
        }
        #expect(settings.pairObjective == .tripletSemiHard)
        #expect(try triplet.spec.makeModel().spec == triplet.spec)
        let vae = try ModelSpec(featureCount: 6, l2: 0, .vae(latentDimension: 2)).makeModel()
        #expect(vae.layout.tensors.map(\.name) == ["enc_W", "enc_b", "dec_W", "dec_b"])
        #expect(try vae.spec.makeModel().spec == vae.spec)
        // Settings that are missing cannot be written (each kind's case carries its own); invalid values throw.
        let invalid: [ModelSpec] = [
            ModelSpec(featureCount: 4, l2: 0, .triplet(TripletSettings(classCount: 3, embeddingDimension: 2, margin: -1))),
            ModelSpec(featureCount: 4, l2: 0, .triplet(TripletSettings(classCount: 3, embeddingDimension: 0))),
            ModelSpec(featureCount: 4, l2: 0, .triplet(TripletSettings(classCount: 1, embeddingDimension: 2))),
            ModelSpec(featureCount: 4, l2: 0, .triplet(TripletSettings(classCount: 3, embeddingDimension: 2, hiddenUnits: 0))),
            ModelSpec(featureCount: 4, l2: 0, .vae(latentDimension: 0)),
            ModelSpec(featureCount: 4, l2: 0, .vae(latentDimension: 2, hiddenUnits: -2)),
            ModelSpec(featureCount: 0, l2: 0, .vae(latentDimension: 2)),
        ]
        for spec in invalid {
            #expect(throws: ModelError.self, "\(spec)") { try spec.makeModel() }
        }
    }

    @Test("initial parameters: deterministic Glorot-uniform weights, zero biases", arguments: [ModelKind.triplet, .vae])
    func initialParameters(kind: ModelKind) throws {
        let spec = ModelSpec(
            featureCount: 5, l2: 0,
            kind == .vae
                ? .vae(latentDimension: 3, hiddenUnits: 7)
                : .triplet(TripletSettings(classCount: 2, embeddingDimension: 3, hiddenUnits: 7)))
        let model = try spec.makeModel()
        let parameters = model.initialParameters()
        #expect(parameters == (try spec.makeModel()).initialParameters())
        for tensor in model.layout.tensors {
            let values = Array(parameters[tensor.range])
            if tensor.regularized {
                let limit = (6.0 / Double(tensor.shape[0] + tensor.shape[1])).squareRoot()
                #expect(values.allSatisfy { abs($0) < limit && $0 != 0 }, "\(tensor.name)")
                #expect(Set(values).count == values.count, "\(tensor.name) values are distinct")
            } else {
                #expect(values.allSatisfy { $0 == 0 }, "\(tensor.name)")
            }
        }
    }
}

extension ParameterTensor {
    fileprivate var lowerBoundIndex: Int { range.lowerBound }
}

extension BlockStorage {
    fileprivate var doubleFeatures: [Double] {
        switch self {
        case .float32(let features, _): features.map(Double.init)
        case .float64(let features, _): features
        }
    }
}

#if canImport(Glibc)
import Glibc
private func Foundation_exp(_ x: Double) -> Double { Glibc.exp(x) }
private func Foundation_expm1(_ x: Double) -> Double { Glibc.expm1(x) }
#elseif canImport(Darwin)
import Darwin
private func Foundation_exp(_ x: Double) -> Double { Darwin.exp(x) }
private func Foundation_expm1(_ x: Double) -> Double { Darwin.expm1(x) }
#endif
