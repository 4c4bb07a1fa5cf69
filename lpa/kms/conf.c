/*
 * conf.c — kms.conf, the state directory's configuration (kms-db.h): today the one key
 * that moves the database to PostgreSQL. Strict: an unknown key, a repeated one or a
 * connection string that carries a password is refused with the line and the reason,
 * never ignored. The password of a database account belongs in a passfile (libpq's
 * `passfile=`, 0600) or nowhere (peer authentication over the Unix socket), not in a
 * file the KMS's operators copy between machines, nor in argv or the environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "kms-db.h"

#define CONF_MAX_FILE (64 * 1024)

static int conf_fail(enum kms_conf_err *why, enum kms_conf_err e, char *msg, size_t msg_len,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int conf_fail(enum kms_conf_err *why, enum kms_conf_err e, char *msg, size_t msg_len,
		     const char *fmt, ...)
{
	va_list ap;

	*why = e;
	va_start(ap, fmt);
	vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
	return KMS_ERR_CONF;
}

static bool conf_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* A connection string libpq parses, with no password in it. */
static int conf_conninfo(const char *v, enum kms_conf_err *why, char *msg, size_t msg_len)
{
	PQconninfoOption *opts;
	char *err = NULL;
	bool password = false;

	if ((opts = PQconninfoParse(v, &err)) == NULL) {
		int r = conf_fail(why, CONF_ERR_CONNINFO, msg, msg_len,
				  "postgresql: not a libpq connection string: %s",
				  err ? err : "out of memory");

		/* libpq's message ends in a newline; a message of ours does not. */
		if (msg_len && strlen(msg) && msg[strlen(msg) - 1] == '\n')
			msg[strlen(msg) - 1] = '\0';
		PQfreemem(err);
		return r;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
			password = true;
	PQconninfoFree(opts);
	if (password)
		return conf_fail(why, CONF_ERR_PASSWORD, msg, msg_len,
				 "postgresql: the connection string carries a password; put it"
				 " in a passfile (passfile=PATH, mode 0600) or use peer"
				 " authentication");
	return KMS_OK;
}

static int conf_parse(const char *text, size_t len, struct kms_conf *conf, enum kms_conf_err *why,
		      unsigned *line, char *msg, size_t msg_len)
{
	bool have_pg = false;
	size_t i = 0;

	memset(conf, 0, sizeof(*conf));
	*why = CONF_OK;
	*line = 0;
	if (msg_len)
		msg[0] = '\0';
	if (len > CONF_MAX_FILE)
		return conf_fail(why, CONF_ERR_SIZE, msg, msg_len, "larger than %d bytes",
				 CONF_MAX_FILE);
	while (i < len) {
		size_t ls = i, end = i, ks, ke, vs, ve;

		(*line)++;
		while (end < len && text[end] != '\n')
			end++;
		while (i < end && conf_space(text[i]))
			i++;
		if (i == end || text[i] == '#') {
			i = end + 1;
			continue;
		}
		ks = i;
		while (i < end && (text[i] == '_' || (text[i] >= 'a' && text[i] <= 'z')))
			i++;
		ke = i;
		while (i < end && conf_space(text[i]))
			i++;
		if (ke == ks || i == end || text[i] != '=')
			return conf_fail(why, CONF_ERR_SYNTAX, msg, msg_len,
					 "expected 'key = value'");
		i++;
		while (i < end && conf_space(text[i]))
			i++;
		vs = i;
		ve = end;
		while (ve > vs && conf_space(text[ve - 1]))
			ve--;
		for (size_t k = vs; k < ve; k++)
			if ((unsigned char)text[k] < 0x20 || (unsigned char)text[k] > 0x7e)
				return conf_fail(why, CONF_ERR_VALUE, msg, msg_len,
						 "the value has a non-printable byte at column %zu",
						 k - ls + 1);
		if (ke - ks == 10 && memcmp(text + ks, "postgresql", 10) == 0) {
			int r;

			if (have_pg)
				return conf_fail(why, CONF_ERR_DUP, msg, msg_len,
						 "postgresql is given twice");
			if (ve == vs || ve - vs >= sizeof(conf->conninfo))
				return conf_fail(why, CONF_ERR_VALUE, msg, msg_len,
						 "postgresql: the connection string is empty or"
						 " longer than %zu bytes",
						 sizeof(conf->conninfo) - 1);
			memcpy(conf->conninfo, text + vs, ve - vs);
			conf->conninfo[ve - vs] = '\0';
			if ((r = conf_conninfo(conf->conninfo, why, msg, msg_len)) != KMS_OK) {
				memset(conf, 0, sizeof(*conf));
				return r;
			}
			have_pg = true;
		} else {
			return conf_fail(why, CONF_ERR_KEY, msg, msg_len, "unknown key '%.*s'",
					 (int)(ke - ks), text + ks);
		}
		i = end + 1;
	}
	*line = 0;
	return KMS_OK;
}

int kms_conf_parse(const char *text, size_t len, struct kms_conf *conf, enum kms_conf_err *why,
		   unsigned *line, char *msg, size_t msg_len)
{
	int r = conf_parse(text, len, conf, why, line, msg, msg_len);

	if (r != KMS_OK)
		memset(conf, 0, sizeof(*conf)); /* nothing half-read is used */
	return r;
}

int kms_conf_load(const char *path, struct kms_conf *conf)
{
	char *buf = NULL, msg[256];
	enum kms_conf_err why;
	unsigned line;
	size_t len = 0;
	ssize_t k;
	int fd, r;

	memset(conf, 0, sizeof(*conf));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return KMS_OK;
		fprintf(stderr, "lpa-kms: cannot open %s: %s\n", path, strerror(errno));
		return KMS_ERR_IO;
	}
	if ((buf = malloc(CONF_MAX_FILE + 2)) == NULL) {
		close(fd);
		return KMS_ERR_NOMEM;
	}
	while (len < CONF_MAX_FILE + 1 && (k = read(fd, buf + len, CONF_MAX_FILE + 1 - len)) > 0)
		len += (size_t)k;
	close(fd);
	r = kms_conf_parse(buf, len, conf, &why, &line, msg, sizeof(msg));
	if (r != KMS_OK && line)
		fprintf(stderr, "lpa-kms: %s:%u: %s\n", path, line, msg);
	else if (r != KMS_OK)
		fprintf(stderr, "lpa-kms: %s: %s\n", path, msg);
	free(buf);
	return r;
}
