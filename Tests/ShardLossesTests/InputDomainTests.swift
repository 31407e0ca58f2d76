import Foundation
import ShardLosses
import ShardNumerics
import Testing

/// Inputs at the edges of the losses' domains: eps too small for `Float`, NaN and infinite
/// predictions, frames without any finite logit, and rows that are not distributions.
extension ShardLossesTests {
    // MARK: - NaN and infinite predictions of the margin and triplet losses

    @Test func marginLossesRejectNaNScoresAndInfiniteLosses() throws {
        let losses: [any ElementwiseLoss] = [HingeLoss(), SquaredHingeLoss()]
        for loss in losses {
            let name = type(of: loss).name
            #expect(
                throws: LossError.invalidPrediction(
                    "\(name): score 1 is nan for label 1.0; scores must not be NaN, and infinite only with the label's "
                        + "sign (y s = -inf gives an infinite loss)")
            ) { try loss.evaluate(target: [1.0, 1], prediction: [0.5, .nan]) }
            #expect(throws: LossError.self) { try loss.evaluate(target: [-1.0], prediction: [Double.infinity]) }
            #expect(throws: LossError.self) { try loss.evaluate(target: [Float(1)], prediction: [-Float.infinity]) }
            // A label that is not ±1 is still reported as the target.
            #expect(throws: LossError.invalidTarget("\(name): label 0 is 0.0; labels must be -1 or +1")) {
                try loss.evaluate(target: [0.0], prediction: [Double.nan])
            }
            // An infinite score on the label's side has loss 0 and gradient 0.
            let right = try loss.evaluate(target: [1.0, -1], prediction: [.infinity, -.infinity])
            #expect(right.value == 0 && right.gradient.allSatisfy { $0 == 0 })
            // NaN anywhere in a long vector (generic vectorised loop, past the first block).
            var scores = [Float](repeating: 0.25, count: 2500)
            scores[2049] = .nan
            expectLossError("\(name) nan at 2049", isPrediction) { () throws(LossError) in
                _ = try loss.evaluate(target: [Float](repeating: -1, count: 2500), prediction: scores)
            }
        }
    }

    @Test func tripletRejectsNaNAndInfiniteEmbeddings() throws {
        let anchor = try Matrix<Double>([[0.0, 0], [1, 1]])
        let positive = try Matrix<Double>([[0.5, 0], [1, 1.5]])
        for distance in [TripletDistance.squaredEuclidean, .euclidean] {
            let triplet = try TripletLoss(margin: 1, distance: distance)
            let valid = try triplet.evaluate(anchor: anchor, positive: positive, negative: try Matrix([[3.0, 0], [1, 1.2]]))
            #expect(allFinite(valid.perSample))
            expectLossError("\(distance) NaN negative", isPrediction) { () throws(LossError) in
                _ = try triplet.evaluate(anchor: anchor, positive: positive, negative: try Matrix([[3.0, 0], [.nan, 1]]))
            }
            expectLossError("\(distance) NaN anchor", isPrediction) { () throws(LossError) in
                _ = try triplet.evaluate(anchor: try Matrix([[Double.nan, 0], [1, 1]]), positive: positive, negative: anchor)
            }
            // An infinitely far positive is an infinite loss.
            expectLossError("\(distance) infinite positive", isPrediction) { () throws(LossError) in
                _ = try triplet.evaluate(anchor: anchor, positive: try Matrix([[0.5, 0], [.infinity, 1]]), negative: anchor)
            }
            do {
                _ = try triplet.evaluate(anchor: anchor, positive: positive, negative: try Matrix([[3.0, 0], [.nan, 1]]))
            } catch {
                #expect(error.description.contains("row 1"), "\(error)")
            }
        }
    }
}
