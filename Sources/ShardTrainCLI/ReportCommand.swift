import ArgumentParser
import Foundation
import ShardApplication
import ShardArtifacts

/// `shardtrain report --scale FILE`: the HTML report of a saved scaling sweep, the page `scale --report` writes.
public struct ReportCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Draw the HTML report of a saved scaling sweep (the document of scale --summary-json or --json).",
        discussion: """
              shardtrain scale --data data/fraud_synthetic.csv --standardize \\
                --optimizer gd --fit-workers 1,2 --predict-workers 3 --rounds 50 \\
                --summary-json scale.json
              shardtrain report --scale scale.json --output scale.html
            """)

    @Option(help: "The scale document (format shardtrain-scale/1).")
    public var scale: String

    @Option(help: "Write the HTML report to this file, atomically.")
    public var output: String

    public init() {}

    public func validate() throws {
        try OutputPaths.refuseClashes(outputs: [("--output", output)], inputs: [("--scale", scale)])
        try OutputPaths.refuseUnwritable([("--output", output)])
        try OutputPaths.refuseOtherThanHTML(flag: "--output", path: output)
    }

    public func run() throws {
        Interrupt.installExitingAtOnce()
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: scale)) } catch {
            throw CommandFailure("--scale \(scale): cannot read it: \(error.localizedDescription)")
        }
        do {
            let sweep = try ScaleSweep(json: data, path: scale)
            try AtomicFile.write(ScaleReport.page(sweep), to: output)
        } catch {
            throw CommandFailure(error)
        }
        print("wrote report \(output)")
    }
}
