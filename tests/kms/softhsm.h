/*
 * softhsm.h — a test's own SoftHSM2 tokens (tests/kms/softhsm-token.sh makes them) in a
 * temporary directory that is removed on every exit path: a normal exit, a failed
 * assertion, SIGTERM/SIGINT/SIGHUP (meson's timeout). SOFTHSM2_CONF points there.
 */
#ifndef LPA_TEST_SOFTHSM_H
#define LPA_TEST_SOFTHSM_H

#include <stddef.h>

struct softhsm {
	char dir[512];
	char module[512]; /* the PKCS#11 module's path */
	char pin[600];    /* the file holding the user PIN of every token */
};

/* Tokens labelled labels[0..n) (exits on failure; call it outside tests); script is
 * softhsm-token.sh. */
void softhsm_start(struct softhsm *t, const char *script, const char *const *labels, size_t n);
/* Removes the directory (also done at exit and on the signals above). */
void softhsm_stop(void);
/* A descriptor reading the PIN file, for --pin-fd / vault_opts.pin_fd. */
int softhsm_pin_fd(const struct softhsm *t);

#endif
