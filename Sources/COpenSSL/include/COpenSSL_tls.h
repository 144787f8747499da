#ifndef LINKCORE_COPENSSL_TLS_H
#define LINKCORE_COPENSSL_TLS_H
#include <openssl/ssl.h>

#endif
