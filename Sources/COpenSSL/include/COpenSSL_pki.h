// Shims for LinkcorePKI: OpenSSL 3 macros, variadic functions and stack/struct handling that do not
// import into Swift. Every function returns 1 (or a non-negative count / non-NULL pointer) on
// success and 0, -1 or NULL on failure, leaving the reason on OpenSSL's error queue.
#ifndef LINKCORE_COPENSSL_PKI_H
#define LINKCORE_COPENSSL_PKI_H
#include <stdint.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// A new EC P-256 key pair (EVP_EC_gen is a macro over a variadic function).
EVP_PKEY *lc_pki_ec_p256_keygen(void);

/// A new RSA key pair of `bits` bits, public exponent 65537 (EVP_RSA_gen is a macro too).
EVP_PKEY *lc_pki_rsa_keygen(unsigned int bits);

/// BIO_get_mem_data: the bytes written so far to a memory BIO; returns their length.
long lc_pki_bio_mem_data(BIO *bio, const char **data);

/// OPENSSL_free.
void lc_pki_free(void *ptr);

/// Adds a UTF-8 entry (field is a short name such as "CN" or "O") to a name.
int lc_pki_name_add_utf8(X509_NAME *name, const char *field, const char *value);

/// Prints a name in RFC 2253 form (e.g. "CN=Acme,O=ACME") to out.
int lc_pki_name_print(const X509_NAME *name, BIO *out);

/// Writes the UTF-8 value of the name's first commonName to out; 0 if there is none.
int lc_pki_name_common_name(const X509_NAME *name, BIO *out);

/// Sets notBefore and notAfter from seconds since the epoch (UTCTime/GeneralizedTime per RFC 5280).
int lc_pki_cert_set_validity(X509 *cert, int64_t not_before, int64_t not_after);

/// Reads notBefore and notAfter as seconds since the epoch.
int lc_pki_cert_get_validity(const X509 *cert, int64_t *not_before, int64_t *not_after);

/// Sets a random positive 128-bit serial number (top bits 01 so it always has 32 hex digits).
int lc_pki_cert_set_random_serial(X509 *cert);

/// Writes the serial number as upper-case hex to out.
int lc_pki_cert_serial_hex(const X509 *cert, BIO *out);

/// Adds an extension from its OpenSSL config value (e.g. NID_basic_constraints, "critical,CA:TRUE"),
/// with issuer and subject set in the X509V3 context so that SKI/AKI can be derived.
int lc_pki_cert_add_ext(X509 *cert, X509 *issuer, int nid, const char *value);

/// subjectAltName built entry by entry (no config-string parsing, so values cannot inject entries).
GENERAL_NAMES *lc_pki_general_names_new(void);
/// type is GEN_URI, GEN_DNS or GEN_IPADD (value is then a textual IPv4/IPv6 address).
int lc_pki_general_names_add(GENERAL_NAMES *names, int type, const char *value);
int lc_pki_cert_add_san(X509 *cert, GENERAL_NAMES *names, int critical);
void lc_pki_general_names_free(GENERAL_NAMES *names);

/// Writes every subjectAltName entry of the given type (GEN_URI, GEN_DNS, GEN_IPADD) to out, one per
/// line. Returns the number written (0 if the certificate has no SAN), -1 on error.
int lc_pki_cert_san_entries(const X509 *cert, int type, BIO *out);

/// 1 if the certificate carries an extendedKeyUsage extension.
int lc_pki_cert_has_eku(X509 *cert);

/// CRL helpers.
int lc_pki_crl_set_times(X509_CRL *crl, int64_t last_update, int64_t next_update);
int lc_pki_crl_add_revoked(X509_CRL *crl, const char *serial_hex, int64_t revocation_time);
int lc_pki_crl_set_number(X509_CRL *crl, uint64_t number);
int lc_pki_crl_add_aki(X509_CRL *crl, X509 *issuer);
/// As lc_pki_crl_add_revoked, with a CRLReason entry extension when reason >= 0 (shim_crl_reason.c).
int lc_pki_crl_add_revoked_reason(X509_CRL *crl, const char *serial_hex, int64_t revocation_time, int reason);

/// Number of entries in a CRL's revoked list, and the hex serial of entry i.
int lc_pki_crl_revoked_count(X509_CRL *crl);
int lc_pki_crl_revoked_serial_hex(X509_CRL *crl, int index, BIO *out);

/// lastUpdate, nextUpdate (0 if absent) and CRL number (0 if absent, *has_number says which).
int lc_pki_crl_get_info(X509_CRL *crl, int64_t *last_update, int64_t *next_update, uint64_t *number, int *has_number);

#endif
