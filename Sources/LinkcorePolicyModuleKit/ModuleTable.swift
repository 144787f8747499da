import CLinkcorePolicy
import LinkcoreConfig
import SwiftProtobuf

/// The C side of a policy module written in Swift: builds the static `lc_policy_module` table a
/// module returns from its `@_cdecl("linkcore_policy_module")` function. decide, free_result and
/// shutdown are the same for every Swift module; init is the module's own (a C function pointer
/// cannot capture, so each module passes a non-capturing closure that calls ``ModuleKit/initialize``).
public enum ModuleTable {
    public typealias InitFunction = @convention(c) (
        UnsafePointer<CChar>?, UnsafePointer<UInt8>?, Int, UnsafePointer<lc_policy_host>?,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<CChar>?, Int
    ) -> Int32

    /// A table in static storage, valid for the life of the process (modules are never unloaded).
    public static func make(
        kind: lc_policy_kind, name: StaticString, version: StaticString, initialize: InitFunction
    ) -> UnsafePointer<lc_policy_module> {
        let table = UnsafeMutablePointer<lc_policy_module>.allocate(capacity: 1)
        table.initialize(to: lc_policy_module())
        table.pointee.magic = LC_POLICY_MAGIC
        table.pointee.abi_version = LC_POLICY_ABI_VERSION
        table.pointee.size = UInt32(MemoryLayout<lc_policy_module>.size)
        table.pointee.kind = kind.rawValue
        table.pointee.contract = Self.contract
        table.pointee.name = UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
        table.pointee.version = UnsafeRawPointer(version.utf8Start).assumingMemoryBound(to: CChar.self)
        table.pointee.`init` = initialize
        table.pointee.decide = { instance, query, length, decision, decisionLength in
            guard let instance, let decision, let decisionLength else { return Int32(LC_POLICY_INTERNAL.rawValue) }
            let box = Unmanaged<InstanceBox>.fromOpaque(instance).takeUnretainedValue()
            let bytes = UnsafeRawBufferPointer(start: query, count: query == nil ? 0 : length)
            switch box.decide(bytes) {
            case .success(let answer):
                let out = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, answer.count))
                answer.withUnsafeBufferPointer { if let base = $0.baseAddress { out.update(from: base, count: $0.count) } }
                decision.pointee = out
                decisionLength.pointee = answer.count
                return Int32(LC_POLICY_OK.rawValue)
            case .failure(let status):
                return status.status
            }
        }
        table.pointee.free_result = { _, decision, _ in decision?.deallocate() }
        table.pointee.shutdown = { instance in
            guard let instance else { return }
            Unmanaged<InstanceBox>.fromOpaque(instance).release()
        }
        return UnsafePointer(table)
    }

    nonisolated(unsafe) private static let contract: UnsafePointer<CChar> = {
        let text = Array(LC_POLICY_CONTRACT.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: text.count)
        p.initialize(from: text, count: text.count)
        return UnsafePointer(p)
    }()
}

/// What a Swift module's init makes: a decide function over serialized bytes.
public final class InstanceBox: Sendable {
    let decide: @Sendable (UnsafeRawBufferPointer) -> Result<[UInt8], ModuleFailure>

    init(decide: @escaping @Sendable (UnsafeRawBufferPointer) -> Result<[UInt8], ModuleFailure>) {
        self.decide = decide
    }
}

/// Why a Swift module's decide produced no decision; becomes the call's `lc_policy_status`.
public enum ModuleFailure: Error, Sendable {
    /// The query did not decode or lacks a required field.
    case invalidQuery
    case internalError

    var status: Int32 {
        switch self {
        case .invalidQuery: return Int32(LC_POLICY_INVALID_QUERY.rawValue)
        case .internalError: return Int32(LC_POLICY_INTERNAL.rawValue)
        }
    }
}

/// The host's callbacks as a module sees them.
public struct ModuleHost: @unchecked Sendable {  // the host keeps the struct and its context valid until shutdown
    let host: UnsafePointer<lc_policy_host>

    /// Milliseconds since the epoch on the host's clock.
    public func nowMs() -> Int64 { host.pointee.now_ms?(host.pointee.context) ?? 0 }

    public func log(_ level: lc_policy_log_level, _ message: String) {
        message.withCString { host.pointee.log?(host.pointee.context, Int32(level.rawValue), $0) }
    }
}

public enum ModuleKit {
    /// The body of a Swift module's init: reads the configuration as UTF-8 text, lets `make`
    /// build the decision function, and reports a configuration error into the host's buffer.
    public static func initialize<Q: SwiftProtobuf.Message, D: SwiftProtobuf.Message>(
        _ path: UnsafePointer<CChar>?, _ config: UnsafePointer<UInt8>?, _ length: Int,
        _ host: UnsafePointer<lc_policy_host>?, _ instance: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
        _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int,
        query: Q.Type, decision: D.Type,
        make: (_ text: String, _ file: String, _ host: ModuleHost) throws(ConfigError) -> @Sendable (Q) -> Result<D, ModuleFailure>
    ) -> Int32 {
        func report(_ message: String) {
            guard let error, errorCapacity > 0 else { return }
            let bytes = Array(message.utf8.prefix(errorCapacity - 1))
            for (i, b) in bytes.enumerated() { error[i] = CChar(bitPattern: b) }
            error[bytes.count] = 0
        }
        guard let host, let instance else {
            report("init called without host callbacks or an instance slot")
            return Int32(LC_POLICY_INTERNAL.rawValue)
        }
        guard host.pointee.size >= UInt32(MemoryLayout<lc_policy_host>.size) else {
            report("the host's callback table is older than this module's ABI")
            return Int32(LC_POLICY_INTERNAL.rawValue)
        }
        let file = path.map { String(cString: $0) } ?? "<config>"
        let bytes = UnsafeBufferPointer(start: config, count: config == nil ? 0 : length)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            report("\(file) is not UTF-8 text")
            return Int32(LC_POLICY_INVALID_CONFIG.rawValue)
        }
        let decideTyped: @Sendable (Q) -> Result<D, ModuleFailure>
        do {
            decideTyped = try make(text, file, ModuleHost(host: host))
        } catch {
            report(error.description)
            return Int32(LC_POLICY_INVALID_CONFIG.rawValue)
        }
        let box = InstanceBox { bytes in
            guard let q = try? Q(serializedBytes: Array(bytes)) else { return .failure(.invalidQuery) }
            return decideTyped(q).flatMap { d in
                guard let out: [UInt8] = try? d.serializedBytes() else { return .failure(.internalError) }
                return .success(out)
            }
        }
        instance.pointee = Unmanaged.passRetained(box).toOpaque()
        return Int32(LC_POLICY_OK.rawValue)
    }
}
