import Foundation

/// A fresh directory under the temporary directory, removed when the value goes away (or at
/// `cleanup()`). Its name starts with `linkcore-`: `ServiceAccount.handOver` hands only such a
/// directory to the service account.
public final class TempDirectory: @unchecked Sendable {
    public let url: URL
    public var path: String { url.path }

    public init() throws {
        url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("linkcore-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes `contents` to `name` inside the directory; returns the file's path.
    @discardableResult
    public func write(_ name: String, _ contents: String) throws -> String {
        let filePath = url.appendingPathComponent(name).path
        try contents.write(toFile: filePath, atomically: true, encoding: .utf8)
        return filePath
    }

    public func cleanup() {
        try? FileManager.default.removeItem(at: url)
    }

    deinit { cleanup() }
}
