import LinkcorePortal
import Testing

/// `PortalRequestParsing`, the fuzzing target's entry (Tests/Fuzz, FuzzPortalForms): the form reader
/// and what the pages decode from the fields, as a request reaches them.
@Suite struct PortalRequestParsingTests {
    @Test func aTokenRequestWithBasicCredentialsIsRead() {
        // "CITY01:s%20ecret" in base64: the id and the URL-encoded secret (RFC 6749 §2.3.1).
        let reading = PortalRequestParsing.read(
            authorization: "Basic Q0lUWTAxOnMlMjBlY3JldA==",
            body: "grant_type=authorization_code&code=xyz&redirect_uri=https%3A%2F%2Frp.example%3A8490%2Fcb")
        #expect(reading.fields == 3)
        #expect(reading.credentials)
        #expect(reading.origin == "https://rp.example:8490")
    }

    @Test func aCardLoginFormDecodesItsHexAndRefusesBrokenFields() {
        let reading = PortalRequestParsing.read(authorization: "Bearer x", body: "challenge_hex=00ff&signature_hex=0g&certificate_pem=x")
        #expect(reading.decodedHex == 1)
        #expect(reading.decodedPEM == 0)
        #expect(!reading.credentials)
    }
}
