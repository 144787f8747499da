import CLinkcorePolicy
import Dispatch
import Foundation
import Logging
import Synchronization

/// One initialised instance of a module: its image, its configuration, its worker threads.
///
/// Lifetime does the retirement: a set holds its modules; a decide call in flight (including one
/// abandoned at its deadline) holds its module. When the last holder lets go, `deinit` calls the
/// module's shutdown and stops the threads; the image itself stays loaded for good.
public final class PolicyModule: @unchecked Sendable {  // instance and host are used only through the module's thread-safe ABI
    public let kind: PolicyKind
    public let name: String
    public let version: String
    public let path: String
    public let configPath: String?
    public let deadline: Duration

    let image: ModuleImage
    private let instance: UnsafeMutableRawPointer?
    private let host: UnsafeMutablePointer<lc_policy_host>
    private let context: Unmanaged<HostContext>
    private let workers: DecisionWorkers

    private let callCount = Atomic<Int>(0)
    private let failureCount = Atomic<Int>(0)
    private let warmed = Atomic<Bool>(false)

    /// Decisions are small; anything larger is garbage, never copied.
    static let maxDecisionBytes = 64 * 1024

    init(
        image: ModuleImage, configPath: String?, deadline: Duration, workers: Int, logger: Logger,
        clock: @escaping @Sendable () -> Int64
    ) throws(PolicyLoadError) {
        var config: [UInt8] = []
        if let configPath {
            // The table decides what is lawful: checked like the module file itself.
            config = try SecureFile(path: configPath, what: "configuration", reportedAs: image.path).contents()
        }
        var moduleLogger = logger
        moduleLogger[metadataKey: "policy-module"] = "\(image.name)"
        let context = Unmanaged.passRetained(HostContext(logger: moduleLogger, clock: clock))
        let host = UnsafeMutablePointer<lc_policy_host>.allocate(capacity: 1)
        host.initialize(to: lc_policy_host())
        host.pointee.size = UInt32(MemoryLayout<lc_policy_host>.size)
        host.pointee.context = context.toOpaque()
        host.pointee.log = { context, level, message in
            guard let context, let message else { return }
            Unmanaged<HostContext>.fromOpaque(context).takeUnretainedValue().log(level: level, message: message)
        }
        host.pointee.now_ms = { context in
            guard let context else { return 0 }
            return Unmanaged<HostContext>.fromOpaque(context).takeUnretainedValue().clock()
        }

        var instance: UnsafeMutableRawPointer?
        var error = [CChar](repeating: 0, count: 1024)
        // A module given no configuration still gets a valid (empty, NUL-free) buffer.
        let status = config.withUnsafeBufferPointer { bytes in
            (configPath ?? "").withCString { path in
                image.initFunction(path, bytes.baseAddress ?? Self.emptyByte, bytes.count, host, &instance, &error, error.count)
            }
        }
        guard status == LC_POLICY_OK.rawValue else {
            let reason = text(error)
            host.deallocate()
            context.release()
            throw PolicyLoadError(
                .initFailed, path: image.path,
                "\(image.name) refused its configuration\(configPath.map { " \($0)" } ?? ""): \(reason.isEmpty ? "status \(status)" : reason)"
            )
        }
        self.kind = image.kind
        self.name = image.name
        self.version = image.version
        self.path = image.path
        self.configPath = configPath
        self.deadline = deadline
        self.image = image
        self.instance = instance
        self.host = host
        self.context = context
        let parts = deadline.components
        let deadlineNanos = UInt64(max(0, parts.seconds)) * 1_000_000_000 + UInt64(max(0, parts.attoseconds / 1_000_000_000))
        self.workers = DecisionWorkers(
            count: workers, label: image.name, deadlineNanos: deadlineNanos,
            overrun: .deadlineExceeded(module: image.name, deadlineMs: Int(deadlineNanos / 1_000_000)))
    }

    deinit {
        // Reached only when no set and no call (even an abandoned one) holds this instance.
        workers.stop()
        image.shutdown(instance)
        host.deallocate()
        context.release()
    }

    nonisolated(unsafe) private static let emptyByte: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()

    /// One decision on a worker thread before the module takes real calls: a module's first call
    /// pays for its lazy work (page faults, tables built on first use, allocator arenas), which
    /// after a restart overran the request deadline. Waits up to `bound` (not the request
    /// deadline: being slow here is the point); the answer itself is not looked at. Not counted
    /// as a call, failure or overrun. False when the module did not answer within `bound` (its
    /// worker then stays with the call, counted as stuck, as for an overrun).
    func warm(_ query: [UInt8], within bound: Duration) -> Bool {
        let pending = PendingCall()
        let workers = self.workers
        guard workers.submit({ [self] in
            if pending.complete(self.callWithoutDeadline(query)) { workers.markUnstuck() }
        }) else { return false }
        let parts = bound.components
        let nanos = Int(clamping: parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000)
        if pending.finished.wait(timeout: .now() + .nanoseconds(nanos)) == .timedOut, pending.abandon() == nil {
            workers.markStuck()
            return false
        }
        warmed.store(true, ordering: .relaxed)
        return true
    }

    /// Whether a warm-up call was answered (see ``warm(_:within:)``).
    public var isWarm: Bool { warmed.load(ordering: .relaxed) }

    /// Serialized query in, serialized decision out, within the deadline, on the module's threads.
    /// The task is suspended, not its thread, while the module works, so a hung module never holds
    /// a thread of the cooperative pool.
    func call(_ query: [UInt8]) async -> Result<[UInt8], PolicyError> {
        callCount.add(1, ordering: .relaxed)
        let workers = self.workers
        let result = await withCheckedContinuation { continuation in
            let pending = AsyncPendingCall(continuation)
            let accepted = workers.submit({ [self] in
                if pending.complete(self.callWithoutDeadline(query)) { workers.markUnstuck() }
            }, answering: pending)
            if !accepted { _ = pending.complete(.failure(.saturated(module: name))) }
        }
        return count(result)
    }

    /// The ABI call on the caller's thread, with no deadline: for the benchmark's measure of the
    /// ABI itself, and for the workers. The request path uses ``call(_:)``.
    public func callWithoutDeadline(_ query: [UInt8]) -> Result<[UInt8], PolicyError> {
        var out: UnsafeMutablePointer<UInt8>?
        var outLength = 0
        let status = query.withUnsafeBufferPointer { q in
            image.decide(instance, q.baseAddress ?? Self.emptyByte, q.count, &out, &outLength)
        }
        defer { if let out { image.freeResult(instance, out, outLength) } }
        guard status == LC_POLICY_OK.rawValue else { return .failure(.moduleFailed(module: name, status: status)) }
        guard outLength >= 0, outLength <= Self.maxDecisionBytes else {
            return .failure(.garbage(module: name, detail: "decision of \(outLength) bytes"))
        }
        guard let out else {
            return outLength == 0 ? .success([]) : .failure(.garbage(module: name, detail: "null decision buffer"))
        }
        return .success(Array(UnsafeBufferPointer(start: out, count: outLength)))
    }

    private func count(_ result: Result<[UInt8], PolicyError>) -> Result<[UInt8], PolicyError> {
        if case .failure = result { failureCount.add(1, ordering: .relaxed) }
        return result
    }

    /// Counts a decision that was delivered but rejected by the host's validation.
    func countGarbage() { failureCount.add(1, ordering: .relaxed) }

    public struct Counters: Sendable, Equatable {
        public var calls: Int
        public var failures: Int
        public var overruns: Int
        /// Threads currently held by abandoned calls.
        public var stuck: Int
    }

    public var counters: Counters {
        Counters(
            calls: callCount.load(ordering: .relaxed), failures: failureCount.load(ordering: .relaxed),
            overruns: workers.overruns, stuck: workers.stuck)
    }
}

/// What a module's callbacks reach through `lc_policy_host.context`.
final class HostContext: Sendable {
    let logger: Logger
    let clock: @Sendable () -> Int64

    init(logger: Logger, clock: @escaping @Sendable () -> Int64) {
        self.logger = logger
        self.clock = clock
    }

    func log(level: Int32, message: UnsafePointer<CChar>) {
        // Bounded: a module must not be able to flood the journal with one call.
        let text = String(String(cString: message).prefix(1024))
        switch UInt32(bitPattern: level) {
        case LC_POLICY_LOG_DEBUG.rawValue: logger.debug("\(text)")
        case LC_POLICY_LOG_INFO.rawValue: logger.info("\(text)")
        case LC_POLICY_LOG_WARNING.rawValue: logger.warning("\(text)")
        default: logger.error("\(text)")
        }
    }
}
