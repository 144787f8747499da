// Shims for the link-code scheme (Sources/LinkcoreLinkCodes). OpenSSL's KDF parameters are
// built from OSSL_PARAM arrays whose key names are macros and whose entries keep pointers past the
// call, so the whole HKDF step lives here; everything else is called from Swift directly.
#ifndef LINKCORE_COPENSSL_LINKCODES_H
#define LINKCORE_COPENSSL_LINKCODES_H
#include <stddef.h>
#include <openssl/evp.h>

/// HKDF-SHA256 Extract (RFC 5869 §2.2): prk = HMAC-SHA256(salt, ikm). Returns 1 on success.
int lc_lc_hkdf_extract(const unsigned char *salt, size_t salt_len,
                       const unsigned char *ikm, size_t ikm_len,
                       unsigned char *prk, size_t prk_len);

/// HKDF-SHA256 Expand (RFC 5869 §2.3) of a pseudorandom key into out_len bytes. Returns 1 on success.
int lc_lc_hkdf_expand(const unsigned char *prk, size_t prk_len,
                      const unsigned char *info, size_t info_len,
                      unsigned char *out, size_t out_len);

/// A prepared single-block AES-ECB context without padding (key_len 16 or 32), for encryption
/// (encrypt = 1) or decryption (encrypt = 0). NULL on failure. Free with EVP_CIPHER_CTX_free,
/// which wipes the key schedule.
EVP_CIPHER_CTX *lc_lc_block_ctx_new(const unsigned char *key, size_t key_len, int encrypt);

#endif
