import Foundation
import Logging
import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardProtocol
import ShardWire
import ZeroMQ

/// A worker process: connects a DEALER to the coordinator, says HELLO, receives its shard, then answers
/// every PARAMS with the partial sums of its blocks until DONE.
///
/// The worker never opens the data file: everything it computes on arrives in BLOCKS frames, or, from a
/// coordinator on the same machine, lies in the shared-memory region a SHAREDBLOCKS frame points to (mapped
/// read-only and computed on in place). A worker may hold both kinds (e.g. blocks reassigned after a loss).
public final class WorkerShell {
    public struct Options: Sendable {
        public var endpoint: String
        /// Threads for the blocks (`DispatchQueue.concurrentPerform`); 0 = one per core.
        public var threads: Int
        /// Seconds to wait for WELCOME (the coordinator may wait for other workers first).
        public var joinTimeout: Double
        /// Heartbeat settings until the job spec brings the coordinator's.
        public var timing: ClusterTiming
        /// The identity sent in HELLO; the coordinator refuses a worker whose identity differs from the one
        /// it requires (see `WorkerShell.software`; a caller may pass a stronger build identity).
        public var software: String
        /// CURVE keys (the worker's pair and the coordinator's public key), or none.
        public var security: ClientSecurity
        /// Whether the end of a failed job is this worker's to report (see `WorkerInstance.Configuration`): false
        /// for a local worker, whose parent coordinator reports it.
        public var reportsJobFailure = true

        public init(
            endpoint: String, threads: Int = 0, joinTimeout: Double = 120, timing: ClusterTiming = .init(),
            software: String = WorkerShell.software, security: ClientSecurity = .insecure
        ) {
            self.security = security
            self.endpoint = endpoint
            self.threads = threads
            self.joinTimeout = joinTimeout
            self.timing = timing
            self.software = software
        }
    }

    /// What ended a worker's run normally.
    public struct Outcome: Sendable, Equatable {
        public var workerIndex: Int
        public var rounds: Int
        public var doneReason: String
        /// DONE said the job failed, or that this worker was dropped from it: exit non-zero.
        public var jobFailed: Bool
    }

    private let options: Options
    private let logger: Logger
    private let context: Context
    private let dealer: Socket
    /// The dealer's connection events: a refused or failing security handshake ends the worker at once instead of
    /// looking like a coordinator that never answers.
    private let handshakes: HandshakeWatch
    private let interrupted: @Sendable () -> Bool
    private let codec = WireCodec()

    public init(options: Options, logger: Logger, interrupted: @escaping @Sendable () -> Bool = { false })
        throws(ClusterError)
    {
        self.options = options
        self.logger = logger
        self.interrupted = interrupted
        try options.timing.validate()
        guard options.joinTimeout.isFinite, options.joinTimeout > 0 else {
            throw .invalidConfiguration("the join timeout is \(options.joinTimeout), it must be a positive number of seconds")
        }
        do {
            context = try Context()
            // Not `.immediate(true)`: it would queue nothing until the TCP connection is up, so HELLO, sent
            // right after `connect` and possibly before the coordinator listens, would not fit. Queuing during
            // a reconnect gains nothing either way (the ROUTER sees a reconnected DEALER as a new peer); the
            // silence check and the non-blocking sends end a worker whose coordinator is gone.
            // A routing id of our own (16 random bytes, never starting with 0): the coordinator's ROUTER then never
            // generates one for a worker, so a peer that picks an id the ROUTER would generate next cannot collide
            // with a worker (libzmq aborts on such a collision).
            var routingID = (0..<16).map { _ in UInt8.random(in: 0...255) }
            routingID[0] = UInt8.random(in: 1...255)
            dealer = try context.socket(
                .dealer,
                options: options.security.options + [
                    .routingID(routingID), .maxMessageSize(bytes: Int64(WireCodec().maxPayloadBytes + 64)),
                ])
            handshakes = HandshakeWatch(
                monitor: try SocketMonitor(dealer), server: "the coordinator at \(options.endpoint)", client: "worker", security: options.security)
            try dealer.connect(options.endpoint)
        } catch {
            throw .transport("\(error)")
        }
    }

    /// The default software identification sent in HELLO: the protocol version, the kernel path and the BLAS
    /// (OpenBLAS build and the core kernel it picked for this CPU). The coordinator refuses a worker whose
    /// numerics differ from its own: the AVX-512, AVX2 and portable kernels round differently, and so do OpenBLAS's
    /// kernels for different cores, so mixing them would break the "same bits whatever the workers" guarantee. (Two builds
    /// with the same kernels but another compiler or libm could still differ; callers that can name the
    /// build more precisely pass that through `Options.software` and `ClusterExecutor`'s
    /// `requiredSoftware`.)
    public static var software: String {
        softwareIdentity(kernels: KernelImplementation.fastestCode, blas: BLAS.identity)
    }

    static func softwareIdentity(kernels: String, blas: String) -> String {
        "shardtrain (protocol \(WireCodec.protocolVersion); kernels \(kernels); blas \(blas))"
    }

    /// Runs until DONE (returns) or a failure (throws): `.coordinatorLost` (silent for `workerTimeout`, or its
    /// queue full), `.refused`, `.protocolViolation` (a frame out of order, an invalid job spec, blocks that
    /// do not match it), `.computeFailed` (the model could not be built or a round not computed),
    /// `.transport` or `.interrupted`. For a protocol violation, a failed round and an interrupt the worker
    /// first tells the coordinator why with FAILURE. DONE of a failed job (or of a job that dropped this worker)
    /// returns an outcome with `jobFailed` set: the process exits non-zero.
    public func run() throws(ClusterError) -> Outcome {
        let threads = ThreadCount.resolve(options.threads)
        var configuration = WorkerInstance.Configuration(
            pid: UInt32(getpid()), cores: ThreadCount.availableCores, hostname: ProcessInfo.processInfo.hostName,
            software: options.software, joinTimeout: options.joinTimeout,
            heartbeatInterval: options.timing.heartbeatInterval, endpoint: options.endpoint)
        configuration.reportsJobFailure = options.reportsJobFailure
        var instance = WorkerInstance(configuration: configuration, now: Self.now())
        var compute: ComputeThread?
        /// Shards mapped from 4 KiB pages, until `MappedShard.roundsBeforeHugePages` computations have read them.
        var mappedShards: [MappedShard] = []
        var computations = 0

        /// Sends without ever blocking. The DEALER queues up to its high-water mark (1000 messages) while
        /// the coordinator is unreachable; once that is full a blocking send would wait for ever and the
        /// worker would never notice the silence nor an interrupt. A heartbeat that does not fit is dropped
        /// (the silence check decides); any other message that does not fit means the coordinator is gone.
        func send(_ message: Message, round: UInt64) throws(ClusterError) {
            let bytes: [UInt8]
            do {
                bytes = try codec.encode(Frame(jobID: instance.jobID, round: round, message: message))
            } catch {
                throw .protocolViolation("cannot encode \(message.type): \(error)")
            }
            do {
                try dealer.send([bytes], dontWait: true)
            } catch {
                guard case .wouldBlock = error else { throw .transport("sending to \(options.endpoint): \(error)") }
                if message == .heartbeat { return }
                // A refused handshake closes the connection, and a send right after it finds no room: the monitor's
                // event, if it has come, says why (the refused key), which is the message to give.
                try handshakes.check()
                throw .coordinatorLost(
                    "cannot send \(message.type) to \(options.endpoint): the coordinator's queue is full; it is probably gone")
            }
        }

        /// Carries out the instance's directives; returns how the run ended, if it did.
        func carryOut(_ directives: [WorkerInstance.Directive]) throws(ClusterError) -> Outcome? {
            for directive in directives {
                switch directive {
                case .send(let message, let round):
                    do {
                        try send(message, round: round)
                    } catch {
                        // A FAILURE that cannot be sent changes nothing: the worker is stopping anyway.
                        if case .failure = message { continue }
                        throw error
                    }
                case .prepare(let spec):
                    do {
                        compute = try ComputeThread(context: context, spec: spec, threads: threads)
                    } catch {
                        throw .transport("starting the compute thread: \(error)")
                    }
                case .compute(let request):
                    do {
                        try compute?.start(request)
                    } catch {
                        throw .transport("compute thread: \(error)")
                    }
                case .readSharedBlocks(let region, let regionBytes, let locations):
                    let next: [WorkerInstance.Directive]
                    do {
                        let (blocks, shard) = try SharedBlockReader.map(
                            region: region, regionBytes: regionBytes, locations: locations)
                        mappedShards.append(shard)
                        next = instance.receivedBlocks(blocks, now: Self.now())
                    } catch {
                        next = instance.blocksUnreadable(error, now: Self.now())
                    }
                    if let outcome = try carryOut(next) { return outcome }
                case .log(let level, let message):
                    switch level {
                    case .info: logger.info("\(message)")
                    case .warning: logger.warning("\(message)")
                    case .error: logger.error("\(message)")
                    }
                case .finish(.done(let reason, let jobFailed)):
                    return Outcome(
                        workerIndex: instance.workerIndex ?? -1, rounds: instance.rounds, doneReason: reason,
                        jobFailed: jobFailed)
                case .finish(.failed(.coordinatorLost(let message))) where instance.spec == nil:
                    // No connection was ever made: nothing listens there (a wrong port, or no coordinator yet).
                    try? handshakes.check()
                    guard handshakes.everConnected else {
                        throw ClusterError.coordinatorLost(
                            message + " (no connection was ever accepted at \(options.endpoint): is the coordinator "
                                + "running there, and is the port the one it binds?)")
                    }
                    // With keys, a refused handshake looks like silence: say what to check.
                    guard case .curve = options.security else { throw ClusterError.coordinatorLost(message) }
                    throw ClusterError.coordinatorLost(
                        message + " (with CURVE keys a refused handshake looks like this: check that the coordinator's "
                            + "--allow folder holds this worker's .public key and that --coordinator-key is its .public key)")
                case .finish(.failed(let error)):
                    throw error
                }
            }
            return nil
        }

        if let outcome = try carryOut(instance.start(now: Self.now())) { return outcome }
        while true {
            // Often enough for heartbeats and the silence check (the instance decides both from the clock).
            let pollMilliseconds = max(1, Int(instance.heartbeat * 500))
            if interrupted(), let outcome = try carryOut(instance.interrupted(now: Self.now())) { return outcome }
            var sockets = [dealer, handshakes.monitor.socket]
            if let compute { sockets.append(compute.signal) }
            let readable: [Int]
            do {
                readable = try poll(sockets, timeoutMilliseconds: pollMilliseconds)
            } catch {
                throw .transport("\(error)")
            }
            if readable.contains(1) { try handshakes.check() }
            if readable.contains(2), let finished = try takeOutcome(compute) {
                computations += 1
                if computations >= MappedShard.roundsBeforeHugePages, !mappedShards.isEmpty {
                    // Off this thread (heartbeats go on); the compute thread reads the same values meanwhile.
                    let shards = mappedShards
                    mappedShards = []
                    Thread.detachNewThread {
                        for shard in shards { _ = shard.memory.collapseToHugePages(shard.bytes) }
                    }
                }
                if let outcome = try carryOut(instance.computed(finished.outcome, round: finished.round, now: Self.now())) {
                    return outcome
                }
            }
            // Drain what arrived, looking at the clock after each frame: decoding a long stream of BLOCKS takes
            // longer than a heartbeat interval. Always, not only when the poll said so: after a long stop
            // (SIGSTOP, a busy machine) the frames waiting must be read before the clock says "silent".
            while let parts = try receive() {
                let now = Self.now()
                let directives: [WorkerInstance.Directive]
                if parts.count != 1 {
                    directives = instance.receivedMalformed(error: "a message of \(parts.count) frames", now: now)
                } else {
                    do throws(WireError) {
                        directives = instance.received(try codec.decode(parts[0]), now: now)
                    } catch {
                        directives = instance.receivedMalformed(error: error.description, now: now)
                    }
                }
                if let outcome = try carryOut(directives) { return outcome }
                if let outcome = try carryOut(instance.tick(now: Self.now())) { return outcome }
            }
            if let outcome = try carryOut(instance.tick(now: Self.now())) { return outcome }
        }
    }

    private func receive() throws(ClusterError) -> [[UInt8]]? {
        do {
            return try dealer.receive(.none)
        } catch {
            throw .transport("\(error)")
        }
    }

    private func takeOutcome(_ compute: ComputeThread?) throws(ClusterError) -> (outcome: ComputeOutcome, round: UInt64)? {
        do {
            return try compute?.takeOutcome()
        } catch {
            throw .transport("\(error)")
        }
    }

    static func now() -> Double { ContinuousClock.now.secondsSinceStart }
}
