/*
 * util/err.h - the one error convention of triggerd.
 *
 * Functions that can fail return int: 0 on success or a negative ERR_* code.
 * Where a failure must reach a user, the callee also fills an err_t with a
 * message; the api layer maps the code to an HTTP status.
 */
#ifndef TD_UTIL_ERR_H
#define TD_UTIL_ERR_H

enum {
    ERR_OK = 0,
    ERR_NOMEM = -1,
    ERR_INVALID = -2,       /* bad input: 400 */
    ERR_NOT_FOUND = -3,     /* 404 */
    ERR_CONFLICT = -4,      /* 409 */
    ERR_UNPROCESSABLE = -5, /* service validation: 422 */
    ERR_UNAUTHORIZED = -6,  /* 401 */
    ERR_FORBIDDEN = -7,     /* 403 */
    ERR_TOO_LARGE = -8,     /* 413 */
    ERR_STORE = -9,         /* storage failure: 500 */
    ERR_IO = -10,           /* other I/O failure: 500 */
    ERR_EXPIRED = -11,      /* a token or key past its expiry: 401 */
    ERR_UNAVAILABLE = -12,  /* 503 */
};

/* An error with a message meant for the user of the API. */
typedef struct err_t {
    int code;
    char msg[512];
} err_t;

/* Sets e (if non-NULL) to code and a printf-formatted message; returns code. */
int err_set(err_t *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
