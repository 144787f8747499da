// Signing and verifying the access log's checkpoints (LinkcoreAudit).
#ifndef LINKCORE_COPENSSL_AUDIT_H
#define LINKCORE_COPENSSL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

// Signs data with the PEM private key at key_path (SHA-256 digest). On entry *sig_len is the
// capacity of sig; on success it is the signature's length. Returns 1 on success.
int lc_audit_sign(const char *key_path, const unsigned char *data, size_t len,
                  unsigned char *sig, size_t *sig_len);

// SHA-256 of the DER SubjectPublicKeyInfo of the first certificate in cert_pem: the "key
// fingerprint" a checkpoint signer is pinned by. Returns 1 and fills out[32] on success.
int lc_audit_key_fingerprint(const char *cert_pem, size_t cert_len, unsigned char out[32]);

// What lc_audit_verify found.
enum {
    LC_AUDIT_VALID = 1,
    LC_AUDIT_BAD_SIGNATURE = 0,
    LC_AUDIT_UNREADABLE = -1,     // the certificate cannot be parsed
    LC_AUDIT_NOT_PINNED = -2,     // its key is none of the core's pinned keys
    LC_AUDIT_NOT_SERVER = -3,     // no extendedKeyUsage serverAuth
    LC_AUDIT_UNTRUSTED = -4,      // no chain to the CA at at_time, or revoked by the CRL
};

// Verifies sig over data with the key of the PEM certificate cert_pem. The certificate must:
//   - have a key whose fingerprint (see above) is one of the pin_count 32-byte pins;
//   - carry extendedKeyUsage serverAuth (the core's TLS identity, never an organisation's);
//   - chain to a CA in ca_path and be valid at at_time (seconds since the epoch: the
//     checkpoint's own time, so checkpoints outlive the certificate but a key cannot sign
//     outside its certificate's life);
//   - when crl_path is not NULL, not be revoked (every certificate of the chain is checked).
// On failure why (why_len bytes) receives the reason. Returns one of the LC_AUDIT_* values.
int lc_audit_verify(const char *cert_pem, size_t cert_len, const char *ca_path, const char *crl_path,
                    const unsigned char *pins, size_t pin_count, int64_t at_time,
                    const unsigned char *data, size_t len, const unsigned char *sig, size_t sig_len,
                    char *why, size_t why_len);

#endif
