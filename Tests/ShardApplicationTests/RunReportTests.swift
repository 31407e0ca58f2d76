import Testing

@testable import ShardApplication

/// The report's own computations: the PCA of embeddings and the settings table.
@Suite struct RunReportTests {
    @Test("PCA of points on the line y = x: one component carries all variance, projections are signed distances")
    func principalComponentsOfALine() {
        let pca = PrincipalComponents([[1, 1], [-1, -1], [2, 2], [-2, -2]])
        #expect(abs(pca.explainedVariance[0] - 1) < 1e-12 && abs(pca.explainedVariance[1]) < 1e-12)
        let root2 = Double(2).squareRoot()
        let expected = [root2, -root2, 2 * root2, -2 * root2]
        for (point, distance) in zip(pca.projected, expected) {
            #expect(abs(point.0 - distance) < 1e-12 && abs(point.1) < 1e-12)
        }
    }

    @Test("Jacobi eigenvalues of [[2, 1], [1, 2]] are 3 and 1 (golden: (2 − λ)² = 1), of diag(4, 9, 1) the diagonal")
    func symmetricEigen() {
        let (values, vectors) = PrincipalComponents.symmetricEigen([[2, 1], [1, 2]])
        #expect(abs(values.max()! - 3) < 1e-12 && abs(values.min()! - 1) < 1e-12)
        let top = values.firstIndex(of: values.max()!)!
        #expect(abs(abs(vectors[0][top]) - Double(0.5).squareRoot()) < 1e-12 && abs(vectors[0][top] - vectors[1][top]) < 1e-12)
        #expect(PrincipalComponents.symmetricEigen([[4, 0, 0], [0, 9, 0], [0, 0, 1]]).values == [4, 9, 1])
    }

    @Test("PCA variance shares of an axis-aligned cloud: variances 4 and 1 of 5 (x = ±2, y = ±1)")
    func varianceShares() {
        let pca = PrincipalComponents([[2, 1], [-2, 1], [2, -1], [-2, -1]])
        #expect(abs(pca.explainedVariance[0] - 0.8) < 1e-12 && abs(pca.explainedVariance[1] - 0.2) < 1e-12)
    }

    @Test("Settings flatten to dotted keys, integers exact (a seed above 2⁵³), booleans and nested objects")
    func flattenedSettings() {
        struct Inner: Encodable { let margin: Double; let hiddenUnits: [Int] }
        struct Settings: Encodable { let seed: UInt64; let standardize: Bool; let model: Inner; let label: String?; let name: String }
        let rows = RunReport.flattened(
            Settings(
                seed: 18_446_744_073_709_551_557, standardize: true, model: Inner(margin: 0.5, hiddenUnits: Array(1...14)), label: nil,
                name: "<b>"))
        #expect(
            rows == [
                ["model.hidden_units", "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, … (14 values)"], ["model.margin", "0.5"], ["name", "<b>"],
                ["seed", "18446744073709551557"], ["standardize", "true"],
            ])
    }
}
