/*
 * card_login: the service's side of a number-card login with OpenSSL alone (docs/card.md,
 * "Challenge-response login"): the same checks as linkcore's verifier library, for a service
 * written in C. It needs nothing else from the SDK.
 *
 *   card_login --service BANK01 --challenge CHALLENGE --signature SIG --cert user.pem \
 *              --ca card-ca.pem --ocsp-url http://127.0.0.1:7700/ [--max-age 300]
 *
 * CHALLENGE holds the exact bytes the card signed (linkcore-card-challenge/v1 text), SIG the
 * signature (linkcore-card sign --app auth --out SIG). The checks, in order: the challenge's
 * form, service and expiry; the certificate's chain to the card CA alone; that it is a user
 * certificate (keyUsage digitalSignature without nonRepudiation); the RSA PKCS#1 v1.5 / SHA-256
 * signature; then the status by OCSP with a nonce, signed by the card CA or its delegated OCSP
 * signer, for this certificate, with thisUpdate within --max-age and nextUpdate not passed.
 * (Keeping each challenge outstanding once, and the CRL fallback, are the service's own: see
 * docs/card.md.)
 *
 * Exit status: 0 and "login: serial=HEX status=good" on success; 1 and "refused: REASON".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/http.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int refuse(const char *reason) {
    printf("refused: %s\n", reason);
    return 1;
}

/* The whole file, NUL-terminated (the challenge is text); *len is its size. */
static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    unsigned char *data = NULL;
    size_t size = 0, cap = 0, n;
    unsigned char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (size + n + 1 > cap) {
            cap = (size + n + 1) * 2;
            unsigned char *grown = realloc(data, cap);
            if (grown == NULL) { free(data); fclose(f); return NULL; }
            data = grown;
        }
        memcpy(data + size, chunk, n);
        size += n;
    }
    fclose(f);
    if (data == NULL) data = calloc(1, 1);
    else data[size] = 0;
    *len = size;
    return data;
}

static X509 *read_cert(const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return NULL;
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return cert;
}

/* linkcore-card-challenge/v1\nservice=S\nexpires=T\nnonce=<64 hex>\n, nothing else. */
static const char *check_challenge(const char *text, size_t len, const char *service, time_t now) {
    char expected_service[64];
    long long expires = 0;
    char nonce[65];
    int consumed = 0;
    if (strlen(text) != len) return "malformed challenge";
    if (sscanf(text, "linkcore-card-challenge/v1\nservice=%63[^\n]\nexpires=%lld\nnonce=%64[0-9a-f]\n%n",
               expected_service, &expires, nonce, &consumed) != 3 || (size_t)consumed != len || strlen(nonce) != 64) {
        return "malformed challenge";
    }
    if (strcmp(expected_service, service) != 0) return "challenge issued to another service";
    if ((time_t)expires <= now) return "expired challenge";
    return NULL;
}

static const char *check_chain(X509 *cert, X509 *ca) {
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    const char *reason = "certificate not from the card CA";
    if (store != NULL && ctx != NULL && X509_STORE_add_cert(store, ca) == 1 && X509_STORE_CTX_init(ctx, store, cert, NULL) == 1) {
        if (X509_verify_cert(ctx) == 1) reason = NULL;
        else if (X509_STORE_CTX_get_error(ctx) == X509_V_ERR_CERT_HAS_EXPIRED) reason = "certificate expired";
        else if (X509_STORE_CTX_get_error(ctx) == X509_V_ERR_CERT_NOT_YET_VALID) reason = "certificate not yet valid";
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return reason;
}

static const char *check_signature(X509 *cert, const unsigned char *data, size_t len, const unsigned char *sig, size_t sig_len) {
    uint32_t usage = X509_get_key_usage(cert);
    if (usage == UINT32_MAX || !(usage & KU_DIGITAL_SIGNATURE) || (usage & KU_NON_REPUDIATION)) {
        return "a signature certificate cannot log in";
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(cert)) == 1
             && EVP_DigestVerify(md, sig, sig_len, data, len) == 1;
    EVP_MD_CTX_free(md);
    return ok ? NULL : "bad signature";
}

/* POSTs the request to url and returns the response (NULL: the responder cannot be reached). */
static OCSP_RESPONSE *ask_responder(const char *url, OCSP_REQUEST *request) {
    char *host = NULL, *port = NULL, *path = NULL;
    int tls = 0;
    OCSP_RESPONSE *response = NULL;
    if (OSSL_HTTP_parse_url(url, &tls, NULL, &host, &port, NULL, &path, NULL, NULL) != 1 || tls) goto done;
    BIO *connection = BIO_new_connect(host);
    if (connection == NULL) goto done;
    BIO_set_conn_port(connection, port);
    if (BIO_do_connect(connection) == 1) response = OCSP_sendreq_bio(connection, path, request);
    BIO_free_all(connection);
done:
    OPENSSL_free(host);
    OPENSSL_free(port);
    OPENSSL_free(path);
    return response;
}

static const char *check_status(X509 *cert, X509 *ca, const char *url, long max_age) {
    const char *reason = "malformed status answer";
    OCSP_REQUEST *request = OCSP_REQUEST_new();
    OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), cert, ca);
    OCSP_RESPONSE *response = NULL;
    OCSP_BASICRESP *basic = NULL;
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *signers = sk_X509_new_null();
    if (request == NULL || id == NULL || store == NULL || signers == NULL) { reason = "out of memory"; goto done; }
    if (OCSP_request_add0_id(request, OCSP_CERTID_dup(id)) == NULL || OCSP_request_add1_nonce(request, NULL, 16) != 1) goto done;

    response = ask_responder(url, request);
    if (response == NULL) { reason = "status unavailable (responder unreachable)"; goto done; }
    if (OCSP_response_status(response) != OCSP_RESPONSE_STATUS_SUCCESSFUL) { reason = "status unavailable (unsigned error answer)"; goto done; }
    if ((basic = OCSP_response_get1_basic(response)) == NULL) goto done;
    /* The card CA, or a signer it issued with id-kp-OCSPSigning (OpenSSL checks both). */
    if (X509_STORE_add_cert(store, ca) != 1 || sk_X509_push(signers, ca) <= 0) goto done;
    if (OCSP_basic_verify(basic, signers, store, 0) <= 0) { reason = "status answer badly signed"; goto done; }
    int status = -1, crl_reason = -1;
    ASN1_GENERALIZEDTIME *revoked = NULL, *this_update = NULL, *next_update = NULL;
    if (OCSP_resp_find_status(basic, id, &status, &crl_reason, &revoked, &this_update, &next_update) != 1) {
        reason = "status answer for another certificate";
        goto done;
    }
    if (OCSP_check_nonce(request, basic) != 1) { reason = "status answer without this request's nonce"; goto done; }
    /* 60 s of clock skew; thisUpdate at most max_age old; nextUpdate, if any, not passed. */
    if (OCSP_check_validity(this_update, next_update, 60, max_age) != 1) { reason = "stale status answer"; goto done; }
    if (status == V_OCSP_CERTSTATUS_GOOD) reason = NULL;
    else if (status == V_OCSP_CERTSTATUS_REVOKED)
        reason = crl_reason == OCSP_REVOKED_STATUS_CERTIFICATEHOLD ? "certificate suspended" : "certificate revoked";
    else reason = "certificate unknown to the card authority";
done:
    sk_X509_free(signers);
    X509_STORE_free(store);
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(response);
    OCSP_CERTID_free(id);
    OCSP_REQUEST_free(request);
    return reason;
}

int main(int argc, char **argv) {
    const char *service = NULL, *challenge_path = NULL, *signature_path = NULL, *cert_path = NULL, *ca_path = NULL, *url = NULL;
    long max_age = 300;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--service") == 0) service = argv[i + 1];
        else if (strcmp(argv[i], "--challenge") == 0) challenge_path = argv[i + 1];
        else if (strcmp(argv[i], "--signature") == 0) signature_path = argv[i + 1];
        else if (strcmp(argv[i], "--cert") == 0) cert_path = argv[i + 1];
        else if (strcmp(argv[i], "--ca") == 0) ca_path = argv[i + 1];
        else if (strcmp(argv[i], "--ocsp-url") == 0) url = argv[i + 1];
        else if (strcmp(argv[i], "--max-age") == 0) max_age = strtol(argv[i + 1], NULL, 10);
    }
    if (!service || !challenge_path || !signature_path || !cert_path || !ca_path || !url || max_age <= 0) {
        fprintf(stderr, "usage: card_login --service CODE --challenge FILE --signature FILE --cert PEM --ca PEM --ocsp-url URL [--max-age S]\n");
        return 2;
    }
    size_t challenge_len = 0, signature_len = 0;
    unsigned char *challenge = read_file(challenge_path, &challenge_len);
    unsigned char *signature = read_file(signature_path, &signature_len);
    X509 *cert = read_cert(cert_path), *ca = read_cert(ca_path);
    int rc;
    const char *reason = NULL;
    time_t now = time(NULL);
    if (challenge == NULL || signature == NULL || cert == NULL || ca == NULL) {
        rc = refuse("cannot read the challenge, signature or certificates");
    } else if ((reason = check_challenge((const char *)challenge, challenge_len, service, now)) != NULL
               || (reason = check_chain(cert, ca)) != NULL
               || (reason = check_signature(cert, challenge, challenge_len, signature, signature_len)) != NULL
               || (reason = check_status(cert, ca, url, max_age)) != NULL) {
        rc = refuse(reason);
    } else {
        BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
        char *hex = serial ? BN_bn2hex(serial) : NULL;
        printf("login: serial=%s status=good\n", hex ? hex : "?");
        OPENSSL_free(hex);
        BN_free(serial);
        rc = 0;
    }
    X509_free(cert);
    X509_free(ca);
    free(challenge);
    free(signature);
    return rc;
}
