import ShardLosses
import Testing

extension ShardLossesTests {
    /// The correct values of the tutorial's worked examples, each derived by hand (formula, intermediate
    /// numbers and a Python line) in Tests/Reference/TUTORIAL_VALUES.md.
    @Test func tutorialExamplesGiveTheCorrectValues() throws {
        let correct: [String: Double] = [
            // (0.1² + 0.2² + 0.2² + 0.2²) / 4
            "MSE": 0.0325,
            // −(2 ln 0.9 + 2 ln 0.8) / 4
            "Binary cross-entropy": 0.164252033486018,
            // −(ln 0.9 + ln 0.8 + ln 0.7) / 3
            "Categorical cross-entropy": 0.228393003636923,
            // (0.005 + 0.02 + 0.02 + (2 − 0.5)) / 4
            "Huber (δ=1)": 0.38625,
            // Σ −w (1 − p_t)² ln p_t / 5 with p_t = 0.8, 0.8, 0.6, 0.7, 0.9; w = 0.25 on every sample …
            "Focal (γ=2, α=0.25 on every sample, as the tutorial's code)": 0.006636896700937975,
            // … or w = 0.25 for y = 1 and 0.75 for y = 0
            "Focal (γ=2, α_t=0.25 by class, RetinaNet)": 0.010739545401643406,
        ]
        #expect(TutorialExample.all.count == correct.count)
        for example in TutorialExample.all {
            let expected = try #require(correct[example.title], "no derived value for \(example.title)")
            let ours = try example.ourValue()
            #expect(abs(ours - expected) <= 1e-12 * max(1, expected), "\(example.title): ours \(ours), derived \(expected)")
            #expect(abs(ours - example.claimedValue) > 1e-4, "\(example.title): the tutorial's printed value is wrong")
        }
    }
}
