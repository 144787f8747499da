import Foundation
import LinkcoreConfig
import LinkcorePolicy
import Logging

/// `linkcored --check-config`: everything the daemon would refuse at start, checked without
/// starting it: the TOML and its values, the TLS certificate, key and CA bundle (and that the key
/// matches the certificate), the CRL, the master secret, the whitelist table and every policy
/// module. The store is not opened: a check run by root outside the unit must not create or
/// migrate the database that the unit's dynamic user owns.
///
/// `credential:NAME` paths resolve in `credentialsDirectory` (`--credentials-dir`, e.g.
/// /etc/linkcore/credentials), else in `$CREDENTIALS_DIRECTORY` (inside the unit). With neither,
/// an operator's shell outside the unit, the check says which credentials are configured and
/// that their files were not read, and checks everything else.
public enum ConfigCheck {
    public struct Report: Sendable {
        /// One line per thing checked or left unchecked, for the operator.
        public var lines: [String]
    }

    /// Where `credential:` paths point when no credentials directory is known: recognisably not a
    /// real path, so the check can tell which resolved paths are credentials it cannot read.
    static let unsetCredentials = "/nonexistent/linkcored-check-config/CREDENTIALS_DIRECTORY-unset"

    public static func run(configPath: String, credentialsDirectory: String?,
                           environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Report {
        var environment = environment
        if let credentialsDirectory { environment["CREDENTIALS_DIRECTORY"] = credentialsDirectory }
        let credentialsKnown = !(environment["CREDENTIALS_DIRECTORY"] ?? "").isEmpty
        if !credentialsKnown { environment["CREDENTIALS_DIRECTORY"] = unsetCredentials }
        let config = try DaemonConfig.load(path: configPath, environment: environment)
        var lines = ["configuration \(configPath): syntax and values valid"]
        let unchecked = { (path: String) in path.hasPrefix(unsetCredentials + "/") }
        let credentialName = { (path: String) in "credential:" + path.dropFirst(unsetCredentials.count + 1) }
        let notRead = "configured, not read: $CREDENTIALS_DIRECTORY is not set (check it with --credentials-dir /etc/linkcore/credentials)"

        for (key, path) in [("certificate", config.tls.certificate), ("ca_bundle", config.tls.caBundle)] + (config.tls.crl.map { [("crl", $0)] } ?? []) {
            if unchecked(path) { lines.append("[tls] \(key) \(credentialName(path)): \(notRead)"); continue }
            try requireReadable(path, key: "[tls] \(key)")
        }
        if unchecked(config.tls.privateKey) {
            lines.append("[tls] private_key \(credentialName(config.tls.privateKey)): \(notRead)")
        } else if !config.tls.allPaths.contains(where: unchecked) {
            // The same loading as at start: the key must match the certificate, the CA and CRL must parse.
            _ = try CoreComponents.makeTLS(config)
            lines.append("[tls] certificate, private key, CA bundle\(config.tls.crl == nil ? "" : " and CRL"): loaded")
        }
        let secret = try config.keys.masterSecret.resolvePath(environment: environment)
        if unchecked(secret) {
            lines.append("[keys] master_secret \(config.keys.masterSecret): \(notRead)")
        } else {
            _ = try MasterSecret.load(secret, environment: environment)
            lines.append("[keys] master_secret: readable, long enough, private")
        }
        var logger = Logger(label: "linkcored.check-config")
        logger.logLevel = .error
        _ = try CoreComponents.loadWhitelist(config.mediation.whitelist, logger: logger)
        try DaemonPolicy.load(config, into: PolicyHost(logger: logger))
        lines.append("policy: \(config.policy.modules.count) module(s) loaded and initialised")
        switch config.store.engine {
        case .sqlite:
            lines.append("store \(config.store.path): not opened by the check")
        case .postgresql:
            if let connection = config.store.connection, unchecked(try connection.resolvePath(environment: environment)) {
                lines.append("[store] connection \(connection): \(notRead)")
            } else {
                let settings = try StoreOpener.postgresSettings(config, environment: environment)
                lines.append("store \(settings.redacted): connection string readable and private; not connected by the check")
            }
        }
        lines.append(config.metrics.listen.map { "[metrics] GET /metrics on \($0) (loopback): not bound by the check" }
            ?? "[metrics] off")
        return Report(lines: lines)
    }

    static func requireReadable(_ path: String, key: String) throws {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ConfigCheckError("\(key) \(path): the file does not exist or is not readable")
        }
    }
}

struct ConfigCheckError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension DaemonConfig.TLS {
    var allPaths: [String] { [certificate, privateKey, caBundle] + (crl.map { [$0] } ?? []) }
}
