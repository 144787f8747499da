// Shims for LinkcoreOCSP; see COpenSSL_ocsp.h.
#include "COpenSSL.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

OCSP_REQUEST *lc_ocsp_request_parse(const unsigned char *der, long length) {
    if (der == NULL || length <= 0) return NULL;
    const unsigned char *cursor = der;
    OCSP_REQUEST *request = d2i_OCSP_REQUEST(NULL, &cursor, length);
    if (request == NULL) return NULL;
    // One request and nothing after it: trailing bytes mean the client sent something else.
    if (cursor != der + length) {
        OCSP_REQUEST_free(request);
        return NULL;
    }
    return request;
}

void lc_ocsp_request_free(OCSP_REQUEST *request) {
    OCSP_REQUEST_free(request);
}

int lc_ocsp_request_count(OCSP_REQUEST *request) {
    return OCSP_request_onereq_count(request);
}

int lc_ocsp_request_entry(OCSP_REQUEST *request, int index, X509 *issuer, char *serial_hex, size_t capacity) {
    OCSP_ONEREQ *one = OCSP_request_onereq_get0(request, index);
    if (one == NULL) return -1;
    OCSP_CERTID *id = OCSP_onereq_get0_id(one);
    ASN1_OBJECT *algorithm = NULL;
    ASN1_INTEGER *serial = NULL;
    if (id == NULL || OCSP_id_get0_info(NULL, &algorithm, NULL, &serial, id) != 1 || serial == NULL) return -1;

    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    if (bn == NULL) return -1;
    char *hex = BN_bn2hex(bn);
    BN_free(bn);
    if (hex == NULL) return -1;
    size_t length = strlen(hex);
    int fits = length < capacity;
    if (fits) memcpy(serial_hex, hex, length + 1);
    OPENSSL_free(hex);
    if (!fits) return -1;

    // Our own CertID for the issuer under the client's hash algorithm (SHA-1 from openssl ocsp,
    // SHA-256 from others), compared on algorithm, issuer name hash and issuer key hash.
    const EVP_MD *md = algorithm != NULL ? EVP_get_digestbyobj(algorithm) : NULL;
    if (md == NULL) {
        ERR_clear_error();
        return 0;
    }
    OCSP_CERTID *ours = OCSP_cert_to_id(md, NULL, issuer);
    if (ours == NULL) return -1;
    int same = OCSP_id_issuer_cmp(ours, id) == 0;
    OCSP_CERTID_free(ours);
    return same ? 1 : 0;
}

OCSP_BASICRESP *lc_ocsp_basic_new(void) {
    return OCSP_BASICRESP_new();
}

void lc_ocsp_basic_free(OCSP_BASICRESP *basic) {
    OCSP_BASICRESP_free(basic);
}

int lc_ocsp_basic_add(OCSP_BASICRESP *basic, OCSP_REQUEST *request, int index, int status, int reason,
                      int64_t revoked_at, int64_t this_update, int64_t next_update) {
    OCSP_ONEREQ *one = OCSP_request_onereq_get0(request, index);
    if (one == NULL) return 0;
    OCSP_CERTID *id = OCSP_onereq_get0_id(one);
    ASN1_TIME *this_time = ASN1_TIME_set(NULL, (time_t)this_update);
    ASN1_TIME *next_time = ASN1_TIME_set(NULL, (time_t)next_update);
    ASN1_TIME *revoked_time = status == V_OCSP_CERTSTATUS_REVOKED ? ASN1_TIME_set(NULL, (time_t)revoked_at) : NULL;
    int ok = this_time != NULL && next_time != NULL && (status != V_OCSP_CERTSTATUS_REVOKED || revoked_time != NULL);
    // OCSP_basic_add1_status copies the CertID and turns each time into GeneralizedTime.
    if (ok) {
        int reason_code = status == V_OCSP_CERTSTATUS_REVOKED ? reason : OCSP_REVOKED_STATUS_NOSTATUS;
        ok = OCSP_basic_add1_status(basic, id, status, reason_code, revoked_time, this_time, next_time) != NULL;
    }
    ASN1_TIME_free(this_time);
    ASN1_TIME_free(next_time);
    ASN1_TIME_free(revoked_time);
    return ok ? 1 : 0;
}

static long encode_response(OCSP_RESPONSE *response, unsigned char **out) {
    if (response == NULL) return -1;
    *out = NULL;
    int length = i2d_OCSP_RESPONSE(response, out);
    OCSP_RESPONSE_free(response);
    return length > 0 ? (long)length : -1;
}

long lc_ocsp_basic_sign_response(OCSP_BASICRESP *basic, OCSP_REQUEST *request, X509 *signer, EVP_PKEY *key,
                                 unsigned char **out) {
    // 1: nonce copied, 2: the request had none (the response then has none either).
    if (OCSP_copy_nonce(basic, request) <= 0) return -1;
    // Flags 0 would identify the responder by name; RFC 5019 prefers the key hash. The signer's
    // certificate is included (no OCSP_NOCERTS): clients know only the card CA.
    if (OCSP_basic_sign(basic, signer, key, EVP_sha256(), NULL, OCSP_RESPID_KEY) != 1) return -1;
    return encode_response(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic), out);
}

long lc_ocsp_error_response(int status, unsigned char **out) {
    if (status == OCSP_RESPONSE_STATUS_SUCCESSFUL) return -1;
    return encode_response(OCSP_response_create(status, NULL), out);
}

X509 *lc_ocsp_read_certificate(const char *pem, int length) {
    BIO *bio = BIO_new_mem_buf(pem, length);
    if (bio == NULL) return NULL;
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return cert;
}

EVP_PKEY *lc_ocsp_read_private_key(const char *pem, int length) {
    BIO *bio = BIO_new_mem_buf(pem, length);
    if (bio == NULL) return NULL;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return key;
}

int lc_ocsp_check_delegation(X509 *ca, X509 *signer, EVP_PKEY *key, char *why, size_t capacity) {
    const char *failure = NULL;
    EVP_PKEY *ca_key = X509_get0_pubkey(ca);
    if (X509_check_issued(ca, signer) != X509_V_OK) {
        failure = "the signer certificate was not issued by the card CA";
    } else if (ca_key == NULL || X509_verify(signer, ca_key) != 1) {
        failure = "the signer certificate's signature does not verify with the card CA's key";
    } else if ((X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) == 0
               || (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) == 0) {
        failure = "the signer certificate lacks extendedKeyUsage id-kp-OCSPSigning";
    } else if (X509_check_private_key(signer, key) != 1) {
        failure = "the signer key does not match the signer certificate";
    }
    ERR_clear_error();
    if (failure == NULL) return 1;
    snprintf(why, capacity, "%s", failure);
    return 0;
}
