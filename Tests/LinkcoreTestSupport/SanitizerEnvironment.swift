import Foundation

/// The sanitizer settings of this test run, for the environments of the children it starts.
///
/// `scripts/sanitizers.sh` runs `swift test` with TSAN_OPTIONS / ASAN_OPTIONS pointing `log_path`
/// at a report directory. A child that gets an environment of its own (most daemons and card
/// tools here do: the test process never calls setenv) would drop them, and its reports would go
/// to its log file or nowhere. This adds them back, read from the test process's environment;
/// in a normal run none is set and nothing changes.
public enum SanitizerEnvironment {
    public static let keys = ["TSAN_OPTIONS", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"]

    /// `environment` plus each sanitizer setting of the test process that it does not set itself.
    public static func adding(to environment: [String: String]) -> [String: String] {
        let ours = ProcessInfo.processInfo.environment
        var result = environment
        for key in keys where result[key] == nil {
            if let value = ours[key] { result[key] = value }
        }
        return result
    }
}
