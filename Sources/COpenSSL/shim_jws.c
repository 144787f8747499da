// ES256 signing for JWS (the portal's ID tokens). JWS wants r || s as fixed 32-byte halves,
// OpenSSL gives DER: the conversion lives here, next to the calls that need it.
#include "COpenSSL.h"
#include <openssl/ecdsa.h>
#include <string.h>

static EVP_PKEY *read_p256_key(const char *key_path) {
    BIO *bio = BIO_new_file(key_path, "r");
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!key) return NULL;
    char group[64] = {0};
    size_t group_len = 0;
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &group_len) != 1 ||
        (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

int lc_jws_es256_public(const char *key_path, unsigned char x[32], unsigned char y[32]) {
    EVP_PKEY *key = read_p256_key(key_path);
    if (!key) return 0;
    unsigned char point[65];
    size_t point_len = 0;
    int ok = EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &point_len) == 1 &&
             point_len == 65 && point[0] == 0x04;
    if (ok) {
        memcpy(x, point + 1, 32);
        memcpy(y, point + 33, 32);
    }
    EVP_PKEY_free(key);
    return ok;
}

int lc_jws_es256_sign(const char *key_path, const unsigned char *data, size_t len, unsigned char sig[64]) {
    EVP_PKEY *key = read_p256_key(key_path);
    if (!key) return 0;
    int ok = 0;
    unsigned char der[128];
    size_t der_len = sizeof der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(ctx, der, &der_len, data, len) == 1) {
        const unsigned char *p = der;
        ECDSA_SIG *parsed = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
        if (parsed) {
            const BIGNUM *r = NULL, *s = NULL;
            ECDSA_SIG_get0(parsed, &r, &s);
            ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(s, sig + 32, 32) == 32;
            ECDSA_SIG_free(parsed);
        }
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok;
}

int lc_jws_es256_verify(const char *key_path, const unsigned char *data, size_t len, const unsigned char sig[64]) {
    EVP_PKEY *key = read_p256_key(key_path);
    if (!key) return 0;
    int ok = 0;
    ECDSA_SIG *parsed = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    int der_len = 0;
    if (parsed && r && s && ECDSA_SIG_set0(parsed, r, s) == 1) {
        r = s = NULL;  // owned by parsed now
        der_len = i2d_ECDSA_SIG(parsed, &der);
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (der_len > 0 && ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestVerify(ctx, der, (size_t)der_len, data, len) == 1) {
        ok = 1;
    }
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(parsed);
    EVP_PKEY_free(key);
    return ok;
}
