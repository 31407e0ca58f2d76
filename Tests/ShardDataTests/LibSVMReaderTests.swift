import Foundation
import ShardData
import ShardNumerics
import Testing

/// libsvm / svmlight text read into dense rows.
extension ShardDataSuite {
    private static func libsvmError(_ text: String, width: Int? = nil) -> DataError? {
        do {
            _ = try LibSVMReader.parse(bytes: Array(text.utf8), source: "d.svm", width: width)
            return nil
        } catch {
            return error
        }
    }

    @Test("missing indices are 0; names f1…fD after the indices; comments and blank lines keep line numbers")
    func libsvmDenseRows() throws {
        let text = "# exported\n+1 1:0.5 3:2\n0 2:-1e-3   # a comment\n\n-1\t1:7\r\n"
        let dataset = try LibSVMReader.parse(bytes: Array(text.utf8), source: "d.svm")
        #expect(dataset.featureNames == ["f1", "f2", "f3"] && dataset.labelName == "label")
        #expect(dataset.features.map { $0 } == [0.5, 0, 2, 0, -1e-3, 0, 7, 0, 0])
        #expect(dataset.labels == [1, 0, -1])
        #expect(dataset.lineNumbers == [2, 3, 5])
        // A width asked for (the training data's) pads with zeros.
        let wider = try LibSVMReader.parse(bytes: Array("1 2:3\n".utf8), source: "d.svm", width: 4)
        #expect(wider.features.map { $0 } == [0, 3, 0, 0])
    }

    @Test("libsvm values are the CSV reader's values, bit for bit")
    func libsvmMatchesCSV() throws {
        var random = SplitMix64(seed: 9)
        var csv = "f1,f2,f3,label\n", libsvm = ""
        for _ in 0..<300 {
            let values = (0..<3).map { _ in String(format: "%.17g", Double(bitPattern: random.next() >> 2)) }
            let label = String(random.next() % 2)
            csv += values.joined(separator: ",") + ",\(label)\n"
            libsvm += label + " " + values.enumerated().map { "\($0.offset + 1):\($0.element)" }.joined(separator: " ") + "\n"
        }
        let fromCSV = try CSVReader.parse(text: csv, source: "d.csv")
        let fromLibSVM = try LibSVMReader.parse(bytes: Array(libsvm.utf8), source: "d.svm")
        #expect(fromLibSVM.features.map(\.bitPattern) == fromCSV.features.map(\.bitPattern))
        #expect(fromLibSVM.labels == fromCSV.labels && fromLibSVM.featureNames == fromCSV.featureNames)
    }

    @Test("the width limit and malformed lines are refused with file:line:column")
    func libsvmErrors() {
        let limit = LibSVMReader.maximumWidth
        #expect(
            Self.libsvmError("1 1:1\n0 2:1 \(limit + 1):1\n")?.description
                == "d.svm:2:7: feature index \(limit + 1) is too large: at most \(limit) features are read, because "
                + "libsvm rows are stored densely (rows × features × 8 bytes); reduce the features first")
        #expect(Self.libsvmError("1 \(limit):1\n") == nil)
        #expect(
            Self.libsvmError("1 1:1 5:2\n", width: 4)?.description
                == "d.svm:1:7: feature index 5 is too large: the data has 4 features")
        #expect(Self.libsvmError("1 3:1 2:1\n")?.description == "d.svm:1:7: index 2 after index 3: indices must increase along a line")
        #expect(Self.libsvmError("1 3:1 3:1\n")?.description == "d.svm:1:7: index 3 after index 3: indices must increase along a line")
        #expect(Self.libsvmError("1 0:1\n")?.description == "d.svm:1:3: in \"0:1\" the index is not a positive integer (indices are 1-based)")
        #expect(Self.libsvmError("1 99999999999999999999999:1\n")?.description.hasPrefix("d.svm:1:3: feature index") == true)
        #expect(Self.libsvmError("1 2:x\n")?.description == "d.svm:1:5: the value \"x\" of index 2 is not a finite number")
        #expect(Self.libsvmError("1 2:nan\n")?.description == "d.svm:1:5: the value \"nan\" of index 2 is not a finite number")
        #expect(Self.libsvmError("yes 1:1\n")?.description == "d.svm:1:1: the label \"yes\" is not a finite number")
        #expect(Self.libsvmError("1 7\n")?.description == "d.svm:1:3: \"7\" is not an index:value pair")
        #expect(Self.libsvmError("1 qid:3 1:2\n")?.description == "d.svm:1:3: qid: (ranking groups) is not supported")
        #expect(Self.libsvmError("# nothing\n\n") == .noDataRows(path: "d.svm"))
        #expect(Self.libsvmError("1\n0\n") == .noFeatureColumns(path: "d.svm", labelName: "label"))
    }

    @Test("the format is told by --format or the extension")
    func dataFormatFromName() {
        #expect(DataFormat.inferred(path: "a.svm") == .libsvm && DataFormat.inferred(path: "a.LIBSVM.gz") == .libsvm)
        #expect(DataFormat.inferred(path: "a.csv") == .csv && DataFormat.inferred(path: "a.tsv.gz") == .csv)
    }
}
