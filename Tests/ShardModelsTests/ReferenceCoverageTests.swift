import Testing
import _TestSupport

/// Every model in `models.json` has a reference test in this target.
@Suite("Reference coverage")
struct ReferenceCoverageTests {
    /// Model names this build implements; each has its reference test (LogisticRegressionTests,
    /// LinearModelTests, EmbeddingAndVAETests). A case of any other model fails the test below.
    static let implemented: Set<String> = [
        "logistic", "linear_svm", "logistic_focal", "quantile_linear", "quantile_multi", "softmax_regression",
        "triplet_linear", "triplet_mlp", "vae_linear", "vae_mlp",
    ]

    @Test("every model named in models.json is implemented (a reference folder with another model fails)")
    func everyReferenceModelIsImplemented() throws {
        for testCase in try #require(try ReferenceData.load("models.json")["cases"]?.array) {
            let name = try #require(testCase["model"]?.string, "a case without a model name")
            #expect(Self.implemented.contains(name), "unknown model \(name) in models.json")
        }
    }
}
