/*
 * pin.c — the token's PIN, from an inherited file descriptor or a systemd credential
 * ($CREDENTIALS_DIRECTORY/NAME, which LoadCredential= fills), never from argv or the
 * environment. CREDENTIALS_DIRECTORY itself is only a directory's path, no secret. The PIN
 * goes straight into secure memory with read(2), no stdio buffer in between; the caller
 * wipes it (lpa_secbuf_free) as soon as C_Login has seen it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kms-keys.h"

/* A PIN is one line; PKCS#11 tokens take far less than this. */
#define PIN_MAX 256
#define PIN_DEFAULT_CREDENTIAL "pkcs11-pin"

/* All of fd up to PIN_MAX bytes, one trailing newline cut, into a secbuf of its length. */
static int pin_read_fd(int fd, const char *from, lpa_secbuf **pin)
{
	lpa_secbuf *b = lpa_secbuf_new(PIN_MAX + 1);
	uint8_t *p;
	size_t n = 0;
	ssize_t k;
	int r = KMS_ERR_INVAL;

	*pin = NULL;
	if (!b)
		return KMS_ERR_NOMEM;
	p = lpa_secbuf_data(b);
	while (n <= PIN_MAX && (k = read(fd, p + n, PIN_MAX + 1 - n)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			fprintf(stderr, "lpa-kms: reading the PIN from %s: %s\n", from,
				strerror(errno));
			r = KMS_ERR_IO;
			goto fail;
		}
		n += (size_t)k;
	}
	if (n > PIN_MAX) {
		fprintf(stderr, "lpa-kms: the PIN from %s is longer than %d bytes\n", from,
			PIN_MAX);
		goto fail;
	}
	if (n && p[n - 1] == '\n')
		n--;
	if (n && p[n - 1] == '\r')
		n--;
	if (n == 0 || memchr(p, '\n', n)) {
		fprintf(stderr, "lpa-kms: the PIN from %s is %s\n", from,
			n ? "more than one line" : "empty");
		goto fail;
	}
	if ((*pin = lpa_secbuf_new(n)) == NULL) {
		r = KMS_ERR_NOMEM;
		goto fail;
	}
	memcpy(lpa_secbuf_data(*pin), p, n);
	r = KMS_OK;
fail:
	lpa_secbuf_free(&b);
	return r;
}

static int pin_read_credential(const char *name, lpa_secbuf **pin)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[4096];
	struct stat st;
	int fd, r;

	*pin = NULL;
	if (!dir || !*dir) {
		fprintf(stderr,
			"lpa-kms: the token needs its PIN: --pin-fd N, or the systemd"
			" credential %s (--pin-credential NAME), but $CREDENTIALS_DIRECTORY"
			" is not set\n",
			name);
		return KMS_ERR_INVAL;
	}
	/* A name, not a path: the credential is the directory's own file. */
	if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		fprintf(stderr, "lpa-kms: '%s' is no credential name\n", name);
		return KMS_ERR_INVAL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return KMS_ERR_INVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		fprintf(stderr, "lpa-kms: cannot open the PIN credential %s: %s\n", path,
			strerror(errno));
		return KMS_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = KMS_ERR_IO;
	} else if (st.st_mode & 077) {
		fprintf(stderr,
			"lpa-kms: PIN credential %s has mode %03o; others must not read it\n", path,
			(unsigned)(st.st_mode & 0777));
		r = KMS_ERR_PERM;
	} else {
		r = pin_read_fd(fd, path, pin);
	}
	close(fd);
	return r;
}

int pin_read(const struct vault_opts *o, lpa_secbuf **pin)
{
	char from[32];

	if (o && o->pin_fd >= 0) {
		snprintf(from, sizeof(from), "descriptor %d", o->pin_fd);
		return pin_read_fd(o->pin_fd, from, pin);
	}
	return pin_read_credential(
		o && o->pin_credential ? o->pin_credential : PIN_DEFAULT_CREDENTIAL, pin);
}
