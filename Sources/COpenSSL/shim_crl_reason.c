// CRL entries with a reason code (the number card authority's CRL, issue 14): the same RFC 5280
// CRLReason the OCSP responder answers, so both status channels say the same thing.
#include "COpenSSL.h"

int lc_pki_crl_add_revoked_reason(X509_CRL *crl, const char *serial_hex, int64_t revocation_time, int reason) {
    BIGNUM *bn = NULL;
    if (BN_hex2bn(&bn, serial_hex) == 0 || bn == NULL) return 0;
    ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)revocation_time);
    ASN1_ENUMERATED *code = reason >= 0 ? ASN1_ENUMERATED_new() : NULL;
    X509_REVOKED *revoked = X509_REVOKED_new();
    int ok = serial != NULL && when != NULL && revoked != NULL
        && X509_REVOKED_set_serialNumber(revoked, serial)
        && X509_REVOKED_set_revocationDate(revoked, when);
    if (ok && reason >= 0) {
        ok = code != NULL && ASN1_ENUMERATED_set(code, reason)
            && X509_REVOKED_add1_ext_i2d(revoked, NID_crl_reason, code, 0, 0);
    }
    // add0: the CRL owns the entry from here.
    ok = ok && X509_CRL_add0_revoked(crl, revoked);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    ASN1_ENUMERATED_free(code);
    if (!ok) X509_REVOKED_free(revoked);
    return ok ? 1 : 0;
}
