import Foundation
import Testing
import _TestSupport

/// Sizes from flags and inputs that are not regular files end in a message and exit status at once, never in a
/// trap, a huge allocation or a blocked read (each of these crashed or hung a release build before).
@Suite("End to end: sizes and inputs checked before use", .serialized)
struct InputSizesEndToEndTests {
    static func data(_ name: String) -> String { ReferenceData.repositoryRoot.appendingPathComponent("data/\(name)").path }

    /// Runs `shardtrain arguments`; returns the status, stderr and the seconds it took.
    static func run(_ arguments: [String], in directory: TemporaryDirectory) throws -> (Int32, String, Double) {
        let start = ContinuousClock.now
        let child = try ChildProcess(arguments, directory: directory.url)
        let status = try #require(child.wait(timeout: 60), "timed out: \(arguments)")
        return (status, child.stderr, (ContinuousClock.now - start) / .seconds(1))
    }

    @Test(
        "--hidden and --classes that trapped (SIGILL, SIGABRT) exit with a message naming the flag or field",
        arguments: [
            (["--model", "vae", "--hidden", "4611686018427387904"], "the parameter count exceeds 9223372036854775807"),
            (["--model", "vae", "--hidden", "100000000"], "hiddenUnits 100000000"),
            (["--model", "triplet", "--hidden", "100000000"], "hiddenUnits 100000000"),
            (["--model", "softmax", "--classes", "1099511627776"], "classCount 1099511627776"),
        ])
    func sizesThatTrapped(flags: [String], message: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (status, stderr, seconds) = try Self.run(
            ["train", "--data", Self.data("digits.csv"), "--optimizer", "adam"] + flags, in: directory)
        // 64 when the flags alone are too large (refused before the data is read), 1 when the model built from the
        // data's 64 features is (a machine with more memory than one feature needs).
        #expect(status == 64 || status == 1, "\(status): \(stderr)")
        #expect(stderr.contains(message), "\(stderr)")
        #expect(stderr.contains("available") || stderr.contains("exceeds 9223372036854775807"), "\(stderr)")
        #expect(!stderr.contains("Fatal error"), "\(stderr)")
        #expect(seconds < 20, "took \(seconds) s")
    }

    @Test("a named pipe with no writer, /dev/zero and a directory are refused at once as --data, --rows, --test-data or --labels")
    func nonRegularInputs() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fifo = directory.path("pipe.csv")
        #expect(mkfifo(fifo, 0o600) == 0)
        let csv = Self.data("breast_cancer.csv")
        let numpy = ReferenceData.repositoryRoot.appendingPathComponent("Tests/ShardDataTests/Fixtures/X_f8.npy").path
        let cases: [([String], String)] = [
            (["--data", fifo], "\(fifo): cannot read the file: not a regular file (a named pipe)"),
            (["--data", "/dev/zero"], "/dev/zero: cannot read the file: not a regular file (a device)"),
            (["--data", csv, "--rows", fifo], "\(fifo): cannot read the file: not a regular file (a named pipe)"),
            (["--data", csv, "--test-data", fifo], "\(fifo): cannot read the file: not a regular file (a named pipe)"),
            (["--data", directory.url.path], "Is a directory"),
            (["--data", numpy, "--labels", fifo], "\(fifo): cannot read the file: not a regular file (a named pipe)"),
        ]
        for (arguments, message) in cases {
            let (status, stderr, seconds) = try Self.run(["train"] + arguments, in: directory)
            #expect(status == 1, "\(arguments): \(status) \(stderr)")
            #expect(stderr.contains(message), "\(arguments): \(stderr)")
            #expect(seconds < 2, "\(arguments) took \(seconds) s")
        }
    }
}
