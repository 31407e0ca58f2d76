/// Bad input to a numeric kernel: a buffer of the wrong length or a value outside a function's domain.
public enum KernelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The output buffer must hold `expected` doubles (`columns + 2` for the logistic sums,
    /// `(columns + 1)·Q + 1` for the linear-model sums).
    case outputLength(expected: Int, actual: Int)
    /// The weight vector must hold one value per column.
    case weightsLength(expected: Int, actual: Int)
    /// The parameter vector of a linear model with Q outputs must hold `(columns + 1)·Q` values.
    case parametersLength(expected: Int, actual: Int)
    /// A loss parameter the kernel cannot use (a level count of 0, class weights of the wrong length).
    case invalidLoss(String)
    /// `values[index]` lies outside the domain of the function that was asked for.
    case outsideDomain(function: String, index: Int, value: Double)

    public var description: String {
        switch self {
        case .outputLength(let expected, let actual):
            "output buffer holds \(actual) doubles, expected \(expected)"
        case .weightsLength(let expected, let actual):
            "weights hold \(actual) values, expected \(expected) (one per column)"
        case .parametersLength(let expected, let actual):
            "parameters hold \(actual) values, expected \(expected) ((columns + 1) per output)"
        case .invalidLoss(let message):
            "linear loss kernel: \(message)"
        case .outsideDomain(let function, let index, let value):
            "\(function): value \(value) at index \(index) is outside the domain"
        }
    }
}
