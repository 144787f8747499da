import ArgumentParser
import Foundation
import LinkcorePKI

/// `linkctl pki …`: the development PKI, offline.
struct PKICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pki",
        abstract: "Make and maintain a development PKI (CA, server and organisation certificates, CRL).",
        discussion: "A PKI directory holds ca.pem, ca.key, server.pem, server.key, crl.pem, index.json and "
            + "orgs/<CODE>.pem|.key. Keys are 0600, the directory 0700. Organisation certificates bind "
            + "the code as the SAN URI urn:linkcore:org:<CODE>.",
        subcommands: [
            PKIInit.self, PKIIssue.self, PKIRevoke.self, PKICRL.self, PKISignCSR.self, PKICSR.self, PKIShow.self, PKIIssueNode.self,
        ]
    )
}

struct PKIDirectoryOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The PKI directory.", valueName: "dir"))
    var dir: String

    var directory: DevPKIDirectory { DevPKIDirectory(path: dir) }
}

/// Runs a command body; any error becomes one line on stderr and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as PKIError {
        failAndExit(error.description)
    } catch {
        failAndExit("\(error)")
    }
}

private func failAndExit(_ message: String) -> Never {
    FileHandle.standardError.write(Data("linkctl: error: \(message)\n".utf8))
    Foundation.exit(1)
}

/// Writes a file with the given mode, atomically (for files outside a PKI directory).
func writeOutputFile(_ text: String, to path: String, mode: Int) throws {
    let url = URL(fileURLWithPath: path)
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    do {
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: mode]) else {
            throw CocoaError(.fileWriteNoPermission)
        }
        let handle = try FileHandle(forWritingTo: temporary)
        try handle.write(contentsOf: Data(text.utf8))
        try handle.synchronize()
        try handle.close()
        if rename(temporary.path, url.path) != 0 {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw PKIError.fileSystem(path: path, detail: "cannot write: \((error as NSError).localizedDescription)")
    }
}

func readInputFile(_ path: String) throws -> String {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw PKIError.fileSystem(path: path, detail: "no such file")
    }
    if isDirectory.boolValue { throw PKIError.fileSystem(path: path, detail: "is a directory") }
    do {
        return try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw PKIError.fileSystem(path: path, detail: "cannot read: \((error as NSError).localizedDescription)")
    }
}

func describe(_ date: Date) -> String { date.formatted(.iso8601) }

struct PKIInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a CA, a server certificate and an empty CRL.")

    @OptionGroup var options: PKIDirectoryOption

    @Option(name: .long, help: "The server certificate's CN and first DNS name.")
    var serverName = "localhost"

    @Option(name: .long, help: "Extra DNS names for the server certificate (repeatable).")
    var serverDNS: [String] = []

    @Option(name: .long, help: "IP addresses for the server certificate (repeatable; default 127.0.0.1).")
    var serverIP: [String] = []

    @Option(name: .long, help: "Validity of the server certificate, in days.")
    var days = DevPKIDirectory.defaultLeafDays

    @Option(name: .long, help: "Validity of the CA, in days.")
    var caDays = DevPKIDirectory.defaultCADays

    @Option(name: .long, help: "The CA's common name.")
    var caName = "linkcore development CA"

    @Flag(name: .long, help: "Replace an existing CA (and delete the organisation certificates it issued).")
    var force = false

    func run() throws {
        try reportingErrors {
            let directory = options.directory
            let result = try directory.initialise(
                caCommonName: caName, serverName: serverName, serverDNSNames: serverDNS,
                serverIPs: serverIP.isEmpty ? ["127.0.0.1"] : serverIP,
                validDays: days, caValidDays: caDays, force: force)
            let server = result.server
            print("""
                created dev PKI in \(directory.path)
                  CA      \(directory.caCertificatePath)  \(result.ca.subject), serial \(result.ca.serialHex), until \(describe(result.ca.notAfter))
                  server  \(directory.serverCertificatePath)  \(server.subject), DNS \(server.dnsNames.joined(separator: ",")), IP \(server.ipAddresses.joined(separator: ",")), until \(describe(server.notAfter))
                  CRL     \(directory.crlPath)  (empty)
                next: linkctl pki issue --dir \(directory.path) --org <CODE> --name <NAME>
                """)
        }
    }
}

struct PKIIssue: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Issue an organisation's client certificate and key (orgs/<CODE>.pem, .key).")

    @OptionGroup var options: PKIDirectoryOption

    @Option(name: .long, help: "The organisation code (^[A-Z0-9][A-Z0-9_-]{1,31}$).")
    var org: String

    @Option(name: .long, help: "The organisation's name (the certificate's CN).")
    var name: String

    @Option(name: .long, help: "Validity in days.")
    var days = DevPKIDirectory.defaultLeafDays

    @Flag(name: .long, help: "Replace the organisation's current unrevoked certificate.")
    var force = false

    func run() throws {
        try reportingErrors {
            let directory = options.directory
            let issued = try directory.issueOrganisation(code: org, name: name, validDays: days, force: force)
            let info = try CertificateInfo.parse(pem: issued.certificatePEM)
            print("issued \(directory.organisationCertificatePath(org)) (key \(directory.organisationKeyPath(org))): \(info.subject), serial \(issued.serialHex), \(OrgCode.uri(for: org)), until \(describe(info.notAfter))")
        }
    }
}

struct PKIRevoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke an organisation's current certificate and regenerate crl.pem.")

    @OptionGroup var options: PKIDirectoryOption

    @Option(name: .long, help: "The organisation code.")
    var org: String

    @Option(name: .long, help: "Days until the CRL's nextUpdate.")
    var crlDays = DevPKIDirectory.defaultCRLDays

    func run() throws {
        try reportingErrors {
            let directory = options.directory
            let serial = try directory.revokeOrganisation(code: org, crlDays: crlDays)
            let index = try directory.readIndex()
            print("revoked \(org) serial \(serial); \(directory.crlPath) now lists \(index.revoked.count) serial(s) (CRL number \(index.crlNumber))")
        }
    }
}

struct PKICRL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crl",
        abstract: "Regenerate crl.pem from index.json with the next CRL number.")

    @OptionGroup var options: PKIDirectoryOption

    @Option(name: .long, help: "Days until the CRL's nextUpdate.")
    var crlDays = DevPKIDirectory.defaultCRLDays

    func run() throws {
        try reportingErrors {
            let directory = options.directory
            try directory.regenerateCRL(crlDays: crlDays)
            let crl = try CRLInfo.parse(pem: try readInputFile(directory.crlPath))
            print("wrote \(directory.crlPath): CRL number \(crl.crlNumber.map(String.init) ?? "-"), \(crl.revokedSerials.count) revoked, next update \(crl.nextUpdate.map(describe) ?? "-")")
        }
    }
}

struct PKISignCSR: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign-csr",
        abstract: "Certify a company's CSR for an organisation code (its requested extensions are ignored).")

    @OptionGroup var options: PKIDirectoryOption

    @Option(name: .long, help: "The CSR file (PEM).")
    var csr: String

    @Option(name: .long, help: "The organisation code to bind.")
    var org: String

    @Option(name: .long, help: "Where to write the certificate (default: stdout). orgs/<CODE>.pem is written too.")
    var out: String?

    @Option(name: .long, help: "Validity in days.")
    var days = DevPKIDirectory.defaultLeafDays

    @Flag(name: .long, help: "Replace the organisation's current unrevoked certificate.")
    var force = false

    func run() throws {
        try reportingErrors {
            let directory = options.directory
            try OrgCode.validate(org)
            let csrPEM = try readInputFile(csr)
            let certificate = try directory.signCSR(csrPEM: csrPEM, orgCode: org, validDays: days, force: force)
            if let out {
                try writeOutputFile(certificate, to: out, mode: 0o644)
                let info = try CertificateInfo.parse(pem: certificate)
                FileHandle.standardError.write(Data("signed \(out): \(info.subject), serial \(info.serialHex), \(OrgCode.uri(for: org)), until \(describe(info.notAfter))\n".utf8))
            } else {
                print(certificate, terminator: "")
            }
        }
    }
}

struct PKICSR: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csr",
        abstract: "Company side: make a key and a CSR to send to the operator.")

    @Option(name: .long, help: "The organisation code (used as the CSR's CN unless --name is given).")
    var org: String

    @Option(name: .long, help: "The CSR's common name (default: the organisation code).")
    var name: String?

    @Option(name: .long, help: "Where to write the private key (mode 0600).")
    var outKey: String

    @Option(name: .long, help: "Where to write the CSR.")
    var outCsr: String

    func run() throws {
        try reportingErrors {
            try OrgCode.validate(org)
            if FileManager.default.fileExists(atPath: outKey) {
                throw PKIError.fileSystem(path: outKey, detail: "already exists; refusing to overwrite a private key")
            }
            let request = try CSR.create(commonName: name ?? org)
            try writeOutputFile(request.privateKeyPEM, to: outKey, mode: 0o600)
            try writeOutputFile(request.csrPEM, to: outCsr, mode: 0o644)
            print("wrote key \(outKey) (0600) and CSR \(outCsr); send the CSR to the operator: linkctl pki sign-csr --csr \(outCsr) --org \(org) …")
        }
    }
}

struct PKIShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print what a certificate (or a CRL) says.")

    @Argument(help: "A PEM certificate or CRL file.")
    var file: String

    func run() throws {
        try reportingErrors {
            let text = try readInputFile(file)
            let none = "-"
            if text.contains("-----BEGIN X509 CRL-----") {
                let crl = try CRLInfo.parse(pem: text)
                print("""
                    issuer:        \(crl.issuer)
                    CRL number:    \(crl.crlNumber.map(String.init) ?? none)
                    last update:   \(describe(crl.lastUpdate))
                    next update:   \(crl.nextUpdate.map(describe) ?? none)\((crl.nextUpdate ?? .distantFuture) < .now ? "  (STALE)" : "")
                    revoked:       \(crl.revokedSerials.isEmpty ? none : crl.revokedSerials.joined(separator: ", "))
                    """)
                return
            }
            let info = try CertificateInfo.parse(pem: text)
            print("""
                subject:       \(info.subject)
                issuer:        \(info.issuer)
                serial:        \(info.serialHex)
                not before:    \(describe(info.notBefore))
                not after:     \(describe(info.notAfter))\(info.notAfter < .now ? "  (EXPIRED)" : "")
                CA:            \(info.isCA ? "yes" : "no")
                ext key usage: \(info.extendedKeyUsage.isEmpty ? none : info.extendedKeyUsage.joined(separator: ", "))
                SAN URIs:      \(info.sanURIs.isEmpty ? none : info.sanURIs.joined(separator: ", "))
                SAN DNS:       \(info.dnsNames.isEmpty ? none : info.dnsNames.joined(separator: ", "))
                SAN IP:        \(info.ipAddresses.isEmpty ? none : info.ipAddresses.joined(separator: ", "))
                org code:      \(info.orgCode ?? none)
                """)
        }
    }
}
