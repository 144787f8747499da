import Foundation
import LinkcoreConfig
import LinkcorePostgresStore
import LinkcoreStore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Opens the engine `[store] engine` names. PostgreSQL's connection string (and password) are
/// read from a systemd credential or a file only the daemon's user can read: a file others may
/// read is refused (exit 78), as for the master secret, since it may carry the password.
enum StoreOpener {
    static func open(_ config: DaemonConfig, logger: Logger) async throws -> any CoreStore & EventStore & NoticeStore {
        switch config.store.engine {
        case .sqlite:
            do {
                return try SQLiteCoreStore(path: config.store.path)
            } catch {
                throw DaemonError.store(config.store.path, "\(error)")
            }
        case .postgresql:
            let settings = try postgresSettings(config)
            do {
                let store = try await PostgresCoreStore.open(settings: settings, logger: logger)
                logger.info("store: PostgreSQL", metadata: ["database": "\(settings.redacted)"])
                return store
            } catch {
                // Not a configuration mistake: the server may come back. Exit 75 (EX_TEMPFAIL),
                // which systemd's Restart=on-failure retries.
                throw DaemonError.storeUnavailable(settings.redacted, "\(error)")
            }
        }
    }

    /// The connection settings from the secret files, checked (also by `--check-config`).
    static func postgresSettings(_ config: DaemonConfig, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresSettings {
        guard let reference = config.store.connection else {
            throw DaemonError.store("[store] connection", "engine = \"postgresql\" needs [store] connection")
        }
        let text = try SecretFile.read(try reference.resolvePath(environment: environment), what: "[store] connection", environment: environment)
        var settings: PostgresSettings
        do {
            settings = try PostgresSettings.parse(text)
        } catch {
            throw DaemonError.store("[store] connection \(reference)", "\(error)")
        }
        if let password = config.store.password {
            let value = try SecretFile.read(try password.resolvePath(environment: environment), what: "[store] password", environment: environment)
            settings.password = value.trimmingCharacters(in: .newlines)
        }
        return settings
    }
}

/// A small secret in a file: a systemd credential, or a file of the daemon's own user that group
/// and others cannot read.
enum SecretFile {
    static func read(_ path: String, what: String, environment: [String: String]) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SecretFileError("\(what) \(path): the file does not exist or is not readable")
        }
        if !MasterSecret.isCredential(path, environment: environment) {
            guard info.st_uid == geteuid() else {
                throw SecretFileError("\(what) \(path) belongs to uid \(info.st_uid), not to the daemon's user (uid \(geteuid())); chown it")
            }
            guard info.st_mode & 0o077 == 0 else {
                throw SecretFileError(
                    "\(what) \(path) is readable by group or others (mode \(String(info.st_mode & 0o7777, radix: 8))); chmod 600 it, or use a systemd credential")
            }
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw SecretFileError("\(what) \(path): cannot read it as UTF-8 text")
        }
        return text
    }
}

struct SecretFileError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
