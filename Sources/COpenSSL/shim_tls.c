// Shims for LinkcoreTLS. See include/COpenSSL_tls.h.
#define _GNU_SOURCE
#include "COpenSSL.h"
#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

EVP_PKEY *lc_ec_p256_keygen(void) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

size_t lc_bio_pending(BIO *bio) { return BIO_ctrl_pending(bio); }

int lc_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

long lc_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
long lc_ssl_ctx_clear_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_clear_mode(ctx, mode); }
uint64_t lc_ssl_ctx_set_options(SSL_CTX *ctx, uint64_t options) {
    return (uint64_t)SSL_CTX_set_options(ctx, options);
}
uint64_t lc_ssl_op_no_renegotiation(void) { return (uint64_t)SSL_OP_NO_RENEGOTIATION; }
uint64_t lc_ssl_op_no_compression(void) { return (uint64_t)SSL_OP_NO_COMPRESSION; }
long lc_ssl_ctx_set_session_cache_off(SSL_CTX *ctx) {
    return SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}
void lc_openssl_free(void *ptr) { OPENSSL_free(ptr); }
unsigned long lc_err_get_reason(unsigned long code) { return (unsigned long)ERR_GET_REASON(code); }
int lc_ssl_alert_reason_offset(void) { return SSL_AD_REASON_OFFSET; }

// ---- verification ----

static int lc_first_error_index = -1;
static int lc_first_depth_index = -1;
static pthread_once_t lc_index_once = PTHREAD_ONCE_INIT;

static void lc_make_indexes(void) {
    lc_first_error_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    lc_first_depth_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int lc_verify_record_first(int preverify_ok, X509_STORE_CTX *store) {
    if (preverify_ok) return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    if (ssl != NULL && lc_first_error_index >= 0) {
        // Stored as error+1 so that "nothing recorded" (NULL) differs from X509_V_OK.
        if (SSL_get_ex_data(ssl, lc_first_error_index) == NULL) {
            int err = X509_STORE_CTX_get_error(store);
            int depth = X509_STORE_CTX_get_error_depth(store);
            SSL_set_ex_data(ssl, lc_first_error_index, (void *)(intptr_t)(err + 1));
            SSL_set_ex_data(ssl, lc_first_depth_index, (void *)(intptr_t)(depth + 1));
        }
    }
    // Let the handshake complete: the decision is taken after it, over the encrypted channel.
    return 1;
}

void lc_ssl_ctx_set_verify_record_first(SSL_CTX *ctx) {
    pthread_once(&lc_index_once, lc_make_indexes);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, lc_verify_record_first);
}

void lc_ssl_ctx_set_verify_strict(SSL_CTX *ctx) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
}

int lc_ssl_first_verify_error(const SSL *ssl, int *depth) {
    pthread_once(&lc_index_once, lc_make_indexes);
    if (depth != NULL) *depth = -1;
    if (lc_first_error_index < 0) return X509_V_OK;
    intptr_t stored = (intptr_t)SSL_get_ex_data(ssl, lc_first_error_index);
    if (stored == 0) return X509_V_OK;
    if (depth != NULL) *depth = (int)((intptr_t)SSL_get_ex_data(ssl, lc_first_depth_index) - 1);
    return (int)(stored - 1);
}

int lc_ssl_ctx_load_crl_file(SSL_CTX *ctx, const char *path) {
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    if (store == NULL) return 0;
    X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (lookup == NULL) return 0;
    int count = X509_load_crl_file(lookup, path, X509_FILETYPE_PEM);
    if (count <= 0) return 0;
    // Every certificate of the chain, not only the leaf: a revoked intermediate (or a CA that
    // revoked itself) must not keep its whole subtree trusted.
    if (X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL) != 1) return 0;
    return count;
}

int lc_crl_file_next_update(const char *path, int64_t *out) {
    BIO *bio = BIO_new_file(path, "r");
    if (bio == NULL) return 0;
    int found = 0;
    X509_CRL *crl;
    while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
        int64_t at = 0;
        if (lc_asn1_time_epoch(X509_CRL_get0_nextUpdate(crl), &at)) {
            if (!found || at < *out) *out = at;
            found = 1;
        }
        X509_CRL_free(crl);
    }
    ERR_clear_error();  // the loop ends on "no start line"
    BIO_free(bio);
    return found;
}

int lc_ssl_set_expected_peer_name(SSL *ssl, const char *name) {
    unsigned char addr[16];
    if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1) {
        // IP literal: no SNI (RFC 6066 forbids it), match against IP SANs.
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        return X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1 ? 1 : 0;
    }
    if (SSL_set_tlsext_host_name(ssl, name) != 1) return 0;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, name) == 1 ? 1 : 0;
}

// ---- certificate fields ----

char *lc_x509_first_san_uri_with_prefix(X509 *cert, const char *prefix, int *count) {
    *count = 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) return NULL;
    char *result = NULL;
    size_t prefix_len = strlen(prefix);
    int total = sk_GENERAL_NAME_num(names);
    for (int i = 0; i < total; i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        if (name == NULL || name->type != GEN_URI) continue;
        const ASN1_IA5STRING *uri = name->d.uniformResourceIdentifier;
        const unsigned char *data = ASN1_STRING_get0_data(uri);
        int len = ASN1_STRING_length(uri);
        if (data == NULL || len < 0 || (size_t)len < prefix_len) continue;
        if (memcmp(data, prefix, prefix_len) != 0) continue;
        *count += 1;
        if (result != NULL) continue;
        if (memchr(data, 0, (size_t)len) != NULL) continue;  // embedded NUL: no code to read
        result = OPENSSL_strndup((const char *)data, (size_t)len);
    }
    GENERAL_NAMES_free(names);
    return result;
}

char *lc_x509_subject_oneline(X509 *cert) {
    X509_NAME *name = X509_get_subject_name(cert);
    if (name == NULL) return NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) return NULL;
    char *result = NULL;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        char *data = NULL;
        long len = BIO_get_mem_data(bio, &data);
        if (len >= 0) result = OPENSSL_strndup(data != NULL ? data : "", (size_t)len);
    }
    BIO_free(bio);
    return result;
}

char *lc_x509_serial_hex(X509 *cert) {
    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    if (serial == NULL) return NULL;
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    if (bn == NULL) return NULL;
    char *hex = BN_bn2hex(bn);
    BN_free(bn);
    return hex;
}

int lc_x509_not_after_epoch(X509 *cert, int64_t *out) {
    return lc_asn1_time_epoch(X509_get0_notAfter(cert), out);
}

int lc_asn1_time_epoch(const ASN1_TIME *t, int64_t *out) {
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    *out = (int64_t)timegm(&tm);
    return 1;
}
