import ArgumentParser
import Foundation

/// How a command ends when it cannot do its job: one line `error: <message>` on standard error and an exit
/// status of the table in README.md ("Exit status"), the same for every command and in single-process and
/// cluster mode. Usage errors found while parsing (unknown or missing flags, values out of range) are printed
/// by ArgumentParser with the same prefix and status 64.
struct CommandFailure: Error, CustomStringConvertible {
    /// The exit statuses of `shardtrain` (BSD sysexits' `EX_USAGE` for usage, 128 + SIGINT for interruption).
    enum Status: Int32 {
        /// The input, a file, the training or the cluster failed.
        case failure = 1
        /// The flags do not fit each other or the data (nothing is trained).
        case usage = 64
        /// Ctrl-C or SIGTERM.
        case interrupted = 130
    }

    let message: String
    let status: Status

    init(_ message: String, status: Status = .failure) {
        self.message = message
        self.status = status
    }

    /// A failure whose message is `error`'s description (a `CommandFailure` as it is, with its status).
    init(_ error: any Error) {
        if let failure = error as? CommandFailure {
            self = failure
        } else {
            self.init("\(error)")
        }
    }

    static func interrupted(_ what: String = "interrupted") -> CommandFailure {
        CommandFailure(what, status: .interrupted)
    }

    var description: String { message }

    /// Prints the message and ends the process with the failure's status.
    func exit() -> Never {
        FileHandle.standardError.write(Data("\(ShardTrainCommand._errorPrefix)\(message)\n".utf8))
        Foundation.exit(status.rawValue)
    }
}

extension ShardTrainCommand {
    /// Every error line starts like this, whether ArgumentParser or a command prints it.
    public static var _errorPrefix: String { "error: " }
}
