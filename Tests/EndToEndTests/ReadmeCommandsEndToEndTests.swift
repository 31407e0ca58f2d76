import Foundation
import Testing
import _TestSupport

/// Every command of README.md and of the `--help` examples runs as written, with the bundled data, in a fresh
/// folder that holds `data/`, `cluster/` and `.build/release/shardtrain` (links to the repository's and to the
/// built binary): a path, a file or a flag that does not exist fails here. The only changes to the text are the
/// `rewrites` below, and the only commands not run are the `skipped` ones, each with its reason.
@Suite("End to end: README.md and --help examples run as written", .serialized)
struct ReadmeCommandsEndToEndTests {
    /// One command of a text: its lines joined where they end in `\`, comments kept out.
    struct Command: CustomStringConvertible {
        let source: String
        let line: Int
        let text: String

        var description: String { "\(source):\(line): \(text)" }
        var words: [Substring] { text.split(separator: " ") }
        /// `train`, `coordinator`, … for `$B …` and `shardtrain …`; nil for other commands.
        var subcommand: String? {
            guard let first = words.first, first == "$B" || first == "shardtrain", words.count > 1 else { return nil }
            return String(words[1])
        }
        var isBackground: Bool { text.hasSuffix(" &") }
        var isAssignment: Bool { text.range(of: #"^[A-Za-z_][A-Za-z0-9_]*=\S+$"#, options: .regularExpression) != nil }
    }

    /// Commands that are not run, by the start of their text, with the reason. Every entry must match a command:
    /// a stale one fails the test. The repository paths they name must exist all the same.
    static let skipped: [(prefix: String, reason: String)] = [
        ("scripts/quickstart.sh", "installs packages with apt-get and builds in release mode (minutes)"),
        ("scripts/test.sh", "runs the whole test suite, this test included"),
        ("$B bench ", "benchmarks for release builds: a 1 GB matrix, millions of elements (minutes in a debug build)"),
        ("shardtrain bench ", "benchmarks for release builds: a 1 GB matrix, millions of elements (minutes in a debug build)"),
        ("python3 bench/compare_peers.py", "the peer benchmark: installs scikit-learn, JAX and PyTorch with pip, then minutes of runs"),
        ("python3 scripts/curve_cost.py", "a benchmark of CURVE encryption: minutes of timed runs"),
        ("$B scale --hosts ", "needs root (network namespaces, tc): EmulatedHostsEndToEndTests runs scale --hosts when it can"),
        ("shardtrain scale --hosts ", "needs root (network namespaces, tc): EmulatedHostsEndToEndTests runs scale --hosts when it can"),
        ("python3 scripts/model_table.py", "trains every model with 0 and 2 workers: minutes"),
        ("shardtrain worker --connect tcp://HOST:PORT", "the form of the worker line in `coordinator --help`, not a command"),
        ("shardtrain watch --connect tcp://127.0.0.1:5556", "`watch --help` alone has no run to follow; README.md runs train --progress-endpoint and watch together"),
    ]

    /// Files the `--help` examples use and README.md's commands make (copied into each help example's folder).
    static let madeByReadme = ["model.safetensors", "vae.safetensors", "digits-embedding.safetensors", "known.csv", "unknown.csv"]

    /// Inline paths in README.md's prose that a command makes rather than the repository holding them.
    static let madePaths = ["bench/.venv": "made by python3 bench/compare_peers.py"]

    /// At most this many rounds: the triplet and VAE examples train 2,000–3,000 rounds (one to two minutes in a
    /// debug build); capped, they still run every flag and write every file.
    static let roundCap = 100

    static let repository = ReferenceData.repositoryRoot

    // MARK: - Reading commands

    /// The commands of README.md's fenced and indented code blocks, and its inline `$B …`, `shardtrain …` and
    /// `python3 …` spans, each block as one list (the commands of a block may depend on one another).
    static func readmeBlocks(_ markdown: String) -> [[Command]] {
        var blocks: [[(line: Int, text: String)]] = []
        var current: [(line: Int, text: String)]?
        var fenced = false
        var previousBlank = true
        let lines = markdown.components(separatedBy: "\n")
        for (index, line) in lines.enumerated() {
            if line.hasPrefix("```") {
                if fenced, let block = current { blocks.append(block) }
                fenced.toggle()
                current = fenced ? [] : nil
            } else if fenced {
                current?.append((index + 1, line))
            } else if line.hasPrefix("    "), previousBlank || current != nil {
                if current == nil { current = [] }
                current?.append((index + 1, String(line.dropFirst(4))))
            } else if let block = current {
                blocks.append(block)
                current = nil
            }
            previousBlank = line.trimmingCharacters(in: .whitespaces).isEmpty
        }
        var result = blocks.map { commands(source: "README.md", lines: $0) }
        for (index, line) in lines.enumerated() where !line.hasPrefix("    ") {
            for span in inlineSpans(line) where ["$B ", "shardtrain ", "python3 "].contains(where: span.hasPrefix) {
                result.append([Command(source: "README.md", line: index + 1, text: span)])
            }
        }
        return result
    }

    /// The commands of `lines`: comments dropped, lines ending in `\` joined with the next, blank lines skipped.
    static func commands(source: String, lines: [(line: Int, text: String)]) -> [Command] {
        var commands: [Command] = []
        var pending: (line: Int, text: String)?
        for (number, raw) in lines {
            let text = withoutComment(raw).trimmingCharacters(in: .whitespaces)
            if text.isEmpty && pending == nil { continue }
            let joined = (pending.map { $0.text + " " } ?? "") + text
            let start = pending?.line ?? number
            if joined.hasSuffix("\\") {
                pending = (start, String(joined.dropLast()).trimmingCharacters(in: .whitespaces))
            } else {
                pending = nil
                commands.append(Command(source: source, line: start, text: joined))
            }
        }
        return commands
    }

    /// `line` without a shell comment (a `#` after a space, outside quotes).
    static func withoutComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for index in line.indices {
            let character = line[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#", previous == " " {
                return String(line[..<index])
            }
            previous = character
        }
        return line
    }

    /// The `code spans` of a line of Markdown.
    static func inlineSpans(_ line: String) -> [String] {
        let parts = line.components(separatedBy: "`")
        return stride(from: 1, to: parts.count - 1, by: 2).map { parts[$0] }
    }

    /// The subcommand paths of the built binary (`train`, …, `bench gradient`, `keys generate`), from `--help`.
    static func subcommands(of path: [String] = [], in folder: TemporaryDirectory) throws -> [[String]] {
        let help = try helpText(path, in: folder)
        guard let section = help.components(separatedBy: "SUBCOMMANDS:").dropFirst().first else { return [path] }
        // Entries up to the first blank line: a name at column 3, its abstract after it or on the next lines.
        let entries = section.components(separatedBy: "\n").dropFirst().prefix { !$0.isEmpty }
        var result: [[String]] = []
        for line in entries where line.hasPrefix("  ") && !line.hasPrefix("   ") {
            guard let name = line.split(separator: " ").first, name.allSatisfy({ $0.isLowercase || $0 == "-" }) else { continue }
            if name == "help" { continue }
            try #require(path.count < 2, "\(path + [String(name)]): deeper than the commands have")
            result += try subcommands(of: path + [String(name)], in: folder)
        }
        return result
    }

    /// `shardtrain PATH --help`, unwrapped.
    static func helpText(_ path: [String], in folder: TemporaryDirectory) throws -> String {
        let child = try ChildProcess(path + ["--help"], directory: folder.url, environment: ["COLUMNS": "1000", "LINES": "50"])
        try #require(child.wait(timeout: 60) == 0, "\(path) --help: \(child.stderr)")
        return child.stdout
    }

    /// The example commands of a help text: its lines starting with `shardtrain ` (continued with `\`) and the
    /// text after "Example: shardtrain" in prose.
    static func helpCommands(_ help: String, source: String) -> [Command] {
        var lines: [(line: Int, text: String)] = []
        var continuing = false
        for (index, line) in help.components(separatedBy: "\n").enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if continuing || text.hasPrefix("shardtrain ") {
                lines.append((index + 1, text))
                continuing = withoutComment(text).trimmingCharacters(in: .whitespaces).hasSuffix("\\")
            } else if let range = text.range(of: "Example: shardtrain ") {
                lines.append((index + 1, "shardtrain " + text[range.upperBound...]))
            }
        }
        return commands(source: source, lines: lines)
    }

    // MARK: - Rewrites

    /// The only changes made to a command's text: TCP ports become free ones (the same port for the same number
    /// within a text, as its commands talk to each other; tests run in parallel), `HOST` becomes 127.0.0.1,
    /// `cluster/local.sh` gets a free `--port` (its default is 5555), and `--max-rounds` is capped at `roundCap`.
    static func rewrite(_ text: String, ports: inout [String: Int]) throws -> String {
        var result = text.replacingOccurrences(of: "tcp://HOST:", with: "tcp://127.0.0.1:")
        for match in result.matches(of: /tcp:\/\/[0-9.]+:([0-9]+)/) {
            let number = String(match.output.1)
            if ports[number] == nil { ports[number] = try freePort() }
        }
        for (number, port) in ports {
            result = result.replacing(try Regex(":\(number)(?![0-9])"), with: ":\(port)")
        }
        if result.hasPrefix("cluster/local.sh ") {
            result = "cluster/local.sh --port \(try freePort()) " + result.dropFirst("cluster/local.sh ".count)
        }
        for match in result.matches(of: /--max-rounds ([0-9]+)/) where Int(match.output.1)! > roundCap {
            result.replaceSubrange(match.range, with: "--max-rounds \(roundCap)")
        }
        return result
    }

    /// A TCP port on 127.0.0.1 that the kernel just gave out and took back.
    static func freePort() throws -> Int {
        let socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(socketDescriptor >= 0)
        defer { close(socketDescriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socketDescriptor, $0, length) == 0 && getsockname(socketDescriptor, $0, &length) == 0
            }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    // MARK: - Running

    /// A folder with the repository's `data/` and `cluster/` and the built binary as `.build/release/shardtrain`.
    static func makeFolder(copying files: [String] = [], from other: TemporaryDirectory? = nil) throws -> TemporaryDirectory {
        let folder = try TemporaryDirectory()
        let manager = FileManager.default
        for name in ["data", "cluster"] {
            try manager.createSymbolicLink(
                atPath: folder.path(name), withDestinationPath: repository.appendingPathComponent(name).path)
        }
        try manager.createDirectory(atPath: folder.path(".build/release"), withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: folder.path(".build/release/shardtrain"), withDestinationPath: ShardTrainBinary.path)
        for name in files {
            try manager.copyItem(atPath: try #require(other).path(name), toPath: folder.path(name))
        }
        return folder
    }

    /// Starts `text` with bash in `folder`: `shardtrain` at the start of a command is the built binary, and a
    /// simple command replaces the shell (so that the child is the process itself).
    static func start(_ text: String, in folder: TemporaryDirectory, environment: [String: String]) throws -> ChildProcess {
        var script = text.replacing(#/(^|&& |; |\| )shardtrain /#) { "\($0.output.1)\"$SHARDTRAIN_UNDER_TEST\" " }
        if script.range(of: #"[;&|<>{}()]"#, options: .regularExpression) == nil { script = "exec " + script }
        let quotedFolder = "'" + folder.url.path.replacingOccurrences(of: "'", with: "'\\''") + "'"
        var variables = environment
        variables["SHARDTRAIN_UNDER_TEST"] = ShardTrainBinary.path
        return try ChildProcess(
            ["-c", "set -eo pipefail; cd \(quotedFolder) && \(script)"], executable: "/bin/bash", directory: folder.url,
            environment: variables)
    }

    /// Records an issue unless `child` exits 0 within `timeout` seconds.
    static func expectSuccess(_ child: ChildProcess, _ command: Command, _ text: String, timeout: Double = 300) {
        let status = child.wait(timeout: timeout)
        let outcome = status.map { "exited \($0)" } ?? "was killed after \(Int(timeout)) s"
        #expect(
            status == 0,
            "\(command) (run as: \(text)) \(outcome)\nstderr: \(child.stderr.suffix(2000))\nstdout: \(child.stdout.suffix(500))")
    }

    /// The repository paths a command names (words starting with a top-level folder of the repository).
    static func repositoryPaths(_ text: String) -> [String] {
        text.split(whereSeparator: { " =\"'".contains($0) }).map(String.init).filter {
            ["data/", "scripts/", "cluster/", "bench/", "Tests/", "Sources/", ".ci/"].contains(where: $0.hasPrefix)
        }
    }

    /// Runs the commands of one block in `folder`, in order. A command ending in `&`, and `coordinator`, run in
    /// the background; the `worker` lines after a coordinator start as many workers as its `--workers` (spread
    /// over those lines); after a background `--progress-endpoint` run, the next command starts once it
    /// publishes. The background runs end before the next command that is not a worker or `watch`.
    static func run(
        _ commands: [Command], in folder: TemporaryDirectory, environment: inout [String: String], ports: inout [String: Int],
        skips: inout Set<String>, ran: inout [String]
    ) throws {
        var background: [(Command, String, ChildProcess)] = []
        var workerCopies: [Int: Int] = [:]
        func finishBackground() {
            for (command, text, child) in background { expectSuccess(child, command, text) }
            background.removeAll()
        }
        for (index, command) in commands.enumerated() {
            if let skip = skipped.first(where: { command.text.hasPrefix($0.prefix) }) {
                skips.insert(skip.prefix)
                for path in repositoryPaths(command.text) {
                    #expect(
                        FileManager.default.fileExists(atPath: repository.appendingPathComponent(path).path),
                        "\(command): \(path) does not exist (the command is skipped: \(skip.reason))")
                }
                continue
            }
            if command.isAssignment {
                let parts = command.text.split(separator: "=", maxSplits: 1)
                environment[String(parts[0])] = String(parts[1])
                continue
            }
            var text = try rewrite(command.text, ports: &ports)
            ran.append(command.description)
            let subcommand = command.subcommand
            if command.isBackground || subcommand == "coordinator" {
                if command.isBackground { text = String(text.dropLast(2)) }
                let child = try start(text, in: folder, environment: environment)
                background.append((command, text, child))
                if subcommand == "coordinator" {
                    // Its --workers, spread over the worker lines that follow it.
                    let expected = Int(text.firstMatch(of: /--workers ([0-9]+)/)?.output.1 ?? "1") ?? 1
                    let lines = Array(commands.indices.dropFirst(index + 1).prefix { commands[$0].subcommand == "worker" })
                    for (position, line) in lines.enumerated() {
                        workerCopies[line] = expected / lines.count + (position < expected % lines.count ? 1 : 0)
                    }
                }
                if text.contains("--progress-endpoint") {
                    let publishing = child.waitForOutput(timeout: 120) { _, stderr in stderr.contains("publishing progress on ") }
                    #expect(publishing, "\(command): no \"publishing progress on\" line: \(child.stderr.suffix(1000))")
                }
                continue
            }
            if subcommand == "worker", let copies = workerCopies[index] {
                for _ in 0..<copies { background.append((command, text, try start(text, in: folder, environment: environment))) }
                continue
            }
            if subcommand != "watch" { finishBackground() }
            expectSuccess(try start(text, in: folder, environment: environment), command, text)
        }
        finishBackground()
    }

    @Test("every command of README.md and of the --help examples runs with the bundled data")
    func everyDocumentedCommandRuns() throws {
        let start = ContinuousClock.now
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        var skips: Set<String> = []
        var ran: [String] = []

        // Paths in README.md's prose exist.
        for line in readme.components(separatedBy: "\n") {
            for span in Self.inlineSpans(line) where !span.contains(" ") && Self.repositoryPaths(span) == [span] {
                guard Self.madePaths[span] == nil else { continue }
                #expect(
                    FileManager.default.fileExists(atPath: Self.repository.appendingPathComponent(span).path),
                    "README.md names `\(span)`, which does not exist")
            }
        }

        let readmeFolder = try Self.makeFolder()
        defer { readmeFolder.remove() }
        // Assignments (B=…) and ports hold for the whole text, as for a reader following it in one shell.
        var environment: [String: String] = [:]
        var ports: [String: Int] = [:]
        for block in Self.readmeBlocks(readme) {
            try Self.run(block, in: readmeFolder, environment: &environment, ports: &ports, skips: &skips, ran: &ran)
        }
        let readmeRuns = ran.count
        #expect(readmeRuns >= 25, "only \(readmeRuns) README.md commands found: \(ran)")

        // The examples of every subcommand's --help, each in a folder with the files README.md made.
        let helpFolder = try TemporaryDirectory()
        defer { helpFolder.remove() }
        let paths = try Self.subcommands(in: helpFolder)
        #expect(paths.count >= 15, "\(paths)")
        for path in paths {
            let source = (["shardtrain"] + path + ["--help"]).joined(separator: " ")
            let commands = Self.helpCommands(try Self.helpText(path, in: helpFolder), source: source)
            guard !commands.isEmpty else { continue }
            let folder = try Self.makeFolder(copying: Self.madeByReadme, from: readmeFolder)
            defer { folder.remove() }
            var (helpEnvironment, helpPorts): ([String: String], [String: Int]) = ([:], [:])
            try Self.run(commands, in: folder, environment: &helpEnvironment, ports: &helpPorts, skips: &skips, ran: &ran)
        }
        #expect(ran.count - readmeRuns >= 20, "only \(ran.count - readmeRuns) --help examples found: \(ran.suffix(from: readmeRuns))")
        for entry in Self.skipped where !skips.contains(entry.prefix) {
            Issue.record("the skip list names \"\(entry.prefix)\", which no command starts with any more: remove it")
        }
        print("ran \(ran.count) documented commands (\(readmeRuns) of README.md) in \(ContinuousClock.now - start)")
    }
}
