// The worked examples of the loss-functions tutorial the product grew from, rerun with our losses.

/// One worked example: its inputs, the value the tutorial printed, and a way to compute ours.
public struct TutorialExample: Sendable {
    /// Short title ("MSE", "Focal (α on every sample)", ...).
    public let title: String
    /// The `shardtrain loss` name of the loss used.
    public let loss: String
    /// The inputs as the tutorial states them.
    public let inputs: String
    /// The value printed in the tutorial's `# Output:` comment (all of these are wrong; the correct values are
    /// derived in Tests/Reference/TUTORIAL_VALUES.md).
    public let claimedValue: Double
    private let compute: @Sendable () throws(LossError) -> Double

    init(title: String, loss: String, inputs: String, claimedValue: Double, compute: @escaping @Sendable () throws(LossError) -> Double) {
        self.title = title
        self.loss = loss
        self.inputs = inputs
        self.claimedValue = claimedValue
        self.compute = compute
    }

    /// Our value (mean reduction, float64).
    public func ourValue() throws(LossError) -> Double { try compute() }

    /// The examples in tutorial order. The focal example is given in both α conventions because
    /// the tutorial's code applies α to every sample while the paper it cites uses α_t.
    public static let all: [TutorialExample] = [
        TutorialExample(
            title: "MSE", loss: "mse", inputs: "y=[1,2,3,4], ŷ=[1.1,2.2,2.8,4.2]", claimedValue: 0.0450
        ) { () throws(LossError) -> Double in
            try MeanSquaredError().evaluate(target: [1, 2, 3, 4], prediction: [1.1, 2.2, 2.8, 4.2]).value
        },
        TutorialExample(
            title: "Binary cross-entropy", loss: "bce_prob", inputs: "y=[1,0,1,0], p=[0.9,0.1,0.8,0.2], eps=1e-15",
            claimedValue: 0.2027
        ) { () throws(LossError) -> Double in
            try BinaryCrossEntropy(epsilon: 1e-15).evaluate(target: [1, 0, 1, 0], prediction: [0.9, 0.1, 0.8, 0.2]).value
        },
        TutorialExample(
            title: "Categorical cross-entropy", loss: "cce_prob",
            inputs: "one-hot diagonal targets, p=[[.9,.1,0],[.1,.8,.1],[.1,.2,.7]], eps=1e-15", claimedValue: 0.2877
        ) { () throws(LossError) -> Double in
            let probabilities = try Matrix<Double>([[0.9, 0.1, 0], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7]])
            return try CategoricalCrossEntropy(epsilon: 1e-15).evaluate(
                targets: .distributions(try Matrix([[1, 0, 0], [0, 1, 0], [0, 0, 1]])), probabilities: probabilities
            ).value
        },
        TutorialExample(
            title: "Huber (δ=1)", loss: "huber", inputs: "y=[1,2,3,4], ŷ=[1.1,2.2,2.8,6.0]", claimedValue: 0.4225
        ) { () throws(LossError) -> Double in
            try HuberLoss(delta: 1).evaluate(target: [1, 2, 3, 4], prediction: [1.1, 2.2, 2.8, 6.0]).value
        },
        TutorialExample(
            title: "Focal (γ=2, α=0.25 on every sample, as the tutorial's code)", loss: "focal_prob",
            inputs: "y=[1,0,1,0,1], p=[.8,.2,.6,.3,.9]", claimedValue: 0.0843
        ) { () throws(LossError) -> Double in
            try FocalLoss(gamma: 2, weighting: .everySample(alpha: 0.25))
                .evaluate(target: [1, 0, 1, 0, 1], prediction: [0.8, 0.2, 0.6, 0.3, 0.9]).value
        },
        TutorialExample(
            title: "Focal (γ=2, α_t=0.25 by class, RetinaNet)", loss: "focal_prob",
            inputs: "y=[1,0,1,0,1], p=[.8,.2,.6,.3,.9]", claimedValue: 0.0843
        ) { () throws(LossError) -> Double in
            try FocalLoss(gamma: 2, weighting: .byClass(alpha: 0.25))
                .evaluate(target: [1, 0, 1, 0, 1], prediction: [0.8, 0.2, 0.6, 0.3, 0.9]).value
        },
    ]
}
