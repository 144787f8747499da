// The few PKCS#11 calls the number card needs, over a module loaded with dlopen() at run time
// (SoftHSM2 in tests and the demo, OpenSC's module for a real card reader). Everything here takes
// and returns plain C types so Swift never sees the CK_* structures; the full PKCS#11 header
// (p11-kit's, from libp11-kit-dev) is included by the .c file only.
#ifndef LINKCORE_CPKCS11_H
#define LINKCORE_CPKCS11_H

#include <stddef.h>

typedef struct lc_p11_module lc_p11_module;

// Return values (CK_RV) Swift maps to typed errors. The numbers are fixed by the standard.
#define LC_CKR_OK                       0x000UL
#define LC_CKR_ARGUMENTS_BAD            0x007UL
#define LC_CKR_ATTRIBUTE_SENSITIVE      0x011UL
#define LC_CKR_ATTRIBUTE_TYPE_INVALID   0x012UL
#define LC_CKR_KEY_HANDLE_INVALID       0x060UL
#define LC_CKR_PIN_INCORRECT            0x0A0UL
#define LC_CKR_PIN_INVALID              0x0A1UL
#define LC_CKR_PIN_LEN_RANGE            0x0A2UL
#define LC_CKR_PIN_EXPIRED              0x0A3UL
#define LC_CKR_PIN_LOCKED               0x0A4UL
#define LC_CKR_TOKEN_NOT_PRESENT        0x0E0UL
#define LC_CKR_USER_ALREADY_LOGGED_IN   0x100UL
#define LC_CKR_USER_NOT_LOGGED_IN       0x101UL
#define LC_CKR_BUFFER_TOO_SMALL         0x150UL
// Not a PKCS#11 value: the slot with that token label does not exist.
#define LC_P11_TOKEN_NOT_FOUND          0x80000001UL

// Token flags (CK_TOKEN_INFO.flags) that describe the PIN state.
#define LC_CKF_USER_PIN_INITIALIZED     0x00000008UL
#define LC_CKF_USER_PIN_COUNT_LOW       0x00010000UL
#define LC_CKF_USER_PIN_FINAL_TRY       0x00020000UL
#define LC_CKF_USER_PIN_LOCKED          0x00040000UL
#define LC_CKF_USER_PIN_TO_BE_CHANGED   0x00080000UL

// Object classes and attributes the card reads.
#define LC_CKO_CERTIFICATE              0x1UL
#define LC_CKO_PUBLIC_KEY               0x2UL
#define LC_CKO_PRIVATE_KEY              0x3UL
#define LC_CKA_VALUE                    0x011UL
#define LC_CKA_SENSITIVE                0x103UL
#define LC_CKA_MODULUS                  0x120UL
#define LC_CKA_PUBLIC_EXPONENT          0x122UL
#define LC_CKA_PRIVATE_EXPONENT         0x123UL
#define LC_CKA_EXTRACTABLE              0x162UL
#define LC_CKA_NEVER_EXTRACTABLE        0x164UL
#define LC_CKA_ALWAYS_SENSITIVE         0x165UL

// Mechanisms.
#define LC_CKM_SHA256_RSA_PKCS          0x040UL

typedef struct {
    char label[33];          // blank padding removed, NUL terminated
    char manufacturer[33];
    char model[17];
    char serial[17];
    unsigned long flags;
    unsigned long min_pin_len;
    unsigned long max_pin_len;
} lc_p11_token_info;

// dlopen()s `path`, resolves C_GetFunctionList and calls C_Initialize (OS locking) unless another
// handle already did. NULL on failure, with a message in `err`.
lc_p11_module *lc_p11_load(const char *path, char *err, size_t errlen);
// dlclose; C_Finalize when the last handle on that module goes.
void lc_p11_unload(lc_p11_module *m);

// The first slot with a token whose label is `label` (compared without blank padding).
unsigned long lc_p11_find_token(lc_p11_module *m, const char *label, unsigned long *slot);
unsigned long lc_p11_token_info_get(lc_p11_module *m, unsigned long slot, lc_p11_token_info *out);

// Read-write session.
unsigned long lc_p11_open_session(lc_p11_module *m, unsigned long slot, unsigned long *session);
unsigned long lc_p11_close_session(lc_p11_module *m, unsigned long session);
// user_type 0 = security officer, 1 = user.
unsigned long lc_p11_login(lc_p11_module *m, unsigned long session, unsigned long user_type,
                           const char *pin, size_t pin_len);
unsigned long lc_p11_logout(lc_p11_module *m, unsigned long session);
unsigned long lc_p11_set_pin(lc_p11_module *m, unsigned long session, const char *old_pin, size_t old_len,
                             const char *new_pin, size_t new_len);
// Needs an SO session.
unsigned long lc_p11_init_pin(lc_p11_module *m, unsigned long session, const char *pin, size_t pin_len);

// RSA key pair on the token: private key CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not CKA_EXTRACTABLE,
// sign only; both halves carry `label` and `id`.
unsigned long lc_p11_generate_rsa(lc_p11_module *m, unsigned long session, unsigned long bits,
                                  const char *label, const unsigned char *id, size_t id_len,
                                  unsigned long *pub, unsigned long *priv);
// The first object of class `cls` with that label (id may be NULL). *found is 0 when none.
unsigned long lc_p11_find_object(lc_p11_module *m, unsigned long session, unsigned long cls, const char *label,
                                 const unsigned char *id, size_t id_len, unsigned long *obj, int *found);
// C_GetAttributeValue for one attribute. With buf NULL, *len receives the size.
unsigned long lc_p11_get_attribute(lc_p11_module *m, unsigned long session, unsigned long obj,
                                   unsigned long type, unsigned char *buf, size_t *len);
// C_SignInit + C_Sign. With sig NULL, *sig_len receives the size.
unsigned long lc_p11_sign(lc_p11_module *m, unsigned long session, unsigned long key, unsigned long mechanism,
                          const unsigned char *data, size_t data_len, unsigned char *sig, size_t *sig_len);
// An X.509 certificate object on the token (CKA_TOKEN, public).
unsigned long lc_p11_store_certificate(lc_p11_module *m, unsigned long session, const char *label,
                                       const unsigned char *id, size_t id_len,
                                       const unsigned char *subject, size_t subject_len,
                                       const unsigned char *der, size_t der_len, unsigned long *obj);
// C_DestroyObject: replacing a certificate on renewal.
unsigned long lc_p11_destroy_object(lc_p11_module *m, unsigned long session, unsigned long obj);

#endif
