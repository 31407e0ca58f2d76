import Foundation
import Logging
import ShardCluster
import Synchronization
import Testing

/// The progress stream as a late or patient watcher sees it.
@Suite("Progress publisher")
struct ProgressPublisherTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    @Test("a subscriber arriving after the run is greeted with the latest round and the summary; a quiet run sends heartbeats")
    func lateSubscriberAndHeartbeats() throws {
        let publisher = try ProgressPublisher(bind: "tcp://127.0.0.1:*", logger: Self.logger)
        for round in 1...5 { publisher.publish(topic: "round", line: Data("{\"round\":\(round)}".utf8)) }
        publisher.publish(topic: "summary", line: Data("{\"event\":\"summary\"}".utf8))
        Thread.sleep(forTimeInterval: 0.2)  // everything sent before anyone listens
        let subscriber = try ProgressSubscriber(connect: publisher.endpoint)
        var topics: [String] = []
        var lines: [String] = []
        while let (topic, line) = try subscriber.next(timeout: 3), topics.count < 3 {
            topics.append(topic)
            lines.append(String(decoding: line, as: UTF8.self))
            if topic == "summary" { break }
        }
        #expect(topics == ["round", "summary"], "\(topics)")
        #expect(lines.first == "{\"round\":5}")
        // Nothing else to say: heartbeats naming the latest round.
        let heartbeat = try #require(try subscriber.next(timeout: 3))
        #expect(heartbeat.topic == "heartbeat")
        #expect(String(decoding: heartbeat.line, as: UTF8.self) == "{\"event\":\"heartbeat\",\"round\":5}")
        #expect(publisher.subscriptions == 1)
        publisher.finish(linger: 0)
    }

    @Test("finish waits up to its linger for a first subscriber, who then gets the summary")
    func lingerForAFirstWatcher() throws {
        let publisher = try ProgressPublisher(bind: "tcp://127.0.0.1:*", logger: Self.logger)
        publisher.publish(topic: "summary", line: Data("{\"event\":\"summary\"}".utf8))
        let endpoint = publisher.endpoint
        let received = Mutex<String?>(nil)
        let watcher = Thread {
            Thread.sleep(forTimeInterval: 0.5)
            guard let subscriber = try? ProgressSubscriber(connect: endpoint) else { return }
            while let (topic, _) = try? subscriber.next(timeout: 5) {
                if topic == "summary" {
                    received.withLock { $0 = topic }
                    return
                }
            }
        }
        watcher.start()
        let start = ContinuousClock.now
        publisher.finish(linger: 5)
        #expect(ContinuousClock.now - start < .seconds(4.5), "it should stop once the watcher came")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(received.withLock { $0 } == "summary")
    }
}
