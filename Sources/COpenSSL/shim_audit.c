// Checkpoint signatures: one-shot EVP_DigestSign/Verify, and a check of the signer's
// certificate so that only the core's own key, within its certificate's life and not revoked,
// can sign a checkpoint. Any other certificate of the network (an organisation's client
// certificate, even an expired one) is refused.
#include "COpenSSL_audit.h"

#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

int lc_audit_sign(const char *key_path, const unsigned char *data, size_t len,
                  unsigned char *sig, size_t *sig_len) {
    int ok = 0;
    BIO *bio = BIO_new_file(key_path, "r");
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (key && ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(ctx, sig, sig_len, data, len) == 1) {
        ok = 1;
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    BIO_free(bio);
    return ok;
}

static X509 *read_certificate(const char *cert_pem, size_t cert_len) {
    if (cert_len > 1 << 20) return NULL;
    BIO *bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return cert;
}

static int key_fingerprint(X509 *cert, unsigned char out[32]) {
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
    unsigned int out_len = 0;
    int ok = der_len > 0 && EVP_Digest(der, (size_t)der_len, out, &out_len, EVP_sha256(), NULL) == 1 && out_len == 32;
    OPENSSL_free(der);
    return ok;
}

int lc_audit_key_fingerprint(const char *cert_pem, size_t cert_len, unsigned char out[32]) {
    X509 *cert = read_certificate(cert_pem, cert_len);
    int ok = cert && key_fingerprint(cert, out);
    X509_free(cert);
    return ok;
}

// A CRL is evidence about revocation whatever its own validity period: the current CRL, read
// at a checkpoint's (past) time, is "not yet valid", and an old one kept offline has "expired".
// Neither makes a revoked certificate good or a good one bad, so only those two are let pass.
static int tolerate_crl_time(int ok, X509_STORE_CTX *ctx) {
    if (ok) return 1;
    int error = X509_STORE_CTX_get_error(ctx);
    return error == X509_V_ERR_CRL_NOT_YET_VALID || error == X509_V_ERR_CRL_HAS_EXPIRED;
}

static int chain_is_trusted(X509 *cert, const char *ca_path, const char *crl_path, int64_t at_time,
                            char *why, size_t why_len) {
    int trusted = 0;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (!store || !ctx || X509_STORE_load_file(store, ca_path) != 1) {
        snprintf(why, why_len, "cannot read the CA bundle %s", ca_path);
    } else if (crl_path && X509_STORE_load_file(store, crl_path) != 1) {
        snprintf(why, why_len, "cannot read the CRL %s", crl_path);
    } else if (X509_STORE_CTX_init(ctx, store, cert, NULL) == 1) {
        // Validity is checked at the checkpoint's time, never skipped (no NO_CHECK_TIME).
        X509_STORE_CTX_set_time(ctx, 0, (time_t)at_time);
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
        if (crl_path) {
            X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
            X509_STORE_CTX_set_verify_cb(ctx, tolerate_crl_time);
        }
        trusted = X509_verify_cert(ctx) == 1;
        if (!trusted) {
            snprintf(why, why_len, "%s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        }
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return trusted;
}

int lc_audit_verify(const char *cert_pem, size_t cert_len, const char *ca_path, const char *crl_path,
                    const unsigned char *pins, size_t pin_count, int64_t at_time,
                    const unsigned char *data, size_t len, const unsigned char *sig, size_t sig_len,
                    char *why, size_t why_len) {
    int result = LC_AUDIT_UNREADABLE;
    unsigned char fingerprint[32];
    X509 *cert = read_certificate(cert_pem, cert_len);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    snprintf(why, why_len, "unreadable signer certificate");
    if (!cert || !ctx || !key_fingerprint(cert, fingerprint)) goto done;

    result = LC_AUDIT_NOT_PINNED;
    snprintf(why, why_len, "the signer's key is not the core's (not among [audit] signer_keys)");
    int pinned = 0;
    for (size_t i = 0; i < pin_count && !pinned; i++) pinned = memcmp(pins + 32 * i, fingerprint, 32) == 0;
    if (!pinned) goto done;

    // Explicitly serverAuth: X509_check_purpose alone also passes a certificate without EKU.
    result = LC_AUDIT_NOT_SERVER;
    snprintf(why, why_len, "the signer's certificate is not a server (serverAuth) certificate");
    if (!(X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER)) goto done;

    result = LC_AUDIT_UNTRUSTED;
    if (!chain_is_trusted(cert, ca_path, crl_path, at_time, why, why_len)) goto done;

    EVP_PKEY *key = X509_get0_pubkey(cert);
    result = key && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1 ? LC_AUDIT_VALID : LC_AUDIT_BAD_SIGNATURE;
    snprintf(why, why_len, result == LC_AUDIT_VALID ? "" : "bad signature");
done:
    EVP_MD_CTX_free(ctx);
    X509_free(cert);
    return result;
}
