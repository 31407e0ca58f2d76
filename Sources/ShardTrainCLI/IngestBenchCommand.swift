import ArgumentParser
import Foundation
import ShardApplication
import ShardData
import ShardNumerics

/// `shardtrain bench ingest`: how fast data files become a `Dataset`, beside a plain read of the same bytes.
///
/// ```text
/// files      a CSV of rows × (columns + 1) fields ("-1.234567891", label 0/1 last), and the same values as a
///            float64 .npy of shape (rows, columns + 1), in a temporary folder (removed afterwards)
/// read pass  the file's bytes read with pread in 2 MiB chunks and summed (page cache warm), one thread
/// MB/s       file bytes / seconds, best of --repetitions after a warm-up
/// ratio      MB/s ÷ read-pass MB/s of the same file
/// ```
public struct IngestBenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Time CSV (1 thread, all threads) and .npy ingest against a read pass of the same bytes.",
        discussion: "Build with -c release. Example: shardtrain bench ingest --rows 1000000 --columns 20 --json")

    @Option(help: "Rows of the generated files.")
    public var rows = 1_000_000

    @Option(help: "Feature columns (the label is one more).")
    public var columns = 20

    @Option(help: "Measure this CSV file instead of generated data (its values are written to a temporary .npy).")
    public var csv: String?

    @Option(help: "Timed repetitions per measurement (the best is reported).")
    public var repetitions = 5

    @Flag(help: "Also print one JSON object as the last line.")
    public var json = false

    public init() {}

    public func validate() throws {
        guard rows >= 1, columns >= 1, repetitions >= 1 else {
            throw ValidationError("--rows, --columns and --repetitions must be positive")
        }
    }

    struct Measurement {
        let name: String
        let bytes: Int
        let seconds: Double
        /// CPU seconds (user + system, all threads) of the fastest run: robust when other processes share the cores.
        let cpuSeconds: Double
        var megabytesPerSecond: Double { Double(bytes) / seconds / 1e6 }
    }

    public func run() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("shardtrain-ingest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let npyPath = folder.appendingPathComponent("data.npy").path
        let csvPath = csv ?? folder.appendingPathComponent("data.csv").path
        if csv == nil {
            try Self.writeFiles(rows: rows, columns: columns, csvPath: csvPath, npyPath: npyPath)
        } else {
            try Self.writeNumpy(try CSVReader.read(path: csvPath), to: npyPath)
        }
        let csvBytes = try Self.fileSize(csvPath), npyBytes = try Self.fileSize(npyPath)

        let threads = ThreadCount.availableCores
        // Every reader must produce the same table, or the timings compare different work.
        var reference: Dataset?
        var agree = true
        func check(_ dataset: Dataset) {
            guard let reference else { return reference = dataset }
            agree = agree && dataset.features == reference.features && dataset.labels == reference.labels
        }
        let measurements = [
            try measure("read pass (csv bytes)", bytes: csvBytes) { _ = try Self.readPass(csvPath) },
            try measure("csv, 1 thread", bytes: csvBytes) { check(try CSVReader.read(path: csvPath, threads: 1)) },
            try measure("csv, \(threads) threads", bytes: csvBytes) {
                check(try CSVReader.read(path: csvPath, threads: threads))
            },
            try measure("read pass (npy bytes)", bytes: npyBytes) { _ = try Self.readPass(npyPath) },
            try measure(".npy", bytes: npyBytes) { check(try NumpyReader.read(path: npyPath)) },
        ]
        let (rowCount, columnCount) = (reference?.rowCount ?? rows, reference?.featureCount ?? columns)
        reference = nil
        guard agree else { throw ValidationError("the readers disagree on the generated data") }
        let readCSV = measurements[0].megabytesPerSecond, readNumpy = measurements[3].megabytesPerSecond
        func ratio(_ m: Measurement) -> Double { m.megabytesPerSecond / (m.name.contains("npy") ? readNumpy : readCSV) }
        print(
            "ingest of \(csv ?? "generated data"), \(rowCount) × \(columnCount) features + label: CSV \(csvBytes / 1_000_000) MB, .npy "
                + "\(npyBytes / 1_000_000) MB (float64); best of \(repetitions)")
        print("what                      seconds     MB/s    ÷ read pass   cpu seconds")
        for m in measurements {
            let name = m.name.padding(toLength: 24, withPad: " ", startingAt: 0)
            print(name + String(format: "  %7.3f  %8.1f   %6.3f        %7.3f", m.seconds, m.megabytesPerSecond, ratio(m), m.cpuSeconds))
        }
        if json {
            let object: [String: Any] = [
                "benchmark": "ingest", "rows": rowCount, "columns": columnCount, "threads": threads,
                "csv_bytes": csvBytes, "npy_bytes": npyBytes,
                "measurements": measurements.map {
                    ["name": $0.name, "seconds": $0.seconds, "cpu_seconds": $0.cpuSeconds, "megabytes_per_second": $0.megabytesPerSecond,
                     "ratio_to_read_pass": ratio($0)] as [String: Any]
                },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// The wall and CPU seconds of the fastest of `repetitions` runs after one warm-up run.
    private func best(_ body: () throws -> Void) throws -> (wall: Double, cpu: Double) {
        try body()
        var fastest = (wall: Double.infinity, cpu: Double.infinity)
        for _ in 0..<repetitions {
            let cpuStart = Self.processCPUSeconds()
            let start = ContinuousClock.now
            try body()
            let elapsed = ContinuousClock.now - start
            let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            if wall < fastest.wall { fastest = (wall, Self.processCPUSeconds() - cpuStart) }
        }
        return fastest
    }

    private static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) * 1e-6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    private func measure(_ name: String, bytes: Int, _ body: () throws -> Void) throws -> Measurement {
        let (wall, cpu) = try best(body)
        return Measurement(name: name, bytes: bytes, seconds: wall, cpuSeconds: cpu)
    }

    private static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Reads the whole file with `pread` in 2 MiB chunks and sums its bytes as 64-bit words.
    private static func readPass(_ path: String) throws -> UInt64 {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw ValidationError("\(path): cannot open") }
        defer { close(descriptor) }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 << 20, alignment: 64)
        defer { chunk.deallocate() }
        var offset = 0, sum: UInt64 = 0
        while true {
            let count = pread(descriptor, chunk.baseAddress, chunk.count, off_t(offset))
            guard count > 0 else { break }
            let words = chunk.bindMemory(to: UInt64.self)
            for index in 0..<(count / 8) { sum &+= words[index] }
            offset += count
        }
        return sum
    }

    /// A version 1.0 `.npy` header for a C-order `<f8` array of shape (rows, columns), padded to 64 bytes.
    private static func numpyHeader(rows: Int, columns: Int) -> [UInt8] {
        var dict = Array("{'descr': '<f8', 'fortran_order': False, 'shape': (\(rows), \(columns)), }".utf8)
        while (10 + dict.count + 1) % 64 != 0 { dict.append(UInt8(ascii: " ")) }
        dict.append(UInt8(ascii: "\n"))
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(dict.count & 0xFF), UInt8(dict.count >> 8)] + dict
    }

    /// Writes the features and the label (last column) of `dataset` as a float64 `.npy` (little-endian hosts).
    private static func writeNumpy(_ dataset: Dataset, to path: String) throws {
        guard let npy = fopen(path, "w") else { throw ValidationError("cannot create \(path)") }
        defer { fclose(npy) }
        let header = numpyHeader(rows: dataset.rowCount, columns: dataset.featureCount + 1)
        fwrite(header, 1, header.count, npy)
        let width = dataset.featureCount
        for row in 0..<dataset.rowCount {
            let values = Array(dataset.features[row * width..<(row + 1) * width]) + [dataset.labels[row]]
            values.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, npy) }
        }
    }

    /// Writes the CSV (9 decimals per feature, a 0/1 label) and the same values, correctly rounded, as a .npy.
    private static func writeFiles(rows: Int, columns: Int, csvPath: String, npyPath: String) throws {
        guard let csv = fopen(csvPath, "w"), let npy = fopen(npyPath, "w") else {
            throw ValidationError("cannot create the benchmark files in \(csvPath)")
        }
        defer {
            fclose(csv)
            fclose(npy)
        }
        var header = Array(((0..<columns).map { "f\($0)" } + ["label"]).joined(separator: ",").utf8)
        header.append(UInt8(ascii: "\n"))
        fwrite(header, 1, header.count, csv)
        let npyHeader = Self.numpyHeader(rows: rows, columns: columns + 1)
        fwrite(npyHeader, 1, npyHeader.count, npy)
        var random = SplitMix64(seed: 2024)
        var line: [UInt8] = []
        var values: [Double] = []
        for _ in 0..<rows {
            line.removeAll(keepingCapacity: true)
            values.removeAll(keepingCapacity: true)
            for _ in 0..<columns {
                let bits = random.next()
                let fieldStart = line.count
                if bits & 1 == 1 { line.append(UInt8(ascii: "-")) }
                line.append(UInt8(ascii: "0") + UInt8((bits >> 1) % 3))
                line.append(UInt8(ascii: "."))
                var fraction = (bits >> 8) % 1_000_000_000
                var digits = [UInt8](repeating: UInt8(ascii: "0"), count: 9)
                for position in stride(from: 8, through: 0, by: -1) {
                    digits[position] += UInt8(fraction % 10)
                    fraction /= 10
                }
                line += digits
                let value = line[fieldStart...].withUnsafeBufferPointer { DecimalField.parse($0) }
                guard case .number(let parsed) = value else { throw ValidationError("generated an unreadable field") }
                values.append(parsed)
                line.append(UInt8(ascii: ","))
            }
            let label = random.next() & 1
            line.append(UInt8(ascii: "0") + UInt8(label))
            line.append(UInt8(ascii: "\n"))
            values.append(Double(label))
            fwrite(line, 1, line.count, csv)
            values.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, npy) }
        }
    }
}
