import Foundation

/// An RSA public key read from the token (CKA_MODULUS, CKA_PUBLIC_EXPONENT), encoded as the
/// SubjectPublicKeyInfo a certificate or `openssl dgst -verify` needs. Encoding it here in a few
/// lines of DER keeps OpenSSL out of the card client.
public struct CardPublicKey: Equatable, Sendable {
    public let modulus: [UInt8]
    public let exponent: [UInt8]

    public init(modulus: [UInt8], exponent: [UInt8]) {
        self.modulus = modulus
        self.exponent = exponent
    }

    public var modulusBits: Int {
        let trimmed = modulus.drop { $0 == 0 }
        guard let first = trimmed.first else { return 0 }
        return (trimmed.count - 1) * 8 + (8 - first.leadingZeroBitCount)
    }

    /// DER SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier rsaEncryption NULL, BIT STRING RSAPublicKey }.
    public var subjectPublicKeyInfoDER: [UInt8] {
        let rsaPublicKey = DER.sequence(DER.integer(modulus) + DER.integer(exponent))
        let algorithm = DER.sequence([0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00])
        return DER.sequence(algorithm + DER.tlv(0x03, [0x00] + rsaPublicKey))
    }

    public var pem: String {
        let base64 = Data(subjectPublicKeyInfoDER).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN PUBLIC KEY-----\n\(base64)\n-----END PUBLIC KEY-----\n"
    }
}

enum DER {
    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] { [tag] + length(content.count) + content }
    static func sequence(_ content: [UInt8]) -> [UInt8] { tlv(0x30, content) }

    /// A non-negative INTEGER: leading zeros dropped, one 0x00 added when the top bit is set.
    static func integer(_ magnitude: [UInt8]) -> [UInt8] {
        var bytes = Array(magnitude.drop { $0 == 0 })
        if bytes.isEmpty { bytes = [0] }
        if let first = bytes.first, first & 0x80 != 0 { bytes.insert(0, at: 0) }
        return tlv(0x02, bytes)
    }

    static func length(_ n: Int) -> [UInt8] {
        if n < 0x80 { return [UInt8(n)] }
        var bytes: [UInt8] = []
        var rest = n
        while rest > 0 {
            bytes.insert(UInt8(rest & 0xFF), at: 0)
            rest >>= 8
        }
        return [0x80 | UInt8(bytes.count)] + bytes
    }
}

extension DER {
    /// The element (tag, header and content) starting at `offset`, as a range of `bytes`.
    static func element(_ bytes: [UInt8], at offset: Int) -> (range: Range<Int>, content: Range<Int>)? {
        guard offset + 2 <= bytes.count else { return nil }
        var index = offset + 1
        var length = Int(bytes[index])
        index += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard (1...4).contains(count), index + count <= bytes.count else { return nil }
            length = bytes[index..<index + count].reduce(0) { $0 << 8 | Int($1) }
            index += count
        }
        guard index + length <= bytes.count else { return nil }
        return (offset..<index + length, index..<index + length)
    }

    /// The subject Name of a DER certificate (what PKCS#11 stores as CKA_SUBJECT):
    /// Certificate → tbsCertificate → [version], serial, signature, issuer, validity, subject.
    static func certificateSubject(_ der: [UInt8]) -> [UInt8]? {
        guard let certificate = element(der, at: 0), let tbs = element(der, at: certificate.content.lowerBound) else { return nil }
        var offset = tbs.content.lowerBound
        if offset < der.count, der[offset] == 0xA0, let version = element(der, at: offset) { offset = version.range.upperBound }
        for _ in 0..<4 {  // serial, signature algorithm, issuer, validity
            guard let skipped = element(der, at: offset) else { return nil }
            offset = skipped.range.upperBound
        }
        guard let subject = element(der, at: offset), der[offset] == 0x30 else { return nil }
        return Array(der[subject.range])
    }
}
