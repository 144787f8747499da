import Foundation
import FuzzSupport
import LinkcoreJPKI
import LinkcoreOCSP

/// The OCSP responder's request parser and everything after it (RFC 6960): the input is a DER
/// OCSPRequest. The responder has a fixed card CA and signer (Tests/Fuzz/fixtures/ocsp, made for
/// this target only) so that the seed requests name its CA and reach the signing path; serial 01
/// is good, 02 revoked, others unknown.
struct FixedStatuses: CertificateStatusSource {
    func status(serialHex: String) throws -> CertificateStatus {
        switch serialHex.uppercased() {
        case "01": .good
        case "02": .revoked(at: Date(timeIntervalSince1970: 1_790_000_000), reason: .keyCompromise)
        default: .unknown
        }
    }
    func revokedCertificates() throws -> [(serialHex: String, at: Date, reason: RevocationReason)] { [] }
}

let responder: OCSPResponder = {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/ocsp")
    func read(_ name: String) -> String {
        guard let text = try? String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8) else {
            fatalError("cannot read \(fixtures.path)/\(name)")
        }
        return text
    }
    do {
        return try OCSPResponder(caCertificatePEM: read("ca.pem"), signerCertificatePEM: read("signer.pem"),
                                 signerKeyPEM: read("signer.key"), source: FixedStatuses(), validity: .seconds(600),
                                 clock: { Date(timeIntervalSince1970: 1_798_761_600) })
    } catch {
        fatalError("the fixture responder does not start: \(error)")
    }
}()

func fuzz(_ input: [UInt8]) {
    _ = responder.respond(to: input)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(FuzzDriver.bytes(data, size))
    return 0
}

@_cdecl("FuzzOCSP_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzOneInput(data, size) }
}
