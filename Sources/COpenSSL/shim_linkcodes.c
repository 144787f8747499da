#include "COpenSSL.h"

static int lc_lc_hkdf(int mode, const unsigned char *salt, size_t salt_len,
                      const unsigned char *key, size_t key_len,
                      const unsigned char *info, size_t info_len,
                      unsigned char *out, size_t out_len) {
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    if (kdf == NULL) return 0;
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (kctx == NULL) return 0;

    OSSL_PARAM params[5];
    size_t n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
    if (mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY) {
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    } else {
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    }
    params[n] = OSSL_PARAM_construct_end();

    int ok = EVP_KDF_derive(kctx, out, out_len, params) == 1;
    EVP_KDF_CTX_free(kctx);
    return ok;
}

int lc_lc_hkdf_extract(const unsigned char *salt, size_t salt_len,
                       const unsigned char *ikm, size_t ikm_len,
                       unsigned char *prk, size_t prk_len) {
    if (salt == NULL || ikm == NULL || prk == NULL || prk_len != 32) return 0;
    return lc_lc_hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt, salt_len, ikm, ikm_len, NULL, 0, prk, prk_len);
}

int lc_lc_hkdf_expand(const unsigned char *prk, size_t prk_len,
                      const unsigned char *info, size_t info_len,
                      unsigned char *out, size_t out_len) {
    if (prk == NULL || info == NULL || out == NULL || out_len == 0 || out_len > 255 * 32) return 0;
    return lc_lc_hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, prk_len, info, info_len, out, out_len);
}

EVP_CIPHER_CTX *lc_lc_block_ctx_new(const unsigned char *key, size_t key_len, int encrypt) {
    const char *name = key_len == 16 ? "AES-128-ECB" : key_len == 32 ? "AES-256-ECB" : NULL;
    if (key == NULL || name == NULL) return NULL;
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, name, NULL);
    if (cipher == NULL) return NULL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = ctx != NULL
        && EVP_CipherInit_ex2(ctx, cipher, key, NULL, encrypt ? 1 : 0, NULL) == 1
        && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1;
    EVP_CIPHER_free(cipher); /* the context keeps its own reference */
    if (!ok) {
        EVP_CIPHER_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}
