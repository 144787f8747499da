import LinkcoreWire

/// Why one policy decision failed. Every case fails closed: the caller refuses the request with
/// ``code`` (`POLICY_FAILURE`, retryable when ``isTransient``) and logs ``description``
/// (throttled per module: the daemon's `PolicyFailureLog`); nothing about a resident is in it.
public enum PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No module of this kind is loaded (no `[policy]` configured, or the kind was left out).
    case notConfigured(PolicyKind)
    /// The module's decide returned a non-zero `lc_policy_status`.
    case moduleFailed(module: String, status: Int32)
    /// The module answered with bytes that are not a valid decision of its kind.
    case garbage(module: String, detail: String)
    /// The module did not answer within the deadline; its call was abandoned, not cancelled.
    case deadlineExceeded(module: String, deadlineMs: Int)
    /// Every worker of the module is stuck in an overrunning call: refused without queueing.
    case saturated(module: String)

    /// The wire code a caller answers with.
    public var code: LCErrorCode { .policyFailure }

    /// Whether the same request may well be decided if sent again: an overrun is (a module cold
    /// after a restart, a moment of contention). A module that fails, answers garbage, is missing
    /// or has every worker stuck will answer the same way until the operator acts.
    public var isTransient: Bool {
        if case .deadlineExceeded = self { return true }
        return false
    }

    /// The module the failure is attributed to ("" when none is loaded).
    public var module: String {
        switch self {
        case .notConfigured: return ""
        case .moduleFailed(let module, _), .garbage(let module, _), .deadlineExceeded(let module, _), .saturated(let module):
            return module
        }
    }

    public var description: String {
        switch self {
        case .notConfigured(let kind): return "no \(kind) policy module is loaded"
        case .moduleFailed(let module, let status): return "policy module \(module) failed (status \(status))"
        case .garbage(let module, let detail): return "policy module \(module) returned an invalid decision: \(detail)"
        case .deadlineExceeded(let module, let ms): return "policy module \(module) overran its \(ms) ms deadline"
        case .saturated(let module): return "policy module \(module) has every worker stuck in overrunning calls"
        }
    }

    /// A typed refusal for the wire, retryable only when the failure is transient.
    public var wireError: WireError { WireError(code, description, retryable: isTransient) }
}

/// Why a module, or a whole policy set, could not be loaded. The running set stays in force.
public struct PolicyLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The module or its configuration file could not be read.
        case io
        /// The module file may be written by users other than its owner: anyone who can write it
        /// can run code inside linkcored.
        case insecure
        /// dlopen refused the file: not a shared object, wrong architecture, missing dependency.
        case notLoadable
        /// The file has no `linkcore_policy_module` entry point.
        case noEntryPoint
        /// The entry point returned something that is not a policy-module table.
        case badMagic
        /// The module speaks another ABI version.
        case abiMismatch
        /// The table is smaller than this ABI version's layout, or lacks a function.
        case badTable
        /// The module was built against another protobuf contract.
        case contractMismatch
        /// The module is of another kind than the configuration says.
        case wrongKind
        /// The module's init refused its configuration.
        case initFailed
        /// The set as a whole is not acceptable (e.g. two fee modules).
        case invalidSet
    }

    public var kind: Kind
    /// The module file (or "" for set-level errors).
    public var path: String
    public var message: String

    public init(_ kind: Kind, path: String, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "policy module \(path): \(message)" }
}
