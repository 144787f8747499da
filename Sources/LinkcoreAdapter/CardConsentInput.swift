import Foundation
import LinkcoreWire

extension AdapterService.LinkRequest {
    /// A resident's consent signed on their number card, as the organisation's web site received it
    /// from the card client: the signature certificate (PEM), the consent text and the signature (hex).
    /// The adapter only changes the encoding; the matcher verifies everything (protocol.md §12.1).
    public struct CardConsent: Sendable, Codable {
        public var certificatePEM: String
        /// The exact text the card signed (`linkcore-card-link-consent/v1`, UTF-8).
        public var consent: String
        public var signatureHex: String
        enum CodingKeys: String, CodingKey {
            case certificatePEM = "certificate_pem", consent, signatureHex = "signature_hex"
        }

        public init(certificatePEM: String, consent: String, signatureHex: String) {
            self.certificatePEM = certificatePEM
            self.consent = consent
            self.signatureHex = signatureHex
        }

        func proto() throws(WireError) -> LCCardConsent {
            guard let der = Self.der(pem: certificatePEM) else {
                throw WireError(.invalidArgument, "card.certificate_pem: not one PEM certificate")
            }
            guard let signature = Self.bytes(hex: signatureHex), !signature.isEmpty else {
                throw WireError(.invalidArgument, "card.signature_hex: not an even number of hex digits")
            }
            guard !consent.isEmpty else { throw WireError(.invalidArgument, "card.consent: empty") }
            return .with {
                $0.signatureCertificate = Data(der)
                $0.consent = Data(consent.utf8)
                $0.signature = Data(signature)
            }
        }

        /// The DER inside one `CERTIFICATE` PEM block.
        static func der(pem: String) -> [UInt8]? {
            let begin = "-----BEGIN CERTIFICATE-----", end = "-----END CERTIFICATE-----"
            guard let start = pem.range(of: begin), let stop = pem.range(of: end, range: start.upperBound..<pem.endIndex),
                  pem.range(of: begin, range: stop.upperBound..<pem.endIndex) == nil else { return nil }
            let body = pem[start.upperBound..<stop.lowerBound].filter { !$0.isWhitespace }
            guard let data = Data(base64Encoded: String(body)), !data.isEmpty else { return nil }
            return Array(data)
        }

        static func bytes(hex: String) -> [UInt8]? {
            let digits = Array(hex.utf8)
            guard digits.count % 2 == 0 else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(digits.count / 2)
            for i in stride(from: 0, to: digits.count, by: 2) {
                guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
                out.append(byte)
            }
            return out
        }
    }
}
