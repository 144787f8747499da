import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `index.json`: every certificate the dev CA issued and every revocation.
public struct DevPKIIndex: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case ca, server, organisation, node }

    public struct Issued: Codable, Sendable, Equatable {
        public var serial: String
        public var kind: Kind
        /// The organisation code (organisation certificates only).
        public var code: String?
        public var subject: String
        public var notBefore: Date
        public var notAfter: Date
        /// true when the company's key stayed with the company (sign-csr).
        public var fromCSR: Bool?
    }

    public struct Revoked: Codable, Sendable, Equatable {
        public var serial: String
        public var code: String?
        public var revokedAt: Date
    }

    public var version: Int
    /// The number of the CRL currently in crl.pem.
    public var crlNumber: UInt64
    public var issued: [Issued]
    public var revoked: [Revoked]

    public init() {
        version = 1
        crlNumber = 0
        issued = []
        revoked = []
    }

    public func isRevoked(serial: String) -> Bool {
        revoked.contains { $0.serial.caseInsensitiveCompare(serial) == .orderedSame }
    }
}

/// The on-disk development PKI used by `linkctl pki` and test scripts:
///
///     DIR/ (0700)  ca.pem  ca.key (0600)  server.pem  server.key (0600)  crl.pem  index.json
///          orgs/ (0700)  <CODE>.pem  <CODE>.key (0600)
///
/// Every file is written atomically (temporary file, fsync, rename). Mutating operations hold an
/// exclusive `flock` on `DIR/.lock`, so concurrent `linkctl` runs do not lose index updates.
public struct DevPKIDirectory: Sendable {
    public let path: String
    /// The clock for issuance, CRL and revocation dates: the system clock unless one is injected (tests).
    public let now: @Sendable () -> Date

    public static let defaultCADays = 3650
    public static let defaultLeafDays = 825
    public static let defaultCRLDays = 30

    public init(path: String, now: @escaping @Sendable () -> Date = { Date() }) {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.path = trimmed
        self.now = now
    }

    public var caCertificatePath: String { path + "/ca.pem" }
    public var caKeyPath: String { path + "/ca.key" }
    public var serverCertificatePath: String { path + "/server.pem" }
    public var serverKeyPath: String { path + "/server.key" }
    public var crlPath: String { path + "/crl.pem" }
    public var indexPath: String { path + "/index.json" }
    public var orgsPath: String { path + "/orgs" }
    public func organisationCertificatePath(_ code: String) -> String { "\(orgsPath)/\(code).pem" }
    public func organisationKeyPath(_ code: String) -> String { "\(orgsPath)/\(code).key" }

    // MARK: - Operations

    public struct InitResult: Sendable {
        public var ca: CertificateInfo
        public var server: CertificateInfo
    }

    /// Creates the CA, the server certificate, an empty CRL and a fresh index. Refuses when a CA
    /// exists unless `force`; with `force`, also removes the organisation certificates of the old CA.
    @discardableResult
    public func initialise(caCommonName: String = "linkcore development CA",
                           serverName: String = "localhost",
                           serverDNSNames: [String] = [],
                           serverIPs: [String] = ["127.0.0.1"],
                           validDays: Int = defaultLeafDays,
                           caValidDays: Int = defaultCADays,
                           crlDays: Int = defaultCRLDays,
                           force: Bool = false) throws -> InitResult {
        try FileIO.makeDirectory(path)
        return try FileIO.withLock(path + "/.lock") {  // init: the only operation on a fresh directory
            for existing in [caCertificatePath, caKeyPath] where FileIO.exists(existing) && !force {
                throw PKIError.caAlreadyExists(path: existing)
            }
            if validDays > caValidDays {
                throw PKIError.invalidArgument("the server certificate (\(validDays) days) cannot outlive the CA (\(caValidDays) days)")
            }
            let ca = try CertificateAuthority.create(commonName: caCommonName, validDays: caValidDays, now: now)
            // The server name goes into the SAN too: as an IP address if it is one, else as a DNS name.
            var dnsNames = serverDNSNames
            var ipAddresses = serverIPs
            if Self.isIPAddress(serverName) {
                if !ipAddresses.contains(serverName) { ipAddresses.insert(serverName, at: 0) }
            } else if !dnsNames.contains(serverName) {
                dnsNames.insert(serverName, at: 0)
            }
            let server = try ca.issueServer(commonName: serverName, dnsNames: dnsNames, ipAddresses: ipAddresses, validDays: validDays)
            let caInfo = try CertificateInfo.parse(pem: ca.certificate.certificatePEM)
            let serverInfo = try CertificateInfo.parse(pem: server.certificatePEM)

            var index = DevPKIIndex()
            index.issued.append(.init(caInfo, kind: .ca, code: nil))
            index.issued.append(.init(serverInfo, kind: .server, code: nil))
            index.crlNumber = 1
            let crl = try ca.makeCRL(revoked: [], nextUpdateDays: crlDays, crlNumber: index.crlNumber)

            if force { try FileIO.removeOrganisationFiles(in: orgsPath) }
            try FileIO.makeDirectory(orgsPath)
            try FileIO.writeAtomically(ca.certificate.privateKeyPEM, to: caKeyPath, mode: 0o600)
            try FileIO.writeAtomically(ca.certificate.certificatePEM, to: caCertificatePath, mode: 0o644)
            try FileIO.writeAtomically(server.privateKeyPEM, to: serverKeyPath, mode: 0o600)
            try FileIO.writeAtomically(server.certificatePEM, to: serverCertificatePath, mode: 0o644)
            try writeIndex(index)
            try FileIO.writeAtomically(crl, to: crlPath, mode: 0o644)
            return InitResult(ca: caInfo, server: serverInfo)
        }
    }

    /// Loads the CA from ca.pem / ca.key.
    public func loadCA() throws -> CertificateAuthority {
        guard FileIO.exists(caCertificatePath), FileIO.exists(caKeyPath) else {
            throw PKIError.notInitialised(directory: path)
        }
        return try CertificateAuthority(certificatePEM: try FileIO.read(caCertificatePath), privateKeyPEM: try FileIO.read(caKeyPath), now: now)
    }

    public func readIndex() throws -> DevPKIIndex {
        guard FileIO.exists(indexPath) else { throw PKIError.notInitialised(directory: path) }
        let data = try FileIO.readData(indexPath)
        do {
            return try Self.decoder.decode(DevPKIIndex.self, from: data)
        } catch {
            throw PKIError.corruptIndex(path: indexPath, detail: "\(error)")
        }
    }

    /// Issues (key and certificate) orgs/<CODE>.pem and .key. Refuses to replace an unrevoked
    /// certificate unless `force` (the replaced one stays valid until it expires or is revoked).
    @discardableResult
    public func issueOrganisation(code: String, name: String, validDays: Int = defaultLeafDays, force: Bool = false) throws -> PEMCertificate {
        try OrgCode.validate(code)
        return try locked {
            let ca = try loadCA()
            var index = try readIndex()
            try checkReplaceable(code: code, index: index, force: force)
            let issued = try ca.issueOrganisation(code: code, name: name, validDays: validDays)
            let info = try CertificateInfo.parse(pem: issued.certificatePEM)
            try FileIO.makeDirectory(orgsPath)
            try FileIO.writeAtomically(issued.privateKeyPEM, to: organisationKeyPath(code), mode: 0o600)
            try FileIO.writeAtomically(issued.certificatePEM, to: organisationCertificatePath(code), mode: 0o644)
            index.issued.append(.init(info, kind: .organisation, code: code))
            try writeIndex(index)
            return issued
        }
    }

    /// Certifies a company's CSR for `orgCode`, records it, and stores the certificate as
    /// orgs/<CODE>.pem (removing any stale orgs/<CODE>.key: the company holds the key).
    /// Returns the certificate PEM.
    @discardableResult
    public func signCSR(csrPEM: String, orgCode: String, validDays: Int = defaultLeafDays, force: Bool = false) throws -> String {
        try OrgCode.validate(orgCode)
        return try locked {
            let ca = try loadCA()
            var index = try readIndex()
            try checkReplaceable(code: orgCode, index: index, force: force)
            let issued = try ca.sign(csrPEM: csrPEM, orgCode: orgCode, notBefore: now(), validDays: validDays)
            let info = try CertificateInfo.parse(pem: issued.certificatePEM)
            try FileIO.makeDirectory(orgsPath)
            try FileIO.writeAtomically(issued.certificatePEM, to: organisationCertificatePath(orgCode), mode: 0o644)
            try FileIO.remove(organisationKeyPath(orgCode))
            var entry = DevPKIIndex.Issued(info, kind: .organisation, code: orgCode)
            entry.fromCSR = true
            index.issued.append(entry)
            try writeIndex(index)
            return issued.certificatePEM
        }
    }

    /// Revokes the organisation's current certificate (orgs/<CODE>.pem) and regenerates crl.pem.
    /// Returns the revoked serial.
    @discardableResult
    public func revokeOrganisation(code: String, crlDays: Int = defaultCRLDays) throws -> String {
        try OrgCode.validate(code)
        return try locked {
            let ca = try loadCA()
            var index = try readIndex()
            guard FileIO.exists(organisationCertificatePath(code)) else {
                throw PKIError.unknownOrganisation(code: code, directory: path)
            }
            let serial = try CertificateInfo.parse(pem: try FileIO.read(organisationCertificatePath(code))).serialHex
            if index.isRevoked(serial: serial) { throw PKIError.alreadyRevoked(code: code, serialHex: serial) }
            index.revoked.append(.init(serial: serial, code: code, revokedAt: now()))
            try writeCRL(ca: ca, index: &index, crlDays: crlDays)
            return serial
        }
    }

    /// Re-signs crl.pem from the index with the next CRL number (e.g. before nextUpdate passes).
    public func regenerateCRL(crlDays: Int = defaultCRLDays) throws {
        try locked {
            let ca = try loadCA()
            var index = try readIndex()
            try writeCRL(ca: ca, index: &index, crlDays: crlDays)
        }
    }

    // MARK: - Internals

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    func locked<T>(_ body: () throws -> T) throws -> T {
        guard FileIO.exists(caCertificatePath) else { throw PKIError.notInitialised(directory: path) }
        return try FileIO.withLock(path + "/.lock", body)
    }

    private func checkReplaceable(code: String, index: DevPKIIndex, force: Bool) throws {
        let certPath = organisationCertificatePath(code)
        guard !force, FileIO.exists(certPath) else { return }
        let current = try CertificateInfo.parse(pem: try FileIO.read(certPath))
        if !index.isRevoked(serial: current.serialHex) && current.notAfter > now() {
            throw PKIError.organisationHasCertificate(code: code, serialHex: current.serialHex)
        }
    }

    /// Index first, then CRL: the CRL can always be regenerated from the index.
    private func writeCRL(ca: CertificateAuthority, index: inout DevPKIIndex, crlDays: Int) throws {
        index.crlNumber += 1
        let crl = try ca.makeCRL(
            revoked: index.revoked.map { RevokedCertificate(serialHex: $0.serial, revocationDate: $0.revokedAt) },
            nextUpdateDays: crlDays, crlNumber: index.crlNumber)
        try writeIndex(index)
        try FileIO.writeAtomically(crl, to: crlPath, mode: 0o644)
    }

    func writeIndex(_ index: DevPKIIndex) throws {
        let data: Data
        do {
            data = try Self.encoder.encode(index)
        } catch {
            throw PKIError.corruptIndex(path: indexPath, detail: "\(error)")
        }
        try FileIO.writeAtomically(data + Data("\n".utf8), to: indexPath, mode: 0o644)
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

extension DevPKIIndex.Issued {
    init(_ info: CertificateInfo, kind: DevPKIIndex.Kind, code: String?) {
        self.init(serial: info.serialHex, kind: kind, code: code, subject: info.subject,
                  notBefore: info.notBefore, notAfter: info.notAfter, fromCSR: nil)
    }
}

/// POSIX file helpers: atomic writes with the final mode from the start, locking, 0700 directories.
enum FileIO {
    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func read(_ path: String) throws -> String {
        String(decoding: try readData(path), as: UTF8.self)
    }

    static func readData(_ path: String) throws -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw PKIError.fileSystem(path: path, detail: "cannot read: \((error as NSError).localizedDescription)")
        }
    }

    /// Creates the directory (0700) or tightens an existing one to 0700.
    static func makeDirectory(_ path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw PKIError.fileSystem(path: path, detail: "exists and is not a directory")
            }
        } else if mkdir(path, 0o700) != 0 {
            throw PKIError.fileSystem(path: path, detail: "cannot create directory: \(errnoText())")
        }
        if chmod(path, 0o700) != 0 {
            throw PKIError.fileSystem(path: path, detail: "cannot set mode 0700: \(errnoText())")
        }
    }

    static func writeAtomically(_ text: String, to path: String, mode: mode_t) throws {
        try writeAtomically(Data(text.utf8), to: path, mode: mode)
    }

    static func writeAtomically(_ data: Data, to path: String, mode: mode_t) throws {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw PKIError.fileSystem(path: temporary, detail: "cannot create: \(errnoText())") }
        var failure: String?
        if fchmod(fd, mode) != 0 { failure = "cannot set mode: \(errnoText())" }
        if failure == nil {
            failure = data.withUnsafeBytes { buffer -> String? in
                var offset = 0
                while offset < buffer.count {
                    let n = write(fd, buffer.baseAddress?.advanced(by: offset), buffer.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return "cannot write: \(errnoText())"
                    }
                    offset += n
                }
                return nil
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = "cannot fsync: \(errnoText())" }
        if close(fd) != 0 && failure == nil { failure = "cannot close: \(errnoText())" }
        if failure == nil && rename(temporary, path) != 0 { failure = "cannot rename into place: \(errnoText())" }
        if let failure {
            unlink(temporary)
            throw PKIError.fileSystem(path: path, detail: failure)
        }
        syncDirectory(of: path)
    }

    /// Best effort: makes the rename durable.
    static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT {
            throw PKIError.fileSystem(path: path, detail: "cannot remove: \(errnoText())")
        }
    }

    static func removeOrganisationFiles(in directory: String) throws {
        guard exists(directory) else { return }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw PKIError.fileSystem(path: directory, detail: "cannot list: \((error as NSError).localizedDescription)")
        }
        for name in names where name.hasSuffix(".pem") || name.hasSuffix(".key") {
            try remove("\(directory)/\(name)")
        }
    }

    /// Runs body holding an exclusive flock on lockPath (created 0600 if needed).
    static func withLock<T>(_ lockPath: String, _ body: () throws -> T) throws -> T {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let detail = errno == ENOENT ? "no such directory" : errnoText()
            throw PKIError.fileSystem(path: lockPath, detail: "cannot open lock file: \(detail)")
        }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw PKIError.fileSystem(path: lockPath, detail: "cannot lock: \(errnoText())") }
        }
        return try body()
    }
}
