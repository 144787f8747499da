// Shims for LinkcorePKI; see COpenSSL_pki.h.
#include "COpenSSL.h"

#include <arpa/inet.h>
#include <openssl/rsa.h>
#include <string.h>
#include <time.h>

EVP_PKEY *lc_pki_ec_p256_keygen(void) {
    return EVP_EC_gen("P-256");
}

EVP_PKEY *lc_pki_rsa_keygen(unsigned int bits) {
    return EVP_RSA_gen(bits);
}

long lc_pki_bio_mem_data(BIO *bio, const char **data) {
    char *ptr = NULL;
    long len = BIO_get_mem_data(bio, &ptr);
    *data = ptr;
    return len;
}

void lc_pki_free(void *ptr) {
    OPENSSL_free(ptr);
}

int lc_pki_name_add_utf8(X509_NAME *name, const char *field, const char *value) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, (const unsigned char *)value, -1, -1, 0);
}

int lc_pki_name_print(const X509_NAME *name, BIO *out) {
    return X509_NAME_print_ex(out, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 ? 1 : 0;
}

int lc_pki_name_common_name(const X509_NAME *name, BIO *out) {
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0) return 0;
    const X509_NAME_ENTRY *entry = X509_NAME_get_entry(name, idx);
    if (entry == NULL) return 0;
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (len < 0) return 0;
    int ok = BIO_write(out, utf8, len) == len || len == 0;
    OPENSSL_free(utf8);
    return ok ? 1 : 0;
}

int lc_pki_cert_set_validity(X509 *cert, int64_t not_before, int64_t not_after) {
    if (ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)not_before) == NULL) return 0;
    if (ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)not_after) == NULL) return 0;
    return 1;
}

int lc_pki_cert_get_validity(const X509 *cert, int64_t *not_before, int64_t *not_after) {
    return lc_asn1_time_epoch(X509_get0_notBefore(cert), not_before)
        && lc_asn1_time_epoch(X509_get0_notAfter(cert), not_after);
}

int lc_pki_cert_set_random_serial(X509 *cert) {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return 0;
    bytes[0] = (unsigned char)((bytes[0] & 0x3F) | 0x40);
    BIGNUM *bn = BN_bin2bn(bytes, sizeof bytes, NULL);
    if (bn == NULL) return 0;
    ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    if (serial == NULL) return 0;
    int ok = X509_set_serialNumber(cert, serial);
    ASN1_INTEGER_free(serial);
    return ok;
}

static int asn1_integer_hex(const ASN1_INTEGER *value, BIO *out) {
    BIGNUM *bn = ASN1_INTEGER_to_BN(value, NULL);
    if (bn == NULL) return 0;
    char *hex = BN_bn2hex(bn);
    BN_free(bn);
    if (hex == NULL) return 0;
    int len = (int)strlen(hex);
    int ok = BIO_write(out, hex, len) == len;
    OPENSSL_free(hex);
    return ok ? 1 : 0;
}

int lc_pki_cert_serial_hex(const X509 *cert, BIO *out) {
    return asn1_integer_hex(X509_get0_serialNumber(cert), out);
}

int lc_pki_cert_add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

GENERAL_NAMES *lc_pki_general_names_new(void) {
    return sk_GENERAL_NAME_new_null();
}

int lc_pki_general_names_add(GENERAL_NAMES *names, int type, const char *value) {
    GENERAL_NAME *name = a2i_GENERAL_NAME(NULL, NULL, NULL, type, value, 0);
    if (name == NULL) return 0;
    if (sk_GENERAL_NAME_push(names, name) <= 0) {
        GENERAL_NAME_free(name);
        return 0;
    }
    return 1;
}

int lc_pki_cert_add_san(X509 *cert, GENERAL_NAMES *names, int critical) {
    return X509_add1_ext_i2d(cert, NID_subject_alt_name, names, critical, X509V3_ADD_REPLACE);
}

void lc_pki_general_names_free(GENERAL_NAMES *names) {
    GENERAL_NAMES_free(names);
}

int lc_pki_cert_san_entries(const X509 *cert, int type, BIO *out) {
    int crit = 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    if (names == NULL) return crit == -1 ? 0 : -1;  // -1: absent; otherwise malformed
    int count = 0;
    int failed = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && !failed; i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        if (name->type != type) continue;
        if (type == GEN_URI || type == GEN_DNS || type == GEN_EMAIL) {
            const ASN1_IA5STRING *s = name->d.ia5;
            int len = ASN1_STRING_length(s);
            if (BIO_write(out, ASN1_STRING_get0_data(s), len) != len && len != 0) failed = 1;
        } else if (type == GEN_IPADD) {
            char text[INET6_ADDRSTRLEN];
            int len = name->d.ip->length;
            int family = len == 4 ? AF_INET : (len == 16 ? AF_INET6 : -1);
            if (family < 0 || inet_ntop(family, name->d.ip->data, text, sizeof text) == NULL) { failed = 1; break; }
            if (BIO_puts(out, text) <= 0) failed = 1;
        } else {
            continue;
        }
        if (BIO_write(out, "\n", 1) != 1) failed = 1;
        count++;
    }
    GENERAL_NAMES_free(names);
    return failed ? -1 : count;
}

int lc_pki_cert_has_eku(X509 *cert) {
    return (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) ? 1 : 0;
}

int lc_pki_crl_set_times(X509_CRL *crl, int64_t last_update, int64_t next_update) {
    ASN1_TIME *last = ASN1_TIME_set(NULL, (time_t)last_update);
    ASN1_TIME *next = ASN1_TIME_set(NULL, (time_t)next_update);
    int ok = last != NULL && next != NULL
        && X509_CRL_set1_lastUpdate(crl, last) && X509_CRL_set1_nextUpdate(crl, next);
    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    return ok ? 1 : 0;
}

int lc_pki_crl_add_revoked(X509_CRL *crl, const char *serial_hex, int64_t revocation_time) {
    BIGNUM *bn = NULL;
    if (BN_hex2bn(&bn, serial_hex) == 0 || bn == NULL) return 0;
    ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)revocation_time);
    X509_REVOKED *revoked = X509_REVOKED_new();
    int ok = serial != NULL && when != NULL && revoked != NULL
        && X509_REVOKED_set_serialNumber(revoked, serial)
        && X509_REVOKED_set_revocationDate(revoked, when)
        && X509_CRL_add0_revoked(crl, revoked);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    if (!ok) X509_REVOKED_free(revoked);
    return ok ? 1 : 0;
}

int lc_pki_crl_set_number(X509_CRL *crl, uint64_t number) {
    ASN1_INTEGER *value = ASN1_INTEGER_new();
    int ok = value != NULL && ASN1_INTEGER_set_uint64(value, number)
        && X509_CRL_add1_ext_i2d(crl, NID_crl_number, value, 0, X509V3_ADD_REPLACE);
    ASN1_INTEGER_free(value);
    return ok ? 1 : 0;
}

int lc_pki_crl_add_aki(X509_CRL *crl, X509 *issuer) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
    if (ext == NULL) return 0;
    int ok = X509_CRL_add_ext(crl, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

int lc_pki_crl_revoked_count(X509_CRL *crl) {
    STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
    return revoked == NULL ? 0 : sk_X509_REVOKED_num(revoked);
}

int lc_pki_crl_revoked_serial_hex(X509_CRL *crl, int index, BIO *out) {
    STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
    if (revoked == NULL || index < 0 || index >= sk_X509_REVOKED_num(revoked)) return 0;
    return asn1_integer_hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, index)), out);
}

int lc_pki_crl_get_info(X509_CRL *crl, int64_t *last_update, int64_t *next_update, uint64_t *number, int *has_number) {
    *next_update = 0;
    *number = 0;
    *has_number = 0;
    if (!lc_asn1_time_epoch(X509_CRL_get0_lastUpdate(crl), last_update)) return 0;
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    if (next != NULL && !lc_asn1_time_epoch(next, next_update)) return 0;
    int crit = 0;
    ASN1_INTEGER *value = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
    if (value != NULL) {
        int ok = ASN1_INTEGER_get_uint64(number, value);
        ASN1_INTEGER_free(value);
        if (!ok) return 0;
        *has_number = 1;
    } else if (crit != -1) {
        return 0;
    }
    return 1;
}
