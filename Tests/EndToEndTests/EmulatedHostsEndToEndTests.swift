import Foundation
import Testing
import _TestSupport

/// `scale --hosts`: the coordinator and workers in network namespaces of their own over rate-capped veth links, as
/// root on Linux with iproute2 (CI runs as root on a fresh Debian machine). Elsewhere the tests are skipped with the
/// reason; the prediction test runs anywhere.
@Suite("End to end: scale, its predictions, and emulated hosts", .serialized)
struct EmulatedHostsEndToEndTests {
    static let iris = ReferenceData.repositoryRoot.appendingPathComponent("data/iris.csv").path
    static let common = [
        "scale", "--data", iris, "--model", "softmax", "--standardize", "--optimizer", "gd", "--hosts", "2",
        "--bandwidth", "100mbit",
    ]

    /// Why namespaces cannot be made here, or nil when they can (root, `ip`, and a probe namespace made and removed).
    static let unavailable: String? = {
        guard geteuid() == 0 else { return "not root: network namespaces need CAP_NET_ADMIN" }
        guard let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first(where: FileManager.default.isExecutableFile)
        else { return "no `ip` (iproute2 is not installed)" }
        let probe = "st-\(getpid())-probe"
        guard run([ip, "netns", "add", probe]) == 0 else { return "`ip netns add` fails here (no namespaces in this container?)" }
        _ = run([ip, "netns", "delete", probe])
        return nil
    }()

    @discardableResult
    static func run(_ command: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The namespaces of process `pid`'s runs (`st-<pid>-…`).
    static func namespaces(of pid: Int32) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/var/run/netns")) ?? []
        return names.filter { $0.hasPrefix("st-\(pid)-") }.sorted()
    }

    /// Starts a run that would take minutes and waits until its four namespaces (bridge, coordinator, 2 workers)
    /// exist and its workers have joined.
    static func startLongRun(in directory: TemporaryDirectory) throws -> ChildProcess {
        let child = try ChildProcess(common + ["--rounds", "10000000"], directory: directory.url)
        let joined = child.waitForOutput(timeout: 20) { _, stderr in stderr.contains("the worker is ready") }
        #expect(joined, "\(child.stderr)")
        #expect(namespaces(of: child.pid).count == 4, "\(namespaces(of: child.pid))")
        return child
    }

    @Test(
        "2 hosts at 100 Mbit/s: identical parameters for 1 and 2 hosts, a JSON document, no namespace left (not even a SIGKILLed run's)",
        .disabled(if: unavailable != nil, Comment(rawValue: unavailable ?? "")))
    func sweepAndCleanUp() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // A run killed outright cannot remove its namespaces; the next run does.
        let killed = try Self.startLongRun(in: directory)
        kill(killed.pid, SIGKILL)
        #expect(killed.wait(timeout: 10) != nil)
        #expect(Self.namespaces(of: killed.pid).count == 4)
        // Nor its folder of CURVE keys (secret keys of a dead run): also the next run's to remove.
        let keyFolders = { () -> [String] in
            ((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).filter { $0.hasPrefix("shardtrain-\(killed.pid)-") }
        }
        #expect(keyFolders().count == 1, "\(keyFolders())")

        let documentPath = directory.path("scale.json")
        let child = try ChildProcess(
            Self.common + ["--rounds", "5", "--json", "--summary-json", documentPath], directory: directory.url)
        #expect(child.wait(timeout: 60) == 0, "\(child.stderr)")
        #expect(Self.namespaces(of: child.pid).isEmpty, "\(Self.namespaces(of: child.pid))")
        #expect(Self.namespaces(of: killed.pid).isEmpty, "\(Self.namespaces(of: killed.pid))")
        #expect(keyFolders().isEmpty, "\(keyFolders())")
        #expect(child.stderr.contains("emulated hosts: coordinator 198.18."), "\(child.stderr)")

        // --summary-json holds the document --json prints.
        #expect(try String(contentsOfFile: documentPath, encoding: .utf8) == child.stdout)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(child.stdout.utf8)) as? [String: Any])
        #expect(document["format"] as? String == "shardtrain-scale/1")
        #expect(document["identical_parameters"] as? Bool == true)
        let runs = try #require(document["runs"] as? [[String: Any]])
        #expect(runs.map { $0["workers"] as? Int } == [1, 2])
        let hashes = Set(runs.compactMap { $0["parameters_sha256"] as? String })
        #expect(hashes.count == 1 && hashes.first?.count == 64)
        let network = try #require(document["network"] as? [String: Any])
        #expect(network["kind"] as? String == "emulated-hosts")
        #expect(network["link_bits_per_second"] as? Double == 1e8)
        #expect(network["curve"] as? Bool == true)
        for run in runs {
            let round = try #require(run["round_seconds"] as? Double)
            let compute = try #require(run["compute_seconds"] as? Double)
            let communication = try #require(run["communication_seconds"] as? Double)
            #expect(round > 0 && compute > 0 && communication >= 0, "\(run)")
            #expect(abs(compute + communication - round) <= 1e-9 * round, "\(run)")
            // 15 parameters, 16 sums, 8 blocks: PARAMS 180 bytes per worker; PARTIALS 185 bytes for 1 worker
            // (the root), 2 × (44 + 141) for 2 (shards [0,4) and [4,8) are one node each).
            #expect(run["frame_bytes"] as? Int == (run["workers"] as? Int == 1 ? 365 : 730), "\(run)")
        }
    }

    @Test("--fit-workers 1,2 --predict-workers 3 on local workers: the prediction is printed before the count runs, and the document holds it with its error")
    func predictBeforeMeasuring() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let arguments = [
            "scale", "--data", Self.iris, "--model", "softmax", "--standardize", "--optimizer", "gd", "--block-rows", "30",
            "--fit-workers", "1,2", "--predict-workers", "3", "--rounds", "5",
        ]
        let text = try ChildProcess(arguments, directory: directory.url)
        #expect(text.wait(timeout: 60) == 0, "\(text.stderr)")
        let lines = text.stdout.components(separatedBy: "\n")
        let announced = try #require(lines.firstIndex { $0.hasPrefix("predicted before measuring: N=3 ") }, "\(text.stdout)")
        let table = try #require(lines.firstIndex { $0.hasPrefix("workers  role") })
        #expect(announced < table)
        // 150 rows in 5 blocks: no cluster count of 16 or more can be predicted, and the line says why.
        #expect(text.stdout.contains("not predicted: 16, 32, 64 workers (more than the 5 blocks"), "\(text.stdout)")

        let json = try ChildProcess(arguments + ["--json"], directory: directory.url)
        #expect(json.wait(timeout: 60) == 0, "\(json.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let runs = try #require(document["runs"] as? [[String: Any]])
        #expect(runs.map { $0["role"] as? String } == ["fit", "fit", "predict"])
        #expect((document["network"] as? [String: Any])?["kind"] as? String == "unix-socket")
        let predicted = runs[2]
        let model = try #require(predicted["model_round_seconds"] as? Double)
        let measured = try #require(predicted["round_seconds"] as? Double)
        let error = try #require(predicted["model_error_percent"] as? Double)
        #expect(model > 0 && abs(error - 100 * (model - measured) / measured) < 1e-9, "\(predicted)")
        let summary = try #require(document["prediction_error_percent"] as? [String: Double])
        #expect(abs((summary["mean_absolute"] ?? -1) - abs(error)) < 1e-9)
        // Local workers: no link cap, so nothing is charged to a link.
        #expect(runs.allSatisfy { $0["transfer_seconds"] as? Double == 0 })
        let cluster = try #require(document["cluster_prediction"] as? [String: Any])
        #expect(cluster["skipped_workers"] as? [Int] == [16, 32, 64])
    }

    @Test(
        "without root, --hosts stops before anything is made and says what it needs",
        .enabled(if: geteuid() != 0 || FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
            "as root it runs as nobody with setpriv (util-linux), which is missing"))
    func needsRoot() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let child: ChildProcess
        if geteuid() == 0 {
            // As nobody (setpriv, util-linux), with the binary and the data copied where nobody can read them (the
            // repository may sit in a folder only root may enter).
            let shared = "/tmp/st-nobody-\(getpid())"
            try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
            defer { try? FileManager.default.removeItem(atPath: shared) }
            try FileManager.default.copyItem(atPath: ShardTrainBinary.path, toPath: shared + "/shardtrain")
            try FileManager.default.copyItem(atPath: Self.iris, toPath: shared + "/iris.csv")
            let arguments = Self.common.map { $0 == Self.iris ? shared + "/iris.csv" : $0 } + ["--rounds", "2"]
            child = try ChildProcess(
                ["--reuid=65534", "--regid=65534", "--clear-groups", shared + "/shardtrain"] + arguments,
                executable: "/usr/bin/setpriv", directory: directory.url)
            _ = child.wait(timeout: 30)
        } else {
            child = try ChildProcess(Self.common + ["--rounds", "2"], directory: directory.url)
        }
        #expect(child.wait(timeout: 30) == 64, "\(child.stderr)")
        #expect(child.stderr.contains("error: --hosts: emulated hosts need root"), "\(child.stderr)")
        #expect(child.stderr.contains("CAP_NET_ADMIN"))
        #expect(Self.namespaces(of: child.pid).isEmpty)
    }

    @Test(
        "Ctrl-C (SIGTERM) in the middle of a run removes its namespaces and its workers",
        .disabled(if: unavailable != nil, Comment(rawValue: unavailable ?? "")))
    func interruptCleansUp() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let child = try Self.startLongRun(in: directory)
        kill(child.pid, SIGTERM)
        #expect(child.wait(timeout: 20) == 130, "\(child.stderr)")
        #expect(Self.namespaces(of: child.pid).isEmpty, "\(Self.namespaces(of: child.pid))")
        // Its workers (children started with --exit-with-parent <pid>) are gone too.
        let workers = try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { entry in
            guard Int32(entry) != nil, let command = try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8)
            else { return false }
            return command.replacingOccurrences(of: "\0", with: " ").contains("--exit-with-parent \(child.pid) ")
        }
        #expect(workers.isEmpty, "\(workers)")
    }
}
