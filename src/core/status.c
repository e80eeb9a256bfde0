/* Status table, per-thread error messages and the internal assert. */
#include "core/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static const char *const status_msg[] = {
#define MGSD_X_MSG(name, msg) msg,
    MGSD_STATUS_TABLE(MGSD_X_MSG)
#undef MGSD_X_MSG
};
static const char *const status_name[] = {
#define MGSD_X_NAME(name, msg) #name,
    MGSD_STATUS_TABLE(MGSD_X_NAME)
#undef MGSD_X_NAME
};

static _Thread_local char last_error[1024];

const char *mgsd_strerror(mgsd_status s) {
    if ((int)s < 0 || s >= MGSD_STATUS_COUNT) return "unknown status";
    return status_msg[s];
}

const char *mgsd_status_name(mgsd_status s) {
    if ((int)s < 0 || s >= MGSD_STATUS_COUNT) return "MGSD_UNKNOWN";
    return status_name[s];
}

const char *mgsd_last_error(void) { return last_error; }

void mgsd_clear_error(void) { last_error[0] = '\0'; }

mgsd_status mgsd_error(mgsd_status s, const char *fmt, ...) {
    if (fmt) {
        /* Format into a temporary first: callers may pass mgsd_last_error() itself as an
         * argument (wrapping a lower-level message), and vsnprintf must not write over its
         * own input. */
        char tmp[sizeof last_error];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        memcpy(last_error, tmp, sizeof tmp);
    } else {
        snprintf(last_error, sizeof last_error, "%s", mgsd_strerror(s));
    }
    return s;
}

void mgsd_assert_fail(const char *file, int line, const char *cond) {
    /* An invariant broke: this is a bug in mgsd, not bad input. The message goes to
     * stderr because the process cannot continue in a defined state. */
    snprintf(last_error, sizeof last_error, "%s:%d: internal assertion failed: %s", file, line, cond);
    fprintf(stderr, "mgsd: %s\n", last_error);
    abort();
}

const char *mgsd_version(void) { return "0.1.0"; }
