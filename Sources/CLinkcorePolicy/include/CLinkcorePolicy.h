/* Host-side shims over dlopen for LinkcorePolicy. Modules only need linkcore_policy.h. */
#ifndef CLINKCORE_POLICY_SHIM_H
#define CLINKCORE_POLICY_SHIM_H

#include "linkcore_policy.h"

/* dlopen(path, RTLD_NOW | RTLD_LOCAL); on failure NULL and dlerror()'s text in error. */
void *lc_policy_dl_open(const char *path, char *error, size_t error_cap);

/* Resolves LC_POLICY_ENTRY_POINT and calls it; NULL with a reason when missing or it returns NULL. */
const lc_policy_module *lc_policy_dl_entry(void *handle, char *error, size_t error_cap);

#endif
