/// The two ways binary labels are written: {0, 1} (logistic models) or {-1, +1} (SVMs).
///
/// ```text
/// zeroOne → plusMinusOne:   y' = 2y − 1
/// plusMinusOne → zeroOne:   y' = (y + 1) / 2
/// ```
public enum BinaryLabelEncoding: String, Sendable, Codable, CaseIterable {
    case zeroOne
    case plusMinusOne

    /// The label of the negative class: 0 or -1.
    public var negativeLabel: Double { self == .zeroOne ? 0 : -1 }
}
