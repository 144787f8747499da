// ES256 (ECDSA P-256 with SHA-256, RFC 7518 §3.4) for the portal's signed ID tokens (LinkcoreCrypto).
#ifndef LINKCORE_COPENSSL_JWS_H
#define LINKCORE_COPENSSL_JWS_H

#include <stddef.h>
#include <stdint.h>

// Reads the PEM private key at key_path; it must be an EC key on P-256. Fills x[32] and y[32]
// with its public point's coordinates (for the JWK). Returns 1 on success, 0 if the file is
// unreadable or not a P-256 key.
int lc_jws_es256_public(const char *key_path, unsigned char x[32], unsigned char y[32]);

// Signs data with the P-256 key at key_path (SHA-256) and writes the JWS form of the signature:
// r and s, each as 32 big-endian bytes (not DER). Returns 1 on success.
int lc_jws_es256_sign(const char *key_path, const unsigned char *data, size_t len, unsigned char sig[64]);

// Verifies a JWS-form (r || s) ES256 signature with the public key of the key at key_path
// (tests and the portal's own check after signing). Returns 1 when valid.
int lc_jws_es256_verify(const char *key_path, const unsigned char *data, size_t len, const unsigned char sig[64]);

#endif
