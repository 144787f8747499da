import Foundation
import LinkcoreRegistry
import Testing

/// A card authority directory with its CA and a registry, driven as `linkcore-jpki` child
/// processes, and the openssl CLI as the independent checker of its certificates and CRL.
struct CardAuthorityFixture {
    static let jpki = Tools.productsDirectory.appendingPathComponent("linkcore-jpki").path
    let dir: String
    let registryPath: String

    /// In `root` (a test's private directory): `jpki/` (ca-init) and `registry.db` with 鈴木一郎
    /// (00000000001) and 佐藤花子 (00000000002), both alive.
    init(root: String) async throws {
        dir = root + "/jpki"
        registryPath = root + "/registry.db"
        func myNumber(_ body: String) -> String { body + String(MyNumber.checkDigit(forBody: body) ?? 0) }
        try RegistryStore(path: registryPath).insert([
            Resident(residentCode: "00000000001", myNumber: myNumber("12345678901"), name: "鈴木一郎", nameKana: nil,
                     address: "東京都千代田区千代田1-1", birthDate: "1980-01-02", sex: .male),
            Resident(residentCode: "00000000002", myNumber: myNumber("98765432109"), name: "佐藤花子", nameKana: nil,
                     address: "大阪府大阪市北区1-2", birthDate: "1990-03-04", sex: .female),
        ])
        let made = try await runProcess(Self.jpki, ["ca-init", "--dir", dir], environment: [:])
        guard made.status == 0 else { throw CardTestFailure("ca-init: \(made.stderr)") }
    }

    func jpki(_ arguments: [String], stdin: String = "", card: SoftCard? = nil) async throws -> Run {
        try await runProcess(Self.jpki, arguments + ["--dir", dir], stdin: stdin, environment: card?.environment ?? [:])
    }

    /// Personalises `card` (keys under its initial PINs), issues its certificates for `resident`,
    /// sends and activates it with the same PINs. Returns the serials.
    func activeCard(_ card: SoftCard, resident: String, signPIN: String, authPIN: String) async throws -> (signature: String, user: String) {
        guard try await card.card("personalise", stdin: "\(signPIN)\n\(authPIN)\n").status == 0 else { throw CardTestFailure("personalise") }
        let issued = try await jpki(["issue", "--registry", registryPath, "--resident", resident, "--card", card.label,
                               "--module", Tools.softhsmModule], stdin: "\(signPIN)\n\(authPIN)\n", card: card)
        guard issued.status == 0 else { throw CardTestFailure("issue: \(issued.stderr)") }
        let serials = try JSONDecoder().decode([String: String].self, from: Data(issued.stdout.utf8))
        guard try await jpki(["transition", "--card", card.label, "--event", "send"]).status == 0,
              try await jpki(["activate", "--card", card.label, "--module", Tools.softhsmModule],
                       stdin: "\(SoftCard.soPIN)\n\(signPIN)\n\(authPIN)\n", card: card).status == 0
        else { throw CardTestFailure("send/activate") }
        return (serials["signature"] ?? "", serials["user"] ?? "")
    }

    /// `certificate-status` as "good", "unknown" or "revoked:<reason>".
    func status(_ serial: String) async throws -> String {
        let run = try await jpki(["certificate-status", "--serial", serial])
        let object = try JSONDecoder().decode([String: StringOrNumber].self, from: Data(run.stdout.utf8))
        let status = object["status"]?.text ?? "?"
        return object["reason"]?.text.map { "\(status):\($0)" } ?? status
    }

    /// Publishes the CRL (on demand) and returns its CRL number.
    func publishCRL() async throws -> Int {
        let run = try await jpki(["crl"])
        guard run.status == 0 else { throw CardTestFailure("crl: \(run.stderr)") }
        let object = try JSONDecoder().decode([String: Int].self, from: Data(run.stdout.utf8))
        return object["number"] ?? -1
    }

    func openssl(_ arguments: [String]) async throws -> Run {
        try await runProcess(Tools.which("openssl"), arguments, environment: [:])
    }

    /// `openssl crl -in crl.pem -CAfile ca.pem -noout -text`, stdout and stderr together.
    func crlText() async throws -> String {
        let run = try await openssl(["crl", "-in", dir + "/crl.pem", "-CAfile", dir + "/ca.pem", "-noout", "-text"])
        return run.stdout + run.stderr
    }

    /// `openssl verify -crl_check` of an issued certificate against the card CA and the CRL.
    func verifyWithCRL(_ serial: String) async throws -> Run {
        try await openssl(["verify", "-crl_check", "-CRLfile", dir + "/crl.pem", "-CAfile", dir + "/ca.pem", "\(dir)/issued/\(serial).pem"])
    }
}

/// A JSON value that is a string or a number (certificate-status mixes both).
enum StringOrNumber: Decodable {
    case string(String)
    case number(Double)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) { self = .string(text) } else { self = .number(try container.decode(Double.self)) }
    }

    var text: String? { if case .string(let text) = self { return text }; return nil }
}
