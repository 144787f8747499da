import ArgumentParser
import Foundation
import LinkcoreJPKI
import LinkcoreLifecycle
import LinkcoreOCSP
import LinkcorePKI
import LinkcoreSystemd
import Logging
import ServiceLifecycle

/// The delegated OCSP signer: the card CA certifies a key that only signs OCSP responses, so the
/// responder runs without the CA key (and the unit cannot read it).
struct OCSPSignerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocsp-signer",
        abstract: "Issue the OCSP responder's signing certificate from the card CA (ocsp-signer.pem, ocsp-signer.key).",
        discussion: "Re-run before the certificate expires and restart ocsp-serve: it carries id-pkix-ocsp-nocheck, so "
            + "clients never check its own status and its short validity is what limits a stolen signer key.")
    @Option(help: "The authority's directory (ca.pem, ca.key).") var dir: String
    @Option(help: "Validity of the signing certificate in days (1-366).") var validDays = 30

    func run() throws {
        guard (1...366).contains(validDays) else { throw ValidationError("--valid-days must be between 1 and 366") }
        let ca = try CertificateAuthority(certificatePEM: try String(contentsOfFile: dir + "/ca.pem", encoding: .utf8),
                                          privateKeyPEM: try String(contentsOfFile: dir + "/ca.key", encoding: .utf8))
        let signer = try ca.issueOCSPSigner(commonName: "linkcore card authority OCSP responder", validDays: validDays)
        // Key first, each file replaced whole (rename): a responder restarting meanwhile reads an
        // old pair or a new key with the old certificate, which it refuses (key mismatch), never a torn file.
        try replace(dir + "/" + OCSPFiles.signerKey, with: signer.privateKeyPEM, mode: 0o600)
        try replace(dir + "/" + OCSPFiles.signerCertificate, with: signer.certificatePEM, mode: 0o644)
        print(signer.serialHex)
    }

    func replace(_ path: String, with text: String, mode: Int) throws {
        let temporary = path + ".new"
        try? FileManager.default.removeItem(atPath: temporary)
        try write(text, to: temporary, mode: mode)
        guard rename(temporary, path) == 0 else { throw ValidationError("cannot replace \(path): errno \(errno)") }
    }
}

enum OCSPFiles {
    static let signerCertificate = "ocsp-signer.pem"
    static let signerKey = "ocsp-signer.key"
}

/// `ocsp-serve`: the OCSP responder over HTTP (RFC 6960 appendix A) as a service of its own.
struct OCSPServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocsp-serve",
        abstract: "Serve OCSP (RFC 6960 over HTTP, POST and GET) for the card CA's certificates from DIR/authority.db.",
        discussion: "Prints \"ocsp HOST:PORT\" on standard output once listening (the bound port when --listen asks for port 0). "
            + "READY=1 to systemd then; SIGTERM stops accepting and finishes the requests in progress. Exit 78 for bad files.")
    @Option(help: "The authority's directory (ca.pem, authority.db).") var dir: String
    @Option(help: "HOST:PORT to listen on (port 0: any free port).") var listen = "127.0.0.1:8600"
    @Option(help: "The signer certificate (default DIR/ocsp-signer.pem).") var signerCert: String?
    @Option(help: "The signer key (default DIR/ocsp-signer.key; under systemd, a credential).") var signerKey: String?
    @Option(help: "Seconds from thisUpdate to nextUpdate: how long a client or cache may keep an answer.") var nextUpdate = 600
    @Option(help: "Largest request body accepted, in bytes.") var maxBodyBytes = 4096
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "info"

    func run() async throws {
        guard let address = OCSPListenAddress(listen) else { throw ValidationError("--listen must be HOST:PORT, not \(listen)") }
        guard (1...86_400 * 7).contains(nextUpdate) else { throw ValidationError("--next-update must be 1 to 604800 seconds") }
        guard (256...1_048_576).contains(maxBodyBytes) else { throw ValidationError("--max-body-bytes must be 256 to 1048576") }
        LogSetup.bootstrap(identifier: "linkcore-jpki-ocsp", level: Logger.Level(rawValue: logLevel) ?? .info)
        let logger = Logger(label: "linkcore-jpki-ocsp")
        let responder: OCSPResponder
        do {
            responder = try OCSPResponder(
                caCertificatePEM: try String(contentsOfFile: dir + "/ca.pem", encoding: .utf8),
                signerCertificatePEM: try String(contentsOfFile: signerCert ?? dir + "/" + OCSPFiles.signerCertificate, encoding: .utf8),
                signerKeyPEM: try String(contentsOfFile: signerKey ?? dir + "/" + OCSPFiles.signerKey, encoding: .utf8),
                source: try CardAuthorityStore(path: dir + "/authority.db"),
                validity: .seconds(nextUpdate))
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("linkcore-jpki: ocsp-serve: \(error)\n".utf8))
            throw ExitCode(78)
        }
        let notifier = SystemdNotifier()
        let listening = ReadinessGate()
        let server = OCSPHTTPServer(responder: responder, maxBodyBytes: maxBodyBytes, logger: logger)
        let drainTimeout: Duration = .seconds(5)
        let application = server.application(host: address.host, port: address.port, drainTimeout: drainTimeout) { port in
            logger.notice("OCSP responder listening", metadata: ["address": "\(address.host):\(port)"])
            // Tests and scripts read the bound port from this line when they ask for port 0.
            FileHandle.standardOutput.write(Data("ocsp \(address.host):\(port)\n".utf8))
            listening.open()
        }
        // Stopped in reverse order: STOPPING=1 first, then the watchdog, then the HTTP server
        // drains the requests in progress.
        await ProcessLifecycle.run([
            application,
            SystemdNotifyService.watchdog(notifier, startAfter: listening),
            SystemdNotifyService(notifier: notifier, startAfter: listening, readyStatus: {
                "answering OCSP for the card CA; signer valid until \(responder.signerNotAfter)"
            }, stoppingStatus: { "stopping: finishing the requests in progress" }),
        ], drainTimeout: drainTimeout, logger: logger)
        // A server that never listened (address in use, bad host) failed; ProcessLifecycle logged why.
        if !listening.isOpen {
            FileHandle.standardError.write(Data("linkcore-jpki: ocsp-serve: cannot listen on \(listen)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// HOST:PORT, with [IPv6]:PORT.
struct OCSPListenAddress {
    let host: String
    let port: Int

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        (self.host, self.port) = (host, port)
    }
}
