/*
 * auth.h — operator and station authentication on the station side: reading secrets
 * without echo (or from a file descriptor for automation), and keeping the KMS session
 * token in the Linux kernel keyring instead of a file.
 */
#ifndef LPA_AUTH_H
#define LPA_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lpa/core/lpa-core.h"

#define AUTH_SECRET_MAX 256

/*
 * Reads one secret line into a new secbuf (without its newline). fd < 0: from the
 * controlling terminal (/dev/tty) with echo off, showing prompt there; otherwise from fd
 * (a pipe from a password manager or the line automation), no prompt. Refuses empty
 * input (LPA_ERR_LENGTH) and lines over max bytes.
 */
int auth_secret_read(const char *prompt, int fd, size_t max, lpa_secbuf **out);

/* What the station knows about its KMS session besides the token. */
struct auth_session {
	char operator_name[64];
	char roles[64];    /* comma-separated */
	time_t expires_at; /* Unix seconds */
};

/*
 * The session key in the kernel's session keyring ("user" type, description
 * "lpa:session:<name>"), readable only by its possessor, with a timeout at expires_at so
 * the kernel drops it when the shift's session ends.
 */
int auth_session_store(const char *name, const lpa_secbuf *token, const struct auth_session *s);
/* LPA_ERR_NOT_FOUND when there is none (never logged in, expired, or logged out). */
int auth_session_load(const char *name, lpa_secbuf **token, struct auth_session *s);
int auth_session_drop(const char *name);

#endif
