/// Bad input to a numeric kernel: a buffer of the wrong length or a value outside a function's domain.
public enum KernelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The output buffer must hold `expected` doubles (`columns + 2` for the logistic sums).
    case outputLength(expected: Int, actual: Int)
    /// The weight vector must hold one value per column.
    case weightsLength(expected: Int, actual: Int)
    /// `values[index]` lies outside the domain of the function that was asked for.
    case outsideDomain(function: String, index: Int, value: Double)

    public var description: String {
        switch self {
        case .outputLength(let expected, let actual):
            "output buffer holds \(actual) doubles, expected \(expected) (columns + 2)"
        case .weightsLength(let expected, let actual):
            "weights hold \(actual) values, expected \(expected) (one per column)"
        case .outsideDomain(let function, let index, let value):
            "\(function): value \(value) at index \(index) is outside the domain"
        }
    }
}
