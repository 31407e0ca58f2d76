// Writes the seed corpora of the fuzz targets from the real encoders, so that every seed is a valid input:
//   <dir>/frame/        one frame of every message type (two for blocks, params and done)
//   <dir>/jobspec/      WELCOME job specs, one per model kind
//   <dir>/modelfile/    model files, one per model kind (also the safetensors seeds)
//   <dir>/safetensors/  the model files and a bare safetensors file with two tensors
// The CSV and .npy seeds (Tests/Fuzz/csv, Tests/Fuzz/npy) are copies of small files from data/ and
// Tests/ShardDataTests/Fixtures.
import Foundation
import ShardArtifacts
import ShardData
import ShardEngine
import ShardModels
import ShardNumerics
import ShardProtocol
import ShardWire

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: fuzz-seeds DIR\n".utf8))
    exit(2)
}
let root = URL(fileURLWithPath: CommandLine.arguments[1])

func save(_ bytes: some Sequence<UInt8>, _ folder: String, _ name: String) throws {
    let directory = root.appendingPathComponent(folder)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try Data(bytes).write(to: directory.appendingPathComponent(name))
}

let specs: [(name: String, spec: ModelSpec)] = [
    ("logistic", ModelSpec(featureCount: 3, l2: 0.01, .logistic(focal: FocalParameters(gamma: 2, alpha: 0.25)))),
    ("logistic-weights", ModelSpec(featureCount: 2, l2: 0, .logistic(classWeights: [1, 3]))),
    ("svm", ModelSpec(featureCount: 2, l2: 0.1, .svm)),
    ("quantile", ModelSpec(featureCount: 2, l2: 0, .quantile(taus: [0.1, 0.5, 0.9]))),
    ("softmax", ModelSpec(featureCount: 2, l2: 0.001, .softmax(classCount: 3, classWeights: [1, 2, 1]))),
    ("triplet", ModelSpec(featureCount: 3, l2: 0, .triplet(TripletSettings(
        classCount: 3, embeddingDimension: 2, hiddenUnits: 4, margin: 0.5, pairObjective: .contrastive)))),
    ("vae", ModelSpec(featureCount: 3, l2: 0, .vae(latentDimension: 2, hiddenUnits: 4))),
    ("linear-huber", ModelSpec(featureCount: 2, l2: 0.5, .linear(RegressionSettings(loss: .huber, delta: 1.5)))),
]

// Job specs.
let plan = try BlockPlan(rowCount: 95, blockRows: 10)
for (index, entry) in specs.enumerated() {
    let schedule = index.isMultiple(of: 2) ? try BatchSchedule(blockCount: plan.blockCount, blocksPerStep: 3, seed: 7) : nil
    let job = JobSpec(
        model: entry.spec, precision: index.isMultiple(of: 3) ? .float32 : .float64, plan: plan,
        timing: ClusterTiming(heartbeatInterval: 0.25, workerTimeout: 3), seed: UInt64(index) * 1_000_003,
        schedule: schedule)
    try save(try job.encoded(), "jobspec", "\(entry.name).json")
}

// Frames: small and larger contents of every message type.
let codec = WireCodec()
let welcomeSpec = try JobSpec(
    model: specs[0].spec, precision: .float64, plan: plan, timing: ClusterTiming(), seed: 1
).encoded()
let block32 = try Block(id: 3, rows: 2, columns: 2, storage: .float32(features: [1, -2, 0.5, 4], labels: [0, 1]))
let block64 = try Block(id: 9, rows: 1, columns: 3, storage: .float64(features: [0, -0.0, 1e300], labels: [2]))
let messages: [(name: String, message: Message)] = [
    ("hello", .hello(pid: 4242, cores: 8, hostname: "node-1", software: "shardtrain 1.0 avx2 glibc-2.36")),
    ("welcome", .welcome(workerIndex: 1, workerCount: 3, jobSpec: welcomeSpec)),
    ("refuse", .refuse(reason: "protocol 2 is not 3")),
    ("blocks", .blocks([block32, block64])),
    ("blocks-empty", .blocks([])),
    ("ready", .ready(blockCount: 4, rowCount: 95)),
    ("params", .params([0.5, -1, 2], ranges: [0..<3, 5..<7])),
    ("params-batch", .params([1, 2], smoothing: 0.125, batchStep: 4, ranges: [2..<3])),
    ("partials", .partials(computeSeconds: 0.003, nodes: [
        NodeSums(node: TreeNode(level: 0, index: 0), rowCount: 10, values: [1, .nan]),
        NodeSums(node: TreeNode(level: 2, index: 1), rowCount: 40, values: [-.infinity, 3]),
    ])),
    ("heartbeat", .heartbeat),
    ("done", .done(reason: "converged")),
    ("done-failed", .done(reason: "worker 2 lost", jobFailed: true)),
    ("failure", .failure(reason: "out of memory")),
    ("shared-blocks", .sharedBlocks(region: "/proc/1/fd/5", regionBytes: 4096, blocks: [
        SharedBlockLocation(id: 0, rows: 4, columns: 3, precision: .float64, offset: 0),
        SharedBlockLocation(id: 1, rows: 2, columns: 3, precision: .float32, offset: 128),
    ])),
    ("hold", .hold(ranges: [0..<2, 4..<9])),
]
var covered = Set<MessageType>()
for (name, message) in messages {
    covered.insert(message.type)
    try save(try codec.encode(Frame(jobID: 0xDEAD_BEEF, round: 7, message: message)), "frame", "\(name).bin")
}
precondition(covered == Set(MessageType.allCases), "a message type has no seed frame")

// Model files (also safetensors seeds).
for (entry, seed) in zip(specs, 0...) {
    let model = try entry.spec.makeModel()
    let names = (0..<entry.spec.featureCount).map { "x\($0)" }
    let standardization = seed.isMultiple(of: 2)
        ? try Standardization(
            means: names.indices.map { Double($0) - 0.5 }, standardDeviations: names.indices.map { Double($0) + 1 })
        : nil
    let file = ModelFile(
        spec: entry.spec, parameters: (0..<model.parameterCount).map { Double($0 % 7) * 0.25 - 0.5 },
        featureNames: names, labelName: "y", labelEncoding: entry.spec.kind == .svm ? "plusMinusOne" : nil,
        standardization: standardization)
    let bytes = try file.encoded(path: "\(entry.name).safetensors")
    try save(bytes, "modelfile", "\(entry.name).safetensors")
    try save(bytes, "safetensors", "\(entry.name).safetensors")
}
let bare = SafetensorsFile(
    tensors: [
        SafetensorsFile.Tensor(name: "weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
        SafetensorsFile.Tensor(name: "bias", shape: [], values: [0.5]),
    ],
    metadata: ["note": "bare"])
try save(try bare.encoded(), "safetensors", "bare.safetensors")
