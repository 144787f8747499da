// Shims for LinkcoreCardVerifier's OCSP and CRL checks; see COpenSSL_ocsp_client.h.
#include "COpenSSL.h"

#include <openssl/ocsp.h>
#include <string.h>

_Static_assert(LC_CERT_STATUS_GOOD == V_OCSP_CERTSTATUS_GOOD && LC_CERT_STATUS_REVOKED == V_OCSP_CERTSTATUS_REVOKED
                   && LC_CERT_STATUS_UNKNOWN == V_OCSP_CERTSTATUS_UNKNOWN
                   && LC_REASON_CERTIFICATE_HOLD == OCSP_REVOKED_STATUS_CERTIFICATEHOLD,
               "the header's status values are ocsp.h's");

struct lc_ocsp_query {
    OCSP_REQUEST *request;
    /// The CertID asked about (owned here: OCSP_request_add0_id takes its own copy below).
    OCSP_CERTID *id;
};

lc_ocsp_query *lc_ocsp_query_new(X509 *cert, X509 *issuer, const unsigned char *nonce, size_t nonce_len) {
    lc_ocsp_query *query = OPENSSL_zalloc(sizeof *query);
    if (query == NULL) return NULL;
    query->request = OCSP_REQUEST_new();
    query->id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
    OCSP_CERTID *copy = query->id == NULL ? NULL : OCSP_CERTID_dup(query->id);
    if (query->request == NULL || copy == NULL || OCSP_request_add0_id(query->request, copy) == NULL) {
        OCSP_CERTID_free(copy);
        lc_ocsp_query_free(query);
        return NULL;
    }
    // The nonce binds the answer to this request: a recorded answer cannot be replayed.
    if (nonce_len > 0 && OCSP_request_add1_nonce(query->request, (unsigned char *)nonce, (int)nonce_len) != 1) {
        lc_ocsp_query_free(query);
        return NULL;
    }
    return query;
}

void lc_ocsp_query_free(lc_ocsp_query *query) {
    if (query == NULL) return;
    OCSP_REQUEST_free(query->request);
    OCSP_CERTID_free(query->id);
    OPENSSL_free(query);
}

int lc_ocsp_query_der(lc_ocsp_query *query, BIO *out) {
    return i2d_OCSP_REQUEST_bio(out, query->request) == 1 ? 1 : 0;
}

static int generalized_epoch(const ASN1_GENERALIZEDTIME *t, int64_t *out) {
    return lc_asn1_time_epoch((const ASN1_TIME *)t, out);
}

int lc_ocsp_query_check(lc_ocsp_query *query, const unsigned char *der, size_t der_len, X509 *ca, int64_t now,
                        int require_nonce, lc_status_answer *answer) {
    memset(answer, 0, sizeof *answer);
    answer->reason = -1;
    const unsigned char *cursor = der;
    OCSP_RESPONSE *response = d2i_OCSP_RESPONSE(NULL, &cursor, (long)der_len);
    if (response == NULL) return LC_STATUS_CHECK_MALFORMED;
    int code = LC_STATUS_CHECK_MALFORMED;
    OCSP_BASICRESP *basic = NULL;
    X509_STORE *store = NULL;
    STACK_OF(X509) *certs = NULL;

    answer->response_status = OCSP_response_status(response);
    if (answer->response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        code = LC_STATUS_CHECK_NOT_SUCCESSFUL;
        goto done;
    }
    basic = OCSP_response_get1_basic(response);
    if (basic == NULL) goto done;

    // The card CA is the only trust anchor. OCSP_basic_verify accepts the CA itself as signer,
    // or a signer whose chain ends at the CA, that the CA issued directly and that carries
    // id-kp-OCSPSigning (RFC 6960 4.2.2.2); no explicit-trust shortcut applies to a plain PEM CA.
    // The CA is also passed as a candidate signer, for responses that do not include it.
    store = X509_STORE_new();
    certs = sk_X509_new_null();
    if (store == NULL || certs == NULL || X509_STORE_add_cert(store, ca) != 1 || sk_X509_push(certs, ca) <= 0) goto done;
    X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), (time_t)now);
    if (OCSP_basic_verify(basic, certs, store, 0) <= 0) {
        code = LC_STATUS_CHECK_BAD_SIGNATURE;
        goto done;
    }

    int status = -1, reason = -1;
    ASN1_GENERALIZEDTIME *revoked = NULL, *this_update = NULL, *next_update = NULL;
    if (OCSP_resp_find_status(basic, query->id, &status, &reason, &revoked, &this_update, &next_update) != 1) {
        code = LC_STATUS_CHECK_OTHER_CERTIFICATE;
        goto done;
    }
    // 1: equal nonces; 2: neither has one; 3: only the response has one; 0: different; -1: missing.
    int nonce = OCSP_check_nonce(query->request, basic);
    if (nonce == 0) {
        code = LC_STATUS_CHECK_NONCE_MISMATCH;
        goto done;
    }
    if (nonce == -1 && require_nonce) {
        code = LC_STATUS_CHECK_NONCE_ABSENT;
        goto done;
    }
    answer->cert_status = status;
    answer->reason = reason;
    if (this_update == NULL || !generalized_epoch(this_update, &answer->this_update)) goto done;
    if (next_update != NULL) {
        if (!generalized_epoch(next_update, &answer->next_update)) goto done;
        answer->has_next_update = 1;
    }
    if (revoked != NULL && !generalized_epoch(revoked, &answer->revoked_at)) goto done;
    code = LC_STATUS_CHECK_OK;

done:
    sk_X509_free(certs);  // the stack only: ca belongs to the caller
    X509_STORE_free(store);
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(response);
    ERR_clear_error();
    return code;
}

static X509_CRL *read_crl(const unsigned char *data, size_t len) {
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL) return NULL;
    X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (crl != NULL) return crl;
    const unsigned char *cursor = data;
    return d2i_X509_CRL(NULL, &cursor, (long)len);
}

int lc_crl_check(const unsigned char *data, size_t data_len, X509 *ca, X509 *cert, lc_status_answer *answer) {
    memset(answer, 0, sizeof *answer);
    answer->reason = -1;
    X509_CRL *crl = read_crl(data, data_len);
    if (crl == NULL) {
        ERR_clear_error();
        return LC_STATUS_CHECK_MALFORMED;
    }
    int code = LC_STATUS_CHECK_BAD_SIGNATURE;
    EVP_PKEY *key = X509_get0_pubkey(ca);
    if (key == NULL || X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0
        || X509_CRL_verify(crl, key) != 1) goto done;
    code = LC_STATUS_CHECK_MALFORMED;
    if (!lc_asn1_time_epoch(X509_CRL_get0_lastUpdate(crl), &answer->this_update)) goto done;
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    if (next != NULL) {
        if (!lc_asn1_time_epoch(next, &answer->next_update)) goto done;
        answer->has_next_update = 1;
    }
    X509_REVOKED *entry = NULL;
    if (X509_CRL_get0_by_serial(crl, &entry, X509_get0_serialNumber(cert)) == 1 && entry != NULL) {
        answer->cert_status = V_OCSP_CERTSTATUS_REVOKED;
        if (!lc_asn1_time_epoch(X509_REVOKED_get0_revocationDate(entry), &answer->revoked_at)) goto done;
        ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, NULL, NULL);
        if (reason != NULL) {
            answer->reason = (int)ASN1_ENUMERATED_get(reason);
            ASN1_ENUMERATED_free(reason);
        }
    } else {
        answer->cert_status = V_OCSP_CERTSTATUS_GOOD;
    }
    code = LC_STATUS_CHECK_OK;

done:
    X509_CRL_free(crl);
    ERR_clear_error();
    return code;
}

int lc_ocsp_cert_responder_url(X509 *cert, BIO *out) {
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
    if (urls == NULL) return 0;
    int written = 0;
    if (sk_OPENSSL_STRING_num(urls) > 0) {
        const char *url = sk_OPENSSL_STRING_value(urls, 0);
        written = BIO_puts(out, url) > 0 ? 1 : 0;
    }
    X509_email_free(urls);  // X509_get1_ocsp's list is freed as an email list (OpenSSL's own pairing)
    return written;
}
