// Signing and verifying the access log's checkpoints (LinkcoreAudit).
#ifndef LINKCORE_COPENSSL_AUDIT_H
#define LINKCORE_COPENSSL_AUDIT_H

#include <stddef.h>

// Signs data with the PEM private key at key_path (SHA-256 digest). On entry *sig_len is the
// capacity of sig; on success it is the signature's length. Returns 1 on success.
int lc_audit_sign(const char *key_path, const unsigned char *data, size_t len,
                  unsigned char *sig, size_t *sig_len);

// Verifies sig over data with the key of the PEM certificate cert_pem, after checking that the
// certificate chains to a CA in ca_path. Returns 1 if valid, 0 if the signature is bad, -1 if the
// certificate is unreadable or untrusted.
int lc_audit_verify(const char *cert_pem, size_t cert_len, const char *ca_path,
                    const unsigned char *data, size_t len, const unsigned char *sig, size_t sig_len);

#endif
