import Foundation
import ShardNumerics
import Testing

@Suite("ThreadCount and ParallelBlocks.map")
struct ThreadCountTests {
    @Test("0 means every core this process may use; an explicit count is kept")
    func resolve() {
        let cores = ThreadCount.availableCores
        #expect(cores >= 1)
        // Foundation reads the same affinity mask on Linux.
        #expect(cores == ProcessInfo.processInfo.activeProcessorCount)
        #expect(ThreadCount.resolve(0) == cores)
        #expect(ThreadCount.resolve(3) == 3)
    }

    @Test("local workers share the cores: cores ÷ N, at least 1; an explicit count is kept", arguments: [1, 2, 3, 64])
    func share(processes: Int) {
        let cores = ThreadCount.availableCores
        #expect(ThreadCount.share(0, among: processes) == max(1, cores / processes))
        #expect(ThreadCount.share(5, among: processes) == 5)
    }

    @Test("map returns results in index order for any thread count", arguments: [0, 1, 2, 7])
    func mapOrder(threads: Int) {
        let squares = ParallelBlocks.map(count: 1000, threads: threads) { (index) -> Int in index * index }
        #expect(squares == (0..<1000).map { $0 * $0 })
        #expect(ParallelBlocks.map(count: 0, threads: threads) { (index) -> Int in index }.isEmpty)
    }

    struct Failure: Error, Equatable { let index: Int }

    @Test("map throws the error of the lowest failing index, whichever thread finds it first", arguments: [1, 2, 4])
    func mapFirstError(threads: Int) {
        #expect(throws: Failure(index: 17)) {
            _ = try ParallelBlocks.map(count: 500, threads: threads) { (index) throws(Failure) -> Int in
                // Later indices fail too; a high one fails fast, so with several threads it is often found first.
                if index == 17 || index == 480 || index % 97 == 96 { throw Failure(index: index) }
                return index
            }
        }
    }
}
