// Waiting for a condition instead of sleeping a fixed time: a busy machine delays what a test
// waits for, it does not make it wrong. So a test states the condition and a generous bound; the
// bound only turns a broken (never-true) condition into a failure with a clear message.

/// A test failure with a message saying what did not happen (thrown by the helpers here; Swift
/// Testing records a thrown error as the test's failure, with this description).
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The default upper bound of every wait: long enough for a loaded two-core machine running the
/// whole suite in parallel. A passing test never waits it out.
public let defaultWaitTimeout: Duration = .seconds(60)

/// Polls `condition` every `poll` until it returns true; throws `TestFailure(message)` if it is
/// still false after `timeout`. The condition is checked once more after the bound (a test whose
/// threads were all busy may wake only after it), so it never fails for lack of a last look.
///
///     try await eventually("no checkpoint at 30\n\(net.daemon.log)") { try await status().position == 30 }
public func eventually(
    timeout: Duration = defaultWaitTimeout, poll: Duration = .milliseconds(20),
    _ message: @autoclosure () -> String, _ condition: () async throws -> Bool
) async throws {
    _ = try await waitFor(timeout: timeout, poll: poll, message()) { try await condition() ? true : nil }
}

/// As ``eventually(timeout:poll:_:_:)``, for a condition that produces a value: polls `produce`
/// until it returns non-nil and returns that value.
///
///     let frame = try await waitFor("no frame from the core") { try peer.readFrameIfAny() }
public func waitFor<T>(
    timeout: Duration = defaultWaitTimeout, poll: Duration = .milliseconds(20),
    _ message: @autoclosure () -> String, _ produce: () async throws -> T?
) async throws -> T {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while true {
        let expired = clock.now >= deadline
        if let value = try await produce() { return value }
        if expired { break }
        try await Task.sleep(for: poll)
    }
    throw TestFailure("not within \(timeout): \(message())")
}
