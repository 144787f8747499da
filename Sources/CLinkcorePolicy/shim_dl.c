// dlerror() is per thread and cleared by each call, so the error text is copied out right here,
// next to the call that produced it, rather than fetched later from Swift.
#include "CLinkcorePolicy.h"

#include <dlfcn.h>
#include <stdio.h>

static void copy_error(char *error, size_t error_cap, const char *fallback) {
    const char *text = dlerror();
    if (error_cap > 0) snprintf(error, error_cap, "%s", text != NULL ? text : fallback);
}

void *lc_policy_dl_open(const char *path, char *error, size_t error_cap) {
    dlerror();
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) copy_error(error, error_cap, "dlopen failed");
    return handle;
}

const lc_policy_module *lc_policy_dl_entry(void *handle, char *error, size_t error_cap) {
    dlerror();
    void *symbol = dlsym(handle, LC_POLICY_ENTRY_POINT);
    if (symbol == NULL) {
        copy_error(error, error_cap, "symbol not found");
        return NULL;
    }
    lc_policy_entry_fn entry;
    *(void **)&entry = symbol; /* POSIX-sanctioned object-to-function pointer conversion */
    const lc_policy_module *table = entry();
    if (table == NULL && error_cap > 0) snprintf(error, error_cap, LC_POLICY_ENTRY_POINT "() returned NULL");
    return table;
}
