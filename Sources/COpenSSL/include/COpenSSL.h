// The OpenSSL 3 surface linkcore uses, plus shims for what Swift cannot import (function-like
// macros, variadic functions). Shims are grouped by their user: tls (the NIO handler, link-code
// crypto) and pki (certificate and CRL generation).
#ifndef LINKCORE_COPENSSL_H
#define LINKCORE_COPENSSL_H

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/core_names.h>

#include "COpenSSL_tls.h"
#include "COpenSSL_pki.h"
#include "COpenSSL_linkcodes.h"
#include "COpenSSL_audit.h"
#include "COpenSSL_ocsp_client.h"
#include "COpenSSL_ocsp.h"
#include "COpenSSL_jws.h"

#endif
