import ArgumentParser
import Foundation
import ShardApplication
import ShardLosses

/// `shardtrain loss NAME`: evaluates one loss on values from the command line or a file and prints
/// the value, the per-sample values and the gradient with respect to every prediction input.
public struct LossCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "loss",
        abstract: "Evaluate a loss: value, per-sample values and gradient w.r.t. every prediction input.",
        discussion: """
            Inputs and parameters are named as in the table below. \
            On the command line, values are comma-separated, matrix rows are \
            separated by ';' and CTC sequences (and their label lists) by '|'. \
            A matrix input given without ';' is one row (p=0.5,0.5 is 1x2; a \
            column is typed 0.5;0.5). Integer parameters (blank) must be \
            integers: 1.7, 1e20 or nan are refused. CTC log-probability \
            frames and kl_div rows must be normalised (within 1e-6*C in \
            float64, 1e-4*C in float32). \
            A JSON file holds {"params": {...}, "inputs": {...}}; a losses.json \
            case works as is. A CSV file has one row per sample and a header \
            naming the inputs; a name repeated over several columns forms a \
            matrix row.

            Losses, parameters (defaults) and inputs; * = gets a gradient:
              mse, mae                     y_true, y_pred*
              huber (delta=1)              y_true, y_pred*
              pinball (tau=0.5)            y_true, y_pred*
              pinball_multi (taus)         y_true (N), y_pred* (N,Q)
              bce_prob (eps=1e-15)         y_true, y_pred* (probabilities)
              bce_logits                   y_true, logits*
              focal_prob (gamma=2, alpha=0.25, alpha_mode=alpha_t|all,
                          eps=1e-15)       y_true (0/1), y_pred*
              focal_logits (gamma, alpha, alpha_mode)
                                           y_true (0/1), logits*
              hinge, squared_hinge         y_true (-1/+1), scores*
              contrastive_distance (margin=1)
                                           y_true (1 = similar), distance*
              cce_prob (eps=1e-15)         labels (N) or y_true (N,C),
                                           y_pred* (N,C)
              cce_logits                   labels (N) or y_true (N,C),
                                           logits* (N,C)
              kl_div                       p (N,C), q* (N,C)
              gaussian_kl                  mean* (N,L), logvar* (N,L)
              contrastive_embeddings (margin=1)
                                           y_true (N), x1* (N,D), x2* (N,D)
              triplet_squared, triplet_euclidean (margin=1)
                                           anchor*, positive*, negative*
              ctc (blank=0, zero_infinity=false)
                                           log_probs* (T_n x C each), labels
              ctc_logits (blank, zero_infinity)
                                           logits* (T_n x C each), labels

            Examples:
              shardtrain loss huber --param delta=1 \\
                --input y_true=1,2,3,4 --input y_pred=1.1,2.2,2.8,6.0
              shardtrain loss cce_logits --input labels=0,2 \\
                --input "logits=1,2,3;0.5,0,-1" --json
              shardtrain loss ctc --input labels=1 --input \\
                "log_probs=-0.6931471805599453,-0.6931471805599453;-0.6931471805599453,-0.6931471805599453"
              shardtrain loss --examples
            """)

    @Argument(help: "Loss name (see the list above).")
    public var name: String?

    @Option(name: .customLong("input"), help: ArgumentHelp("An input as NAME=VALUES, e.g. y_pred=0.9,0.1.", valueName: "name=values"))
    public var inputs: [String] = []

    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter as NAME=VALUE, e.g. delta=1.", valueName: "name=value"))
    public var params: [String] = []

    @Option(help: "A JSON or CSV file with the inputs (and, for JSON, the parameters).")
    public var file: String?

    @Option(help: "Reduction: mean, sum or none.")
    public var reduction = "mean"

    @Option(help: "Arithmetic precision: float64 or float32.")
    public var precision = "float64"

    @Flag(help: "Print machine-readable JSON instead of text.")
    public var json = false

    @Flag(help: "Rerun the tutorial's worked examples and print our value beside the value it claimed.")
    public var examples = false

    public init() {}

    public func validate() throws {
        guard examples || name != nil else { throw ValidationError("give a loss name, or --examples") }
        guard Reduction(rawValue: reduction) != nil else { throw ValidationError("--reduction must be mean, sum or none") }
        guard ["float64", "float32"].contains(precision) else { throw ValidationError("--precision must be float64 or float32") }
    }

    public func run() throws {
        if examples {
            try printExamples()
            return
        }
        guard let name else { return }
        // Everything that can go wrong here is in what was typed (the loss, its inputs and parameters): usage errors.
        let evaluation: LossEvaluation
        let request: LossRequest
        do {
            var built = try LossRequest(loss: name, reduction: Reduction(rawValue: reduction) ?? .mean)
            if let file { try built.load(file: file) }
            for text in params { try built.setParameter(text) }
            for text in inputs { try built.setInput(text) }
            request = built
            evaluation = precision == "float32" ? try request.evaluate(Float.self) : try request.evaluate(Double.self)
        } catch let error as LossError {
            throw CommandFailure(error.description, status: .usage)
        } catch let error as LossRequestError {
            throw CommandFailure(error.description, status: .usage)
        }
        print(json ? evaluation.json(request: request) : evaluation.text(request: request))
    }

    private func printExamples() throws {
        var rows: [(TutorialExample, Double)] = []
        for example in TutorialExample.all { rows.append((example, try example.ourValue())) }
        if json {
            let items = rows.map { example, ours in
                JSONText.object([
                    ("example", JSONText.string(example.title)), ("loss", JSONText.string(example.loss)),
                    ("inputs", JSONText.string(example.inputs)), ("tutorial_claimed", JSONText.number(example.claimedValue)),
                    ("ours", JSONText.number(ours)),
                ])
            }
            print("[\n  " + items.joined(separator: ",\n  ") + "\n]")
            return
        }
        print("Tutorial worked examples rerun in float64 (mean reduction); derived in Tests/Reference/TUTORIAL_VALUES.md.")
        for (example, ours) in rows {
            print("")
            print("\(example.title)  [\(example.loss)]")
            print("  inputs:           \(example.inputs)")
            print("  tutorial claimed: \(String(format: "%.4f", example.claimedValue))")
            print("  ours:             \(ours)")
        }
    }
}

