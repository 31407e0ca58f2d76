import ShardData
import Testing

/// Line numbers of rows read in file order are a range; selected rows list theirs.
extension ShardDataSuite {
    @Test("consecutive and listed line numbers compare by their lines and survive selection")
    func lineNumbersConsecutiveAndListed() throws {
        let consecutive = LineNumbers(first: 2, count: 4)
        #expect(Array(consecutive) == [2, 3, 4, 5])
        #expect(consecutive == LineNumbers([2, 3, 4, 5]))
        #expect(consecutive != [2, 3, 4])
        #expect(LineNumbers(first: 7, count: 0).isEmpty)
        let dataset = try CSVReader.parse(text: "a,y\n1,0\n2,1\n3,0\n4,1\n", source: "t.csv")
        #expect(dataset.lineNumbers == consecutive)
        let selected = try dataset.selectingRows([3, 0, 2])
        #expect(selected.lineNumbers == [5, 2, 4])
        #expect(try selected.selectingRows([2, 0]).lineNumbers == [4, 5])
    }
}
