import ShardModels
import ShardNumerics
import Testing

/// Sizes of a model spec checked before the model is built: overflow and the machine's memory give messages that
/// name the fields, never a trap or a huge allocation.
@Suite struct ModelSizeTests {
    /// A machine with 1 GB available, so the messages are the same on every machine.
    static let gigabyte = MachineMemory(availableBytes: 1_000_000_000, source: "test")

    static func refusal(_ spec: ModelSpec, memory: MachineMemory = gigabyte) -> String? {
        do {
            _ = try spec.makeModel(memory: memory)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("P from the size table equals the built model's layout count, for every kind and many sizes")
    func parameterCountMatchesLayout() throws {
        var random = SplitMix64(seed: 0x51_2E)
        for _ in 0..<200 {
            let d = 1 + Int(random.next() % 40), k = 2 + Int(random.next() % 9), e = 1 + Int(random.next() % 6)
            let h: Int? = random.next() % 3 == 0 ? nil : 1 + Int(random.next() % 30)
            let taus = (0..<(1 + Int(random.next() % 4))).map { 0.1 + 0.2 * Double($0) }
            let specs = [
                ModelSpec(featureCount: d, l2: 0, .logistic()), ModelSpec(featureCount: d, l2: 0, .svm),
                ModelSpec(featureCount: d, l2: 0, .linear(RegressionSettings(loss: .mse))),
                ModelSpec(featureCount: d, l2: 0, .quantile(taus: taus)),
                ModelSpec(featureCount: d, l2: 0, .softmax(classCount: k)),
                ModelSpec(
                    featureCount: d, l2: 0, .triplet(TripletSettings(classCount: k, embeddingDimension: e, hiddenUnits: h))),
                ModelSpec(featureCount: d, l2: 0, .vae(latentDimension: e, hiddenUnits: h)),
            ]
            for spec in specs {
                let model = try spec.makeModel(memory: Self.gigabyte)
                #expect(try spec.checkedParameterCount() == model.layout.count, "\(spec)")
            }
        }
    }

    @Test("a hidden width whose parameter count overflows Int is refused, naming the fields (was SIGILL in ParameterLayout)")
    func overflowingHiddenWidth() {
        let spec = ModelSpec(featureCount: 30, l2: 0, .vae(latentDimension: 2, hiddenUnits: 4_611_686_018_427_387_904))
        #expect(
            Self.refusal(spec, memory: MachineMemory(availableBytes: .max, source: "test"))
                == "invalid model spec: vae with featureCount 30, outputDimension 2, hiddenUnits 4611686018427387904: "
                + "the parameter count exceeds 9223372036854775807")
        let latent = ModelSpec(featureCount: 3, l2: 0, .vae(latentDimension: .max / 2 + 1, hiddenUnits: nil))
        #expect(Self.refusal(latent)?.hasSuffix("the parameter count exceeds 9223372036854775807") == true)
        let triplet = ModelSpec(
            featureCount: 1 << 32, l2: 0, .triplet(TripletSettings(classCount: 2, embeddingDimension: 1 << 32)))
        #expect(Self.refusal(triplet)?.hasSuffix("the parameter count exceeds 9223372036854775807") == true)
    }

    @Test("sizes beyond the machine's memory are refused with the parameter count and the bytes (was SIGABRT)")
    func beyondMemory() {
        let vae = ModelSpec(featureCount: 30, l2: 0, .vae(latentDimension: 2, hiddenUnits: 100_000_000))
        // P = 30·H + H + H·4 + 4 + 2·H + H + H·30 + 30 = 68·H + 34; A = 3·H + 2·30 + 9·2;
        // bytes = 4·8P + (2·8P + 4·A) = 48P + 4A (one thread, blocks of one row).
        #expect(
            Self.refusal(vae)
                == "invalid model spec: vae with featureCount 30, outputDimension 2, hiddenUnits 100000000 has "
                + "6800000034 parameters; training them with 1 thread on blocks of 1 row needs 328 GB, this machine "
                + "has 1.0 GB available (test)")
        // P = (D + 1)·K = 31 · 2^40, A = 0: 48P bytes = 1.64 PB.
        let softmax = ModelSpec(featureCount: 30, l2: 0, .softmax(classCount: 1 << 40))
        #expect(
            Self.refusal(softmax)
                == "invalid model spec: softmax with featureCount 30, classCount 1099511627776 has 34084860461056 "
                + "parameters; training them with 1 thread on blocks of 1 row needs 1.64 PB, this machine has 1.0 GB "
                + "available (test)")
    }

    @Test("the limit is 48 bytes per parameter with one thread: the largest model that fits is built, one more class is not")
    func limitIsExact() throws {
        // softmax with D = 1: P = 2K, bytes = 96K.
        let memory = MachineMemory(availableBytes: 96 * 1000, source: "test")
        _ = try ModelSpec(featureCount: 1, l2: 0, .softmax(classCount: 1000)).makeModel(memory: memory)
        #expect(throws: ModelError.self) {
            try ModelSpec(featureCount: 1, l2: 0, .softmax(classCount: 1001)).makeModel(memory: memory)
        }
    }

    @Test("threads and block rows add per-thread sums and the networks' activations to the estimate")
    func threadsAndBlockRows() throws {
        // triplet D = 4, E = 2, H = 8: P = 32 + 8 + 16 = 56, A = 2·8 + 2·2 = 20.
        let spec = ModelSpec(
            featureCount: 4, l2: 0, .triplet(TripletSettings(classCount: 3, embeddingDimension: 2, hiddenUnits: 8)))
        // 4·8·56 + 3·(2·8·56 + 4·100·20) = 1792 + 3·(896 + 8000) = 28480 bytes.
        try spec.validateSizes(blockRows: 100, threads: 3, memory: MachineMemory(availableBytes: 28_480, source: "test"))
        #expect(throws: ModelError.self) {
            try spec.validateSizes(blockRows: 100, threads: 3, memory: MachineMemory(availableBytes: 28_479, source: "test"))
        }
        #expect(throws: ModelError.self) {
            try spec.validateSizes(blockRows: 101, threads: 3, memory: MachineMemory(availableBytes: 28_480, source: "test"))
        }
        // The linear models' kernels work in tiles: block rows do not count.
        let logistic = ModelSpec(featureCount: 9, l2: 0, .logistic())
        try logistic.validateSizes(blockRows: 1 << 40, threads: 1, memory: MachineMemory(availableBytes: 480, source: "test"))
    }

    @Test("a size field below 1 is named before any arithmetic")
    func nonPositiveSizes() {
        #expect(
            Self.refusal(ModelSpec(featureCount: 3, l2: 0, .vae(latentDimension: 2, hiddenUnits: -5)))
                == "invalid model spec: vae: hiddenUnits -5 must be at least 1")
        #expect(
            Self.refusal(ModelSpec(featureCount: 3, l2: 0, .softmax(classCount: -1)))
                == "invalid model spec: softmax: classCount -1 must be at least 1")
    }

    @Test("byte counts read in decimal units with three significant digits")
    func describedBytes() {
        #expect(MachineMemory.describe(bytes: 999) == "999 B")
        #expect(MachineMemory.describe(bytes: 1500) == "1.5 kB")
        #expect(MachineMemory.describe(bytes: 217_600_001_088) == "218 GB")
        #expect(MachineMemory.describe(bytes: 24_180_000_000) == "24.2 GB")
        #expect(MachineMemory.describe(bytes: .max) == "9.22 EB")
    }

    @Test("MemAvailable is read from /proc/meminfo text in bytes; a malformed line gives nil")
    func meminfo() {
        let text = "MemTotal:       24000000 kB\nMemFree:        1000 kB\nMemAvailable:   23612764 kB\n"
        #expect(MachineMemory.availableBytes(meminfo: text) == 23_612_764 * 1024)
        #expect(MachineMemory.availableBytes(meminfo: "MemAvailable: lots\n") == nil)
        #expect(MachineMemory.availableBytes(meminfo: "MemTotal: 5 kB\n") == nil)
        #expect(MachineMemory.current().availableBytes > 0)
    }

    @Test("checked products and sums give nil instead of trapping")
    func checkedArithmetic() {
        #expect(CheckedSize.product([3, 4, 5]) == 60)
        #expect(CheckedSize.product([]) == 1)
        #expect(CheckedSize.product([1 << 32, 1 << 31]) == nil)
        #expect(CheckedSize.product([2, -1]) == nil)
        #expect(CheckedSize.sum([1, 2, nil]) == nil)
        #expect(CheckedSize.sum([.max, 1]) == nil)
        #expect(CheckedSize.sum([.max - 1, 1]) == .max)
    }
}
