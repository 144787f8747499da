#ifndef LINKCORE_COPENSSL_PKI_H
#define LINKCORE_COPENSSL_PKI_H
#include <openssl/x509.h>

#endif
