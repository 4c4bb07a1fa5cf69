/*
 * secret.c — reading a password or one-time code. From the terminal the echo is off and
 * the line goes straight into locked, wiped memory; never argv or the environment, where
 * /proc and ps would show it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth.h"

/* Reads up to a newline or EOF, one byte at a time so nothing past the line is consumed
 * (the same fd may carry the next secret). */
static int secret_read_line(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	size_t n = 0;

	for (;;) {
		uint8_t c;
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return LPA_ERR_SYSTEM;
		if (r == 0 || c == '\n')
			break;
		if (n == cap)
			return LPA_ERR_LENGTH;
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	*len = n;
	return LPA_OK;
}

int auth_secret_read(const char *prompt, int fd, size_t max, lpa_secbuf **out)
{
	lpa_secbuf *buf = NULL, *line = NULL;
	struct termios old, quiet;
	int tty = -1, in = fd, r;
	bool restore = false;
	size_t n = 0;

	*out = NULL;
	if (max == 0 || max > AUTH_SECRET_MAX)
		return LPA_ERR_INVAL;
	if ((buf = lpa_secbuf_new(max + 1)) == NULL)
		return LPA_ERR_NOMEM;
	if (fd < 0) {
		if ((tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0) {
			r = LPA_ERR_NOT_FOUND; /* no controlling terminal: use --*-fd */
			goto fail;
		}
		in = tty;
		if (tcgetattr(tty, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
			quiet.c_lflag |= ICANON;
			if (tcsetattr(tty, TCSAFLUSH, &quiet) == 0)
				restore = true;
		}
		if (prompt != NULL)
			(void)!write(tty, prompt, strlen(prompt));
	}
	r = secret_read_line(in, lpa_secbuf_data(buf), max + 1, &n);
	if (restore) {
		(void)tcsetattr(tty, TCSAFLUSH, &old);
		(void)!write(tty, "\n", 1);
	}
	if (r == LPA_OK && n > max)
		r = LPA_ERR_LENGTH;
	if (r == LPA_OK && n == 0)
		r = LPA_ERR_LENGTH;
	if (r != LPA_OK)
		goto fail;
	if ((line = lpa_secbuf_new(n)) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	memcpy(lpa_secbuf_data(line), lpa_secbuf_cdata(buf), n);
	*out = line;
	r = LPA_OK;
fail:
	lpa_secbuf_free(&buf);
	if (tty >= 0)
		close(tty);
	return r;
}
