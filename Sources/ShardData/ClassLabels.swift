import ShardNumerics

/// Class-index labels for multi-class models (softmax, triplet): each label must be an integer 0…K−1.
extension Dataset {
    /// The number of classes: `classCount` if given (every label must be below it), otherwise the largest
    /// label + 1. Throws on the first row whose label is not a non-negative integer in range, naming its line,
    /// and `.tooLarge` when K counts (8 bytes per class, `classSupports`) exceed `memory`.
    public func classCount(declared classCount: Int? = nil, memory: MachineMemory = .current()) throws(DataError)
        -> Int
    {
        var largest = -1
        for (row, label) in labels.enumerated() {
            let valid = label >= 0 && label.rounded() == label && label < Double(classCount ?? Int(Int32.max))
            guard valid else {
                throw .invalidClassLabel(
                    path: sourcePath, line: lineNumbers[row], column: labelColumnNumber, columnName: labelName,
                    value: label, classCount: classCount)
            }
            largest = max(largest, Int(label))
        }
        let count = classCount ?? (largest + 1)
        guard count >= 2 else { throw .tooFewClasses(path: sourcePath, classCount: count) }
        if let shortfall = memory.shortfall(needing: CheckedSize.product([count, MemoryLayout<Int>.stride])) {
            throw .tooLarge(
                source: sourcePath,
                detail: "\(count) classes (labels are class indices 0…K−1): counting the rows of each \(shortfall)")
        }
        return count
    }

    /// The number of rows of each class 0…classCount−1 (labels must already be valid class indices).
    public func classSupports(classCount: Int) -> [Int] {
        var supports = [Int](repeating: 0, count: classCount)
        for label in labels where label >= 0 && Int(label) < classCount { supports[Int(label)] += 1 }
        return supports
    }
}
