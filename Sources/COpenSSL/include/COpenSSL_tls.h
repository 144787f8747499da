// Shims for the TLS handler (LinkcoreTLS): OpenSSL function-like macros and variadic functions
// that Swift cannot import, plus a few small helpers that keep raw pointer work in C.
#ifndef LINKCORE_COPENSSL_TLS_H
#define LINKCORE_COPENSSL_TLS_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

// --- keys ---------------------------------------------------------------------------------
/// A fresh EC P-256 key (EVP_PKEY_Q_keygen is variadic). NULL on failure (see ERR queue).
EVP_PKEY *lc_ec_p256_keygen(void);

// --- macros ---------------------------------------------------------------------------------
size_t lc_bio_pending(BIO *bio);
int lc_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version);
long lc_ssl_ctx_set_mode(SSL_CTX *ctx, long mode);
long lc_ssl_ctx_clear_mode(SSL_CTX *ctx, long mode);
uint64_t lc_ssl_ctx_set_options(SSL_CTX *ctx, uint64_t options);
uint64_t lc_ssl_op_no_renegotiation(void);
uint64_t lc_ssl_op_no_compression(void);
long lc_ssl_ctx_set_session_cache_off(SSL_CTX *ctx);
void lc_openssl_free(void *ptr);
unsigned long lc_err_get_reason(unsigned long code);
/// The library-independent reason code at which SSL "alert received" reasons start.
int lc_ssl_alert_reason_offset(void);

// --- verification -------------------------------------------------------------------------
/// Server side "verify, then decide": requests a client certificate (SSL_VERIFY_PEER without
/// FAIL_IF_NO_PEER_CERT) with a callback that records the FIRST verification error on the SSL
/// object and lets the handshake continue. Read it back with lc_ssl_first_verify_error.
void lc_ssl_ctx_set_verify_record_first(SSL_CTX *ctx);
/// Client side: strict verification (the handshake fails on any verification error).
void lc_ssl_ctx_set_verify_strict(SSL_CTX *ctx);
/// The first X509_V_ERR_* recorded by the callback above (X509_V_OK if none), and its depth.
int lc_ssl_first_verify_error(const SSL *ssl, int *depth);
/// Loads every CRL in a PEM file into the context's store and enables X509_V_FLAG_CRL_CHECK and
/// X509_V_FLAG_CRL_CHECK_ALL (every certificate of the chain is checked, so the file needs a
/// CRL from each CA of the chain, root included). Returns the number of CRLs loaded (0 on failure).
int lc_ssl_ctx_load_crl_file(SSL_CTX *ctx, const char *path);
/// The earliest nextUpdate (seconds since the epoch) of the CRLs in a PEM file. Returns 1 when
/// at least one CRL has a nextUpdate, 0 otherwise.
int lc_crl_file_next_update(const char *path, int64_t *out);
/// Client side: sets SNI (only for DNS names) and the expected peer name (DNS name, or an
/// IPv4/IPv6 literal matched against IP SANs). Returns 1 on success.
int lc_ssl_set_expected_peer_name(SSL *ssl, const char *name);

// --- peer certificate fields (returned strings are freed with lc_openssl_free) --------------
/// The first SAN URI starting with `prefix`, or NULL; `*count` is set to how many SAN URIs start
/// with `prefix` (a certificate naming two organisations must be refused, not read as the first).
char *lc_x509_first_san_uri_with_prefix(X509 *cert, const char *prefix, int *count);
/// One-line subject DN (RFC 2253), or NULL.
char *lc_x509_subject_oneline(X509 *cert);
/// Serial number as upper-case hex, or NULL.
char *lc_x509_serial_hex(X509 *cert);
/// notAfter as seconds since the Unix epoch. Returns 1 on success.
int lc_x509_not_after_epoch(X509 *cert, int64_t *out);
/// An ASN1_TIME as seconds since the Unix epoch (UTC). Returns 1 on success, 0 for NULL or an
/// unreadable time. The one conversion the certificate, CRL and PKI helpers all use.
int lc_asn1_time_epoch(const ASN1_TIME *t, int64_t *out);

#endif
