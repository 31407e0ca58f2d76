import Foundation
import ShardData
import ShardEngine
import ShardModels
import ShardProtocol
import ShardWire
import Testing

/// What a WELCOME may carry, and the timing and counts a cluster job accepts.
@Suite("Job spec and cluster settings")
struct JobSpecTests {
    static let valid = JobSpec(
        model: ModelSpec(featureCount: 2, l2: 0.5, .logistic()), precision: .float64,
        plan: try! BlockPlan(rowCount: 95, blockRows: 10), timing: ClusterTiming(heartbeatInterval: 0.25, workerTimeout: 3), seed: 9,
        schedule: try? BatchSchedule(blockCount: 10, blocksPerStep: 2, seed: 1))

    /// A field changed to a value `validate` rejects, and what the message must say.
    struct Broken: Sendable, CustomTestStringConvertible {
        let change: @Sendable (inout JobSpec) -> Void
        let expected: String
        /// Whether JSON can carry it (non-finite numbers cannot).
        let isEncodable: Bool

        init(_ expected: String, isEncodable: Bool = true, _ change: @escaping @Sendable (inout JobSpec) -> Void) {
            self.change = change
            self.expected = expected
            self.isEncodable = isEncodable
        }

        var testDescription: String { expected }
    }

    static let broken: [Broken] = [
        Broken("--heartbeat-interval is 0.0: it must be a number of seconds in (0, 86400]") { $0.timing.heartbeatInterval = 0 },
        Broken("--heartbeat-interval is -1.0: it must be a number of seconds in (0, 86400]") { $0.timing.heartbeatInterval = -1 },
        Broken("--heartbeat-interval is nan: it must be a number of seconds in (0, 86400]", isEncodable: false) {
            $0.timing.heartbeatInterval = .nan
        },
        Broken("--worker-timeout is inf: it must be a number of seconds in (0, 86400]", isEncodable: false) { $0.timing.workerTimeout = .infinity },
        Broken("--heartbeat-interval (3.0 s) must be shorter than --worker-timeout (3.0 s)") { $0.timing.heartbeatInterval = 3 },
        Broken("the batch schedule covers 12 blocks, the plan has 10") {
            $0.schedule = try? BatchSchedule(blockCount: 12, blocksPerStep: 2, seed: 1)
        },
    ]

    @Test("a valid spec survives encoding and decoding")
    func roundTrip() throws {
        #expect(try JobSpec.decode(Self.valid.encoded()) == Self.valid)
    }

    @Test("validate, encoded and decode reject a spec no coordinator should send", arguments: broken)
    func invalidSpecs(_ broken: Broken) throws {
        var spec = Self.valid
        broken.change(&spec)
        #expect(throws: ClusterError.invalidConfiguration("job spec: \(broken.expected)")) { try spec.validate() }
        #expect(throws: ClusterError.invalidConfiguration("job spec: \(broken.expected)")) { try spec.encoded() }
        guard broken.isEncodable else { return }
        let bytes = [UInt8](try JSONEncoder().encode(spec))
        #expect(throws: ClusterError.protocolViolation("job spec is not valid: \(broken.expected)")) {
            try JobSpec.decode(bytes)
        }
    }

    @Test("a value JSON cannot carry makes encoding throw instead of trapping")
    func nonFiniteModelParameter() {
        var spec = Self.valid
        spec.model.l2 = .nan
        #expect {
            try spec.encoded()
        } throws: { error in
            guard case ClusterError.invalidConfiguration(let message) = error else { return false }
            return message.hasPrefix("job spec cannot be encoded")
        }
    }

    @Test(
        "timing that cannot work is refused",
        arguments: [
            (ClusterTiming(heartbeatInterval: 0), "--heartbeat-interval is 0.0: it must be a number of seconds in (0, 86400]"),
            (ClusterTiming(workerTimeout: .nan), "--worker-timeout is nan: it must be a number of seconds in (0, 86400]"),
            (ClusterTiming(joinTimeout: .infinity), "--join-timeout is inf: it must be a number of seconds in (0, 86400]"),
            (
                ClusterTiming(heartbeatInterval: 5, workerTimeout: 3),
                "--heartbeat-interval (5.0 s) must be shorter than --worker-timeout (3.0 s)"
            ),
            (ClusterTiming(workerTimeout: 90_000), "--worker-timeout is 90000.0: it must be a number of seconds in (0, 86400]"),
        ])
    func invalidTiming(timing: ClusterTiming, expected: String) {
        #expect(throws: ClusterError.invalidConfiguration(expected)) { try timing.validate() }
    }

    @Test(
        "resilience settings that cannot work are refused, naming the flag",
        arguments: [
            (CoordinatorInstance.Resilience(minWorkers: 0), "--min-workers is 0: it must be between 1 and the 3 workers"),
            (CoordinatorInstance.Resilience(minWorkers: 4), "--min-workers is 4: it must be between 1 and the 3 workers"),
            (CoordinatorInstance.Resilience(maxWorkers: 2), "--max-workers (2) must be at least the 3 workers"),
            (CoordinatorInstance.Resilience(replicas: 3), "--replicas is 3: it must be 1 or 2"),
            (CoordinatorInstance.Resilience(stragglerFactor: 0.5), "--straggler-factor is 0.5: it must be at least 1 (inf: no backups)"),
            (CoordinatorInstance.Resilience(stragglerFactor: .nan), "--straggler-factor is nan: it must be at least 1 (inf: no backups)"),
        ])
    func invalidResilience(settings: CoordinatorInstance.Resilience, expected: String) {
        #expect(throws: ClusterError.invalidConfiguration(expected)) { try settings.validate(expectedWorkers: 3) }
    }

    /// A WELCOME's job spec with its "model" (or "plan") replaced by `json`, as a hostile coordinator could send it.
    static func crafted(_ key: String, _ json: String) throws -> [UInt8] {
        let valid = Data(try Self.valid.encoded())
        var object = try #require(try JSONSerialization.jsonObject(with: valid) as? [String: Any])
        object[key] = try JSONSerialization.jsonObject(with: Data(json.utf8))
        return [UInt8](try JSONSerialization.data(withJSONObject: object))
    }

    /// Sizes that trapped a real worker (SIGILL from an overflow in ParameterLayout, SIGABRT from the allocation),
    /// and what the refusal must name. The sizes beyond memory need terabytes (2.93 TB and 1.64 PB), far beyond any
    /// machine that runs the tests. A plan of more blocks than 32-bit ids can name would hang the reduction tree.
    static let hostileSizes: [(key: String, json: String, expected: String)] = [
        (
            "model", #"{"kind": "vae", "featureCount": 300, "l2": 0, "outputDimension": 2, "hiddenUnits": 4611686018427387904}"#,
            "job spec is not valid: model: invalid model spec: vae with featureCount 300, outputDimension 2, "
                + "hiddenUnits 4611686018427387904: the parameter count exceeds 9223372036854775807"
        ),
        (
            "model", #"{"kind": "vae", "featureCount": 300, "l2": 0, "outputDimension": 2, "hiddenUnits": 100000000}"#,
            "job spec is not valid: model: invalid model spec: vae with featureCount 300, outputDimension 2, "
                + "hiddenUnits 100000000 has 60800000304 parameters; training them with 1 thread on blocks of 10 rows "
                + "needs 2.93 TB, this machine has "
        ),
        (
            "model", #"{"kind": "softmax", "featureCount": 30, "l2": 0, "classCount": 1099511627776}"#,
            "job spec is not valid: model: invalid model spec: softmax with featureCount 30, classCount "
                + "1099511627776 has 34084860461056 parameters; training them with 1 thread on blocks of 10 rows needs "
                + "1.64 PB, this machine has "
        ),
        (
            "plan", #"{"rowCount": 9223372036854775807, "blockRows": 1}"#,
            "job spec is not valid: block plan: 9223372036854775807 rows in blocks of 1 make 9223372036854775807 "
                + "blocks, more than 4294967295 (block ids are 32-bit numbers between processes)"
        ),
    ]

    @Test("a WELCOME whose sizes overflow or exceed the machine's memory is refused by decode, naming the fields")
    func hostileSizesAreRefused() throws {
        for (key, json, expected) in Self.hostileSizes {
            let bytes = try Self.crafted(key, json)
            #expect {
                try JobSpec.decode(bytes)
            } throws: { error in
                guard case ClusterError.protocolViolation(let message) = error else { return false }
                return message.hasPrefix(expected)
            }
        }
    }

    @Test("a worker welcomed with such a spec sends FAILURE with the reason and ends failed, before building anything")
    func workerFailsOnHostileSizes() throws {
        for (key, json, expected) in Self.hostileSizes {
            var worker = WorkerInstance(
                configuration: .init(pid: 7, cores: 2, hostname: "h", software: "s", joinTimeout: 10, endpoint: "tcp://c"),
                now: 0)
            _ = worker.start(now: 0)
            let welcome = Frame(
                jobID: 5, round: 0, message: .welcome(workerIndex: 0, workerCount: 1, jobSpec: try Self.crafted(key, json)))
            let directives = worker.received(welcome, now: 0.1)
            let failure = directives.compactMap { directive -> String? in
                if case .send(.failure(let reason), _) = directive { reason } else { nil }
            }
            #expect(failure.count == 1 && failure[0].hasPrefix("protocol violation: " + expected), "\(failure)")
            #expect(!directives.contains { if case .prepare = $0 { true } else { false } })
            #expect(directives.contains { if case .finish(.failed) = $0 { true } else { false } })
        }
    }
}
