import ArgumentParser
import Foundation
import ShardApplication
import ShardArtifacts

/// `shardtrain sample`: decode random latent points of a VAE into an image grid.
public struct SampleCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Decode z ~ N(0, I) with a VAE and write the outputs as an image grid (.png or .pgm).",
        discussion: """
            Needs a square feature count (8×8 for data/digits.csv). Each cell shows sigmoid(decoder(z)), \
            scaled ×4, with a 1-pixel grey gap. Example:
              shardtrain sample --model-file vae.safetensors --count 16 --seed 1 \\
                --output samples.png
            """)

    @Option(help: "VAE model file written by `train --save`.")
    public var modelFile: String

    @Option(help: "Number of samples.")
    public var count = 16

    @Option(help: "Seed of the latent draws.")
    public var seed: UInt64 = 0

    @Option(help: "Image file; the format follows the extension (.png or .pgm).")
    public var output: String

    public init() {}

    public func validate() throws {
        guard count >= 1, count <= 10_000 else { throw ValidationError("--count must be between 1 and 10000") }
        try OutputPaths.refuseClashes(outputs: [("--output", output)], inputs: [("--model-file", modelFile)])
        try OutputPaths.refuseUnwritable([("--output", output)])
        try refuseImageFormat(output)
    }

    public func run() throws {
        Interrupt.installExitingAtOnce()
        do {
            let loaded = try LoadedModel.load(path: modelFile)
            try loaded.require([.vae], command: "sample")
            let side = try loaded.imageSide()
            try GreyImage.grid(cells: try loaded.samples(count: count, seed: seed), side: side).write(to: output)
        } catch {
            throw CommandFailure(error)
        }
    }
}

/// `shardtrain reconstruct`: pass rows through a VAE (posterior mean) and write the outputs as an image grid.
public struct ReconstructCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "reconstruct",
        abstract: "Reconstruct the first rows of a CSV with a VAE and write them as an image grid (.png or .pgm).",
        discussion: """
            Each cell shows sigmoid(decoder(mean(x))) for one row, in file order. Example:
              shardtrain reconstruct --model-file vae.safetensors --data data/digits.csv \\
                --count 16 --output recon.png
            """)

    @Option(help: "VAE model file written by `train --save`.")
    public var modelFile: String

    @Option(help: "CSV file with the model's feature columns (a label column is optional).")
    public var data: String

    @Option(help: "Number of rows to reconstruct, from the first.")
    public var count = 16

    @Option(help: "Image file; the format follows the extension (.png or .pgm).")
    public var output: String

    @Option(help: "Name of the label column (default: the one the model was trained with).")
    public var labelColumn: String?

    public init() {}

    public func validate() throws {
        guard count >= 1, count <= 10_000 else { throw ValidationError("--count must be between 1 and 10000") }
        try OutputPaths.refuseClashes(outputs: [("--output", output)], inputs: [("--model-file", modelFile), ("--data", data)])
        try OutputPaths.refuseUnwritable([("--output", output)])
        try refuseImageFormat(output)
    }

    public func run() throws {
        Interrupt.installExitingAtOnce()
        do {
            let loaded = try LoadedModel.load(path: modelFile)
            try loaded.require([.vae], command: "reconstruct")
            let side = try loaded.imageSide()
            let input = try loaded.readData(path: data, labelColumn: labelColumn, labels: .optional)
            try GreyImage.grid(cells: try loaded.reconstructions(input, count: count), side: side).write(to: output)
        } catch {
            throw CommandFailure(error)
        }
    }
}

/// `--output` of `sample` and `reconstruct`: the format comes from the extension, .png or .pgm (checked before any work).
func refuseImageFormat(_ path: String) throws {
    let lowered = path.lowercased()
    guard lowered.hasSuffix(".png") || lowered.hasSuffix(".pgm") else {
        throw ValidationError("--output \(path): the image format comes from the extension; use .png or .pgm")
    }
}
