/// A card certificate's serial as the card authority and the verifiers write it (upper-case hex),
/// read with the login path's own parser. For a service that must ask the card authority about a
/// certificate before it checks it itself (the portal's account opening: the signature
/// certificate's linked user certificate, docs/portal.md).
public enum CardCertificateSerial {
    public static func hex(pem: String) throws(CardLoginError) -> String {
        try X509Box(pem: pem).serialHex()
    }
}
