// Shims for LinkcoreCardVerifier's revocation checks: an OCSP client (RFC 6960: request with a
// nonce, response checked against the card CA) and a CRL lookup. The OCSP structures are opaque
// and the stack macros do not import into Swift, so the whole check is done here and answered
// as plain values; the policy on times (maximum age, nextUpdate) stays in Swift.
#ifndef LINKCORE_COPENSSL_OCSP_CLIENT_H
#define LINKCORE_COPENSSL_OCSP_CLIENT_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

/// Outcomes of lc_ocsp_query_check and lc_crl_check.
enum {
    LC_STATUS_CHECK_OK = 0,
    /// The bytes are not a DER OCSP response / not a CRL (PEM or DER).
    LC_STATUS_CHECK_MALFORMED = 1,
    /// The OCSP responseStatus is not successful (an unsigned error answer, e.g. tryLater):
    /// the answer's code is in response_status.
    LC_STATUS_CHECK_NOT_SUCCESSFUL = 2,
    /// The signature does not verify, or its signer is neither the card CA nor a delegated signer
    /// certified by it with id-kp-OCSPSigning (for a CRL: not signed by the card CA).
    LC_STATUS_CHECK_BAD_SIGNATURE = 3,
    /// The response holds no status for the certificate asked about.
    LC_STATUS_CHECK_OTHER_CERTIFICATE = 4,
    /// The response's nonce differs from the request's.
    LC_STATUS_CHECK_NONCE_MISMATCH = 5,
    /// The request had a nonce and the response has none.
    LC_STATUS_CHECK_NONCE_ABSENT = 6,
};

/// Certificate status and the one CRLReason the verifier tells apart (ocsp.h's values, which the
/// shim file checks at compile time; ocsp.h itself stays out of the Swift module).
enum {
    LC_CERT_STATUS_GOOD = 0,
    LC_CERT_STATUS_REVOKED = 1,
    LC_CERT_STATUS_UNKNOWN = 2,
    LC_REASON_CERTIFICATE_HOLD = 6,
};

/// What a checked response or CRL says about one certificate. Times are seconds since the epoch.
typedef struct {
    /// LC_CERT_STATUS_*; for a CRL: good or revoked.
    int cert_status;
    /// The CRLReason code when revoked (-1 when the answer gives none).
    int reason;
    int64_t revoked_at;
    /// OCSP: thisUpdate; CRL: lastUpdate.
    int64_t this_update;
    int64_t next_update;
    int has_next_update;
    /// OCSP responseStatus (0 = successful).
    int response_status;
} lc_status_answer;

typedef struct lc_ocsp_query lc_ocsp_query;

/// A request for `cert`'s status (CertID with SHA-1 as RFC 5019 profiles, issued by `issuer`)
/// carrying `nonce`; NULL on failure.
lc_ocsp_query *lc_ocsp_query_new(X509 *cert, X509 *issuer, const unsigned char *nonce, size_t nonce_len);
void lc_ocsp_query_free(lc_ocsp_query *query);
/// Writes the request's DER to out.
int lc_ocsp_query_der(lc_ocsp_query *query, BIO *out);
/// Checks a response against the query: signature by `ca` or by a delegated signer certified by
/// it (chain verified at `now`), a status for the queried certificate, the nonce. Fills `answer`
/// and returns an LC_STATUS_CHECK_ code.
int lc_ocsp_query_check(lc_ocsp_query *query, const unsigned char *der, size_t der_len, X509 *ca, int64_t now,
                        int require_nonce, lc_status_answer *answer);

/// Looks `cert` up in a CRL (PEM or DER) that must be signed by `ca` and name it as issuer.
int lc_crl_check(const unsigned char *data, size_t data_len, X509 *ca, X509 *cert, lc_status_answer *answer);

/// Writes the first OCSP responder URL of the certificate's authorityInfoAccess to out; 0 if none.
int lc_ocsp_cert_responder_url(X509 *cert, BIO *out);

#endif
