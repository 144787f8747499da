// dlopen() shim over a PKCS#11 module. The full header is p11-kit's (libp11-kit-dev); only this
// file includes it, so Swift sees the plain-C surface in CPKCS11.h.
#include "CPKCS11.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <p11-kit-1/p11-kit/pkcs11.h>

struct lc_p11_module {
    void *handle;
    CK_FUNCTION_LIST_PTR f;
};

// C_Initialize and C_Finalize are per process, not per caller: several lc_p11_module values for
// the same module share one initialisation, and only the last unload finalises it.
#define LC_P11_MAX_MODULES 8
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { CK_FUNCTION_LIST_PTR f; int users; } registry[LC_P11_MAX_MODULES];

lc_p11_module *lc_p11_load(const char *path, char *err, size_t errlen) {
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        snprintf(err, errlen, "dlopen %s: %s", path, dlerror());
        return NULL;
    }
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(handle, "C_GetFunctionList");
    CK_FUNCTION_LIST_PTR f = NULL;
    if (get == NULL || get(&f) != CKR_OK || f == NULL) {
        snprintf(err, errlen, "%s is not a PKCS#11 module (no C_GetFunctionList)", path);
        dlclose(handle);
        return NULL;
    }
    lc_p11_module *m = calloc(1, sizeof *m);
    if (m == NULL) {
        dlclose(handle);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_lock(&registry_lock);
    int slot = -1, free_slot = -1;
    for (int i = 0; i < LC_P11_MAX_MODULES; i++) {
        if (registry[i].users > 0 && registry[i].f == f) slot = i;
        if (registry[i].users == 0 && free_slot < 0) free_slot = i;
    }
    CK_RV rv = CKR_OK;
    if (slot < 0) {
        CK_C_INITIALIZE_ARGS args;
        memset(&args, 0, sizeof args);
        args.flags = CKF_OS_LOCKING_OK; // the module may be called from several threads
        rv = free_slot < 0 ? CKR_HOST_MEMORY : f->C_Initialize(&args);
        if (rv == CKR_OK) {
            slot = free_slot;
            registry[slot].f = f;
        }
    }
    if (rv == CKR_OK) registry[slot].users++;
    pthread_mutex_unlock(&registry_lock);
    if (rv != CKR_OK) {
        snprintf(err, errlen, "C_Initialize failed: 0x%lx", (unsigned long)rv);
        free(m);
        dlclose(handle);
        return NULL;
    }
    m->handle = handle;
    m->f = f;
    return m;
}

void lc_p11_unload(lc_p11_module *m) {
    if (m == NULL) return;
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < LC_P11_MAX_MODULES; i++) {
        if (registry[i].users > 0 && registry[i].f == m->f) {
            if (--registry[i].users == 0) m->f->C_Finalize(NULL);
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    dlclose(m->handle);
    free(m);
}

// Copies a blank-padded, non-terminated PKCS#11 text field into a C string without the padding.
static void unpad(char *dst, const unsigned char *src, size_t n) {
    memcpy(dst, src, n);
    dst[n] = 0;
    while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == 0)) dst[--n] = 0;
}

unsigned long lc_p11_find_token(lc_p11_module *m, const char *label, unsigned long *slot) {
    CK_ULONG count = 0;
    CK_RV rv = m->f->C_GetSlotList(CK_TRUE, NULL, &count);
    if (rv != CKR_OK) return rv;
    if (count == 0) return LC_P11_TOKEN_NOT_FOUND;
    CK_SLOT_ID *slots = calloc(count, sizeof *slots);
    if (slots == NULL) return CKR_HOST_MEMORY;
    rv = m->f->C_GetSlotList(CK_TRUE, slots, &count);
    unsigned long result = LC_P11_TOKEN_NOT_FOUND;
    for (CK_ULONG i = 0; rv == CKR_OK && i < count; i++) {
        CK_TOKEN_INFO info;
        if (m->f->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
        char name[33];
        unpad(name, info.label, sizeof info.label);
        if (strcmp(name, label) == 0) {
            *slot = slots[i];
            result = CKR_OK;
            break;
        }
    }
    free(slots);
    return rv != CKR_OK ? rv : result;
}

unsigned long lc_p11_token_info_get(lc_p11_module *m, unsigned long slot, lc_p11_token_info *out) {
    CK_TOKEN_INFO info;
    CK_RV rv = m->f->C_GetTokenInfo(slot, &info);
    if (rv != CKR_OK) return rv;
    unpad(out->label, info.label, sizeof info.label);
    unpad(out->manufacturer, info.manufacturerID, sizeof info.manufacturerID);
    unpad(out->model, info.model, sizeof info.model);
    unpad(out->serial, info.serialNumber, sizeof info.serialNumber);
    out->flags = info.flags;
    out->min_pin_len = info.ulMinPinLen;
    out->max_pin_len = info.ulMaxPinLen;
    return CKR_OK;
}

unsigned long lc_p11_open_session(lc_p11_module *m, unsigned long slot, unsigned long *session) {
    CK_SESSION_HANDLE h = 0;
    CK_RV rv = m->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
    if (rv == CKR_OK) *session = h;
    return rv;
}

unsigned long lc_p11_close_session(lc_p11_module *m, unsigned long session) {
    return m->f->C_CloseSession(session);
}

unsigned long lc_p11_login(lc_p11_module *m, unsigned long session, unsigned long user_type,
                           const char *pin, size_t pin_len) {
    return m->f->C_Login(session, user_type == 0 ? CKU_SO : CKU_USER, (CK_UTF8CHAR_PTR)pin, pin_len);
}

unsigned long lc_p11_logout(lc_p11_module *m, unsigned long session) {
    return m->f->C_Logout(session);
}

unsigned long lc_p11_set_pin(lc_p11_module *m, unsigned long session, const char *old_pin, size_t old_len,
                             const char *new_pin, size_t new_len) {
    return m->f->C_SetPIN(session, (CK_UTF8CHAR_PTR)old_pin, old_len, (CK_UTF8CHAR_PTR)new_pin, new_len);
}

unsigned long lc_p11_init_pin(lc_p11_module *m, unsigned long session, const char *pin, size_t pin_len) {
    return m->f->C_InitPIN(session, (CK_UTF8CHAR_PTR)pin, pin_len);
}

unsigned long lc_p11_generate_rsa(lc_p11_module *m, unsigned long session, unsigned long bits,
                                  const char *label, const unsigned char *id, size_t id_len,
                                  unsigned long *pub, unsigned long *priv) {
    CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG modulus_bits = bits;
    CK_BYTE exponent[] = { 0x01, 0x00, 0x01 };
    CK_ATTRIBUTE pub_t[] = {
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_PRIVATE, &no, sizeof no },
        { CKA_VERIFY, &yes, sizeof yes },
        { CKA_ENCRYPT, &no, sizeof no },
        { CKA_MODULUS_BITS, &modulus_bits, sizeof modulus_bits },
        { CKA_PUBLIC_EXPONENT, exponent, sizeof exponent },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_ID, (void *)id, id_len },
    };
    // The private key never leaves the token: sensitive, not extractable, sign only.
    CK_ATTRIBUTE priv_t[] = {
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_PRIVATE, &yes, sizeof yes },
        { CKA_SENSITIVE, &yes, sizeof yes },
        { CKA_EXTRACTABLE, &no, sizeof no },
        { CKA_SIGN, &yes, sizeof yes },
        { CKA_DECRYPT, &no, sizeof no },
        { CKA_UNWRAP, &no, sizeof no },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_ID, (void *)id, id_len },
    };
    CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
    CK_RV rv = m->f->C_GenerateKeyPair(session, &mech, pub_t, sizeof pub_t / sizeof pub_t[0],
                                       priv_t, sizeof priv_t / sizeof priv_t[0], &hpub, &hpriv);
    if (rv == CKR_OK) {
        *pub = hpub;
        *priv = hpriv;
    }
    return rv;
}

unsigned long lc_p11_find_object(lc_p11_module *m, unsigned long session, unsigned long cls, const char *label,
                                 const unsigned char *id, size_t id_len, unsigned long *obj, int *found) {
    CK_OBJECT_CLASS c = cls;
    CK_ATTRIBUTE t[3] = {
        { CKA_CLASS, &c, sizeof c },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_ID, (void *)id, id_len },
    };
    CK_ULONG n = id != NULL ? 3 : 2;
    CK_RV rv = m->f->C_FindObjectsInit(session, t, n);
    if (rv != CKR_OK) return rv;
    CK_OBJECT_HANDLE h = 0;
    CK_ULONG count = 0;
    rv = m->f->C_FindObjects(session, &h, 1, &count);
    CK_RV final = m->f->C_FindObjectsFinal(session);
    if (rv != CKR_OK) return rv;
    *found = count > 0;
    if (count > 0) *obj = h;
    return final;
}

unsigned long lc_p11_get_attribute(lc_p11_module *m, unsigned long session, unsigned long obj,
                                   unsigned long type, unsigned char *buf, size_t *len) {
    CK_ATTRIBUTE a = { type, buf, buf == NULL ? 0 : *len };
    CK_RV rv = m->f->C_GetAttributeValue(session, obj, &a, 1);
    if (rv == CKR_OK) *len = a.ulValueLen;
    return rv;
}

unsigned long lc_p11_sign(lc_p11_module *m, unsigned long session, unsigned long key, unsigned long mechanism,
                          const unsigned char *data, size_t data_len, unsigned char *sig, size_t *sig_len) {
    CK_MECHANISM mech = { mechanism, NULL, 0 };
    CK_RV rv = m->f->C_SignInit(session, &mech, key);
    if (rv != CKR_OK) return rv;
    CK_ULONG n = *sig_len;
    // C_Sign ends the operation on success and on every error but CKR_BUFFER_TOO_SMALL and a
    // NULL-buffer size query; we always pass a buffer big enough for the modulus.
    rv = m->f->C_Sign(session, (CK_BYTE_PTR)data, data_len, sig, &n);
    if (rv == CKR_OK) *sig_len = n;
    return rv;
}

unsigned long lc_p11_store_certificate(lc_p11_module *m, unsigned long session, const char *label,
                                       const unsigned char *id, size_t id_len,
                                       const unsigned char *subject, size_t subject_len,
                                       const unsigned char *der, size_t der_len, unsigned long *obj) {
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE type = CKC_X_509;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_CERTIFICATE_TYPE, &type, sizeof type },
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_PRIVATE, &no, sizeof no },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_ID, (void *)id, id_len },
        { CKA_SUBJECT, (void *)subject, subject_len },
        { CKA_VALUE, (void *)der, der_len },
    };
    CK_OBJECT_HANDLE h = 0;
    CK_RV rv = m->f->C_CreateObject(session, t, sizeof t / sizeof t[0], &h);
    if (rv == CKR_OK) *obj = h;
    return rv;
}

unsigned long lc_p11_destroy_object(lc_p11_module *m, unsigned long session, unsigned long obj) {
    return m->f->C_DestroyObject(session, obj);
}
