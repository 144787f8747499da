import ArgumentParser
import Foundation
import LinkcorePKI

/// `linkctl pki issue-node`: a core node's certificate (issue 16, several nodes on one database).
struct PKIIssueNode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue-node",
        abstract: "Issue a core node's certificate and key (nodes/<NAME>.pem, .key): SAN URI urn:linkcore:node:<NAME>.",
        discussion: "Nodes accept node-to-node connections only from certificates of this CA that carry a node URI; "
            + "give the addresses other nodes dial with --dns/--ip.")

    @OptionGroup var options: PKIDirectoryOption

    @Option(name: .long, help: "The node's name, as in [node] name (A-Z a-z 0-9 - _, at most 63).")
    var name: String

    @Option(name: .long, help: "DNS names other nodes dial (repeatable).")
    var dns: [String] = []

    @Option(name: .long, help: "IP addresses other nodes dial (repeatable; default 127.0.0.1).")
    var ip: [String] = []

    @Option(name: .long, help: "Validity in days.")
    var days = DevPKIDirectory.defaultLeafDays

    func run() throws {
        try reportingErrors {
            let directory = options.directory
            let issued = try directory.issueNode(name: name, dnsNames: dns, ipAddresses: ip.isEmpty && dns.isEmpty ? ["127.0.0.1"] : ip,
                                                 validDays: days)
            let info = try CertificateInfo.parse(pem: issued.certificatePEM)
            print("issued \(directory.nodeCertificatePath(name)) (key \(directory.nodeKeyPath(name))): \(info.subject), serial \(issued.serialHex), \(DevPKIDirectory.nodeURI(name)), until \(describe(info.notAfter))")
        }
    }
}
