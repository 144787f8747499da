// Checkpoint signatures: one-shot EVP_DigestSign/Verify, and a chain check of the signer's
// certificate so a checkpoint signed by a key that is not the core's is refused.
#include "COpenSSL_audit.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

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

static int certificate_is_trusted(X509 *cert, const char *ca_path) {
    int trusted = 0;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    // Checkpoints outlive certificates: what matters is that the CA issued it, not that it is
    // still within its validity period today.
    if (store && ctx && X509_STORE_load_file(store, ca_path) == 1 &&
        X509_STORE_CTX_init(ctx, store, cert, NULL) == 1) {
        X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
        trusted = X509_verify_cert(ctx) == 1;
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return trusted;
}

int lc_audit_verify(const char *cert_pem, size_t cert_len, const char *ca_path,
                    const unsigned char *data, size_t len, const unsigned char *sig, size_t sig_len) {
    int result = -1;
    BIO *bio = BIO_new_mem_buf(cert_pem, (int)cert_len);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (cert && ctx && certificate_is_trusted(cert, ca_path)) {
        EVP_PKEY *key = X509_get0_pubkey(cert);
        result = key && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
                 EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;
    }
    EVP_MD_CTX_free(ctx);
    X509_free(cert);
    BIO_free(bio);
    return result;
}
