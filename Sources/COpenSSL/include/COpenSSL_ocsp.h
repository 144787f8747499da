// Shims for LinkcoreOCSP, the card authority's OCSP responder (RFC 6960). The OCSP API is mostly
// DECLARE_ASN1_FUNCTIONS / STACK_OF macros and ASN1_TIME handling, so the responder reaches it
// through these few calls with plain C types. Conventions as COpenSSL_pki.h: 1 (or a length, a
// non-NULL pointer) on success; 0, -1 or NULL on failure with the reason on OpenSSL's error queue.
#ifndef LINKCORE_COPENSSL_OCSP_H
#define LINKCORE_COPENSSL_OCSP_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

/// A DER OCSPRequest; NULL when the bytes are not exactly one (trailing bytes are refused too).
OCSP_REQUEST *lc_ocsp_request_parse(const unsigned char *der, long length);
void lc_ocsp_request_free(OCSP_REQUEST *request);

/// The number of CertIDs (Request entries) in the request.
int lc_ocsp_request_count(OCSP_REQUEST *request);

/// Entry `index`: its serial as upper-case hex (as BN_bn2hex prints it, NUL-terminated) into
/// `serial_hex` of `capacity` bytes. Returns 1 when the CertID's issuer name and key hashes are
/// `issuer`'s under the CertID's own hash algorithm, 0 for another issuer (or a hash algorithm
/// OpenSSL does not know), -1 when the entry cannot be read or the serial does not fit.
int lc_ocsp_request_entry(OCSP_REQUEST *request, int index, X509 *issuer, char *serial_hex, size_t capacity);

/// A new, empty BasicOCSPResponse.
OCSP_BASICRESP *lc_ocsp_basic_new(void);
void lc_ocsp_basic_free(OCSP_BASICRESP *basic);

/// Adds a SingleResponse for entry `index` of `request` (its CertID copied as asked).
/// `status` is V_OCSP_CERTSTATUS_GOOD, _REVOKED or _UNKNOWN; for revoked, `reason` is an RFC 5280
/// CRLReason code (or -1 for none) and `revoked_at` seconds since the epoch. thisUpdate and
/// nextUpdate are seconds since the epoch (GeneralizedTime in the response).
int lc_ocsp_basic_add(OCSP_BASICRESP *basic, OCSP_REQUEST *request, int index, int status, int reason,
                      int64_t revoked_at, int64_t this_update, int64_t next_update);

/// Echoes the request's nonce (if it has one), signs with the delegated responder `signer`/`key`
/// (SHA-256, responder ID by key hash, the signer's certificate included so a client can check
/// the delegation against the CA) and encodes a successful OCSPResponse. Returns the DER length
/// with the bytes in `*out` (free with lc_pki_free), -1 on failure.
long lc_ocsp_basic_sign_response(OCSP_BASICRESP *basic, OCSP_REQUEST *request, X509 *signer, EVP_PKEY *key,
                                 unsigned char **out);

/// An unsuccessful OCSPResponse (no responseBytes) with `status`: OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
/// _INTERNALERROR, _TRYLATER, _SIGREQUIRED or _UNAUTHORIZED. Length and `*out` as above.
long lc_ocsp_error_response(int status, unsigned char **out);

/// Reads a PEM certificate / private key from memory (NULL when the text is not one).
X509 *lc_ocsp_read_certificate(const char *pem, int length);
EVP_PKEY *lc_ocsp_read_private_key(const char *pem, int length);

/// 1 when `signer` may sign OCSP responses for `ca`'s certificates as a delegated responder:
/// issued (and signed) by `ca`, extendedKeyUsage id-kp-OCSPSigning, and `key` is its private key.
/// 0 otherwise; the failed check is written as text into `why` (capacity bytes).
int lc_ocsp_check_delegation(X509 *ca, X509 *signer, EVP_PKEY *key, char *why, size_t capacity);

#endif
