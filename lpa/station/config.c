/* config.c — the station.conf(5) parser. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "lpa/core/lpa-core.h"
#include "station.h"

#define CONFIG_MAX_FILE (64 * 1024)

/* The global options given before the command (main.c sets them). */
static const char *config_global_path = CONFIG_DEFAULT_PATH;
static bool config_global_explicit;
static int config_global_verbose;

const char *station_config_path(void)
{
	return config_global_path;
}

bool station_config_explicit(void)
{
	return config_global_explicit;
}

void station_set_config_path(const char *path)
{
	config_global_path = path;
	config_global_explicit = true;
}

int station_verbose(void)
{
	return config_global_verbose;
}

void station_set_verbose(int level)
{
	config_global_verbose = level;
}

void station_debug(const char *fmt, ...)
{
	va_list ap;

	if (config_global_verbose == 0)
		return;
	va_start(ap, fmt);
	fputs("lpa-station: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void config_defaults(struct station_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->kms_url, sizeof(c->kms_url), "https://127.0.0.1:8443");
	snprintf(c->kms_ca, sizeof(c->kms_ca), "/etc/lpa/kms-ca.pem");
	snprintf(c->tls_cert, sizeof(c->tls_cert), "/etc/lpa/station.pem");
	snprintf(c->tls_key, sizeof(c->tls_key), "/etc/lpa/station.key");
	snprintf(c->record_keys, sizeof(c->record_keys), "/etc/lpa/kms-keys.json");
	c->kms_timeout_s = 10;
	c->kms_retries = 3;
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/lpa");
	c->backend = PROG_BACKEND_CMSIS_DAP;
	snprintf(c->openocd, sizeof(c->openocd), "openocd");
	snprintf(c->openocd_adapter, sizeof(c->openocd_adapter), "cmsis-dap");
	c->clock_khz = 1000;
	snprintf(c->lorawan, sizeof(c->lorawan), "1.1");
	c->allowed_protection = 1u << LPA_PROT_NORMAL;
}

static int config_err(char *err, size_t len, unsigned line, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int config_err(char *err, size_t len, unsigned line, int code, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, len, "line %u: ", line);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < len)
		vsnprintf(err + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

static int config_str(const char *v, char *out, size_t cap)
{
	if (strlen(v) >= cap)
		return -1;
	strcpy(out, v);
	return 0;
}

static int config_uint(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long x;

	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -1;
	*out = (unsigned)x;
	return 0;
}

static int config_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

/* "normal", or a comma list such as "virgin,normal". */
static int config_protection(const char *v, uint8_t *mask)
{
	static const char *names[] = {"unknown", "virgin", "normal", "secure", "dead"};
	char buf[64], *save = NULL, *tok;

	if (config_str(v, buf, sizeof(buf)) != 0)
		return -1;
	*mask = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		while (*tok == ' ')
			tok++;
		for (i = 1; i < 5; i++)
			if (strcmp(tok, names[i]) == 0)
				break;
		if (i == 5)
			return -1;
		*mask |= (uint8_t)(1u << i);
	}
	return *mask ? 0 : -1;
}

/* MAJOR.MINOR as `agent info` prints the agent protocol (1.0), each 0..255, not 0.0. */
static int config_agent_version(const char *v, uint16_t *out)
{
	const char *dot = strchr(v, '.');
	char major[4];
	unsigned hi, lo;

	if (dot == NULL || dot == v || (size_t)(dot - v) >= sizeof(major))
		return -1;
	memcpy(major, v, (size_t)(dot - v));
	major[dot - v] = '\0';
	if (config_uint(major, 0, 255, &hi) != 0 || config_uint(dot + 1, 0, 255, &lo) != 0 ||
	    (hi == 0 && lo == 0))
		return -1;
	*out = (uint16_t)(hi << 8 | lo);
	return 0;
}

static int config_set(struct station_config *c, const char *sec, const char *key, const char *v)
{
#define IS(s, k) (strcmp(sec, s) == 0 && strcmp(key, k) == 0)
	if (IS("kms", "url"))
		return strncmp(v, "https://", 8) != 0
			       ? -1
			       : config_str(v, c->kms_url, sizeof(c->kms_url));
	if (IS("kms", "ca"))
		return config_str(v, c->kms_ca, sizeof(c->kms_ca));
	if (IS("kms", "cert"))
		return config_str(v, c->tls_cert, sizeof(c->tls_cert));
	if (IS("kms", "key"))
		return config_str(v, c->tls_key, sizeof(c->tls_key));
	if (IS("kms", "record_keys"))
		return v[0] ? config_str(v, c->record_keys, sizeof(c->record_keys)) : -1;
	if (IS("kms", "timeout"))
		return config_uint(v, 1, 600, &c->kms_timeout_s);
	if (IS("kms", "retries"))
		return config_uint(v, 0, 10, &c->kms_retries);
	if (IS("station", "name"))
		return lpa_name_valid(v, LPA_NAME_MAX) ? config_str(v, c->name, sizeof(c->name))
						       : -1;
	if (IS("station", "state_dir"))
		return config_str(v, c->state_dir, sizeof(c->state_dir));
	if (IS("station", "backend")) {
		if (!strcmp(v, "cmsis-dap"))
			c->backend = PROG_BACKEND_CMSIS_DAP;
		else if (!strcmp(v, "openocd"))
			c->backend = PROG_BACKEND_OPENOCD;
		else
			return -1;
		return 0;
	}
	if (IS("station", "openocd"))
		return config_str(v, c->openocd, sizeof(c->openocd));
	if (IS("station", "openocd_adapter"))
		return config_str(v, c->openocd_adapter, sizeof(c->openocd_adapter));
	if (IS("station", "clock_khz"))
		return config_uint(v, 10, 50000, &c->clock_khz);
	if (IS("provision", "lot"))
		return lpa_name_valid(v, LPA_NAME_MAX) ? config_str(v, c->lot, sizeof(c->lot)) : -1;
	if (IS("provision", "join_eui")) {
		if (lpa_eui_parse(v, &c->join_eui) != LPA_OK)
			return -1;
		c->have_join_eui = true;
		return 0;
	}
	if (IS("provision", "lorawan")) {
		if (strcmp(v, "1.0.4") != 0 && strcmp(v, "1.1") != 0)
			return -1;
		return config_str(v, c->lorawan, sizeof(c->lorawan));
	}
	if (IS("provision", "allow_protection"))
		return config_protection(v, &c->allowed_protection);
	if (IS("provision", "reprovision"))
		return config_bool(v, &c->reprovision);
	if (IS("agent", "image"))
		return v[0] ? config_str(v, c->agent_image, sizeof(c->agent_image)) : -1;
	if (IS("agent", "sha256")) {
		if (strlen(v) != 64 || lpa_hex_decode(v, 64, c->agent_sha256, 32) != LPA_OK)
			return -1;
		c->have_agent_sha256 = true;
		return 0;
	}
	if (IS("agent", "version"))
		return config_agent_version(v, &c->agent_version);
#undef IS
	return 1; /* unknown key */
}

/* What each key takes, for the error that refuses a value (and the unknown-key hint). */
static const struct {
	const char *sec, *key, *expect;
} config_keys[] = {
	{"kms", "url", "an https:// URL of the KMS"},
	{"kms", "ca", "the path of the KMS CA certificate (PEM)"},
	{"kms", "cert", "the path of this station's certificate (PEM)"},
	{"kms", "key", "the path of this station's private key (PEM)"},
	{"kms", "record_keys",
	 "the path of the KMS's record keys (JWKS, lpa-kms admin export-keys)"},
	{"kms", "timeout", "seconds per request, 1..600"},
	{"kms", "retries", "retries of an idempotent call, 0..10"},
	{"station", "name", "1..64 of A-Z a-z 0-9 . _ -"},
	{"station", "state_dir", "the directory of the journal and the manifests"},
	{"station", "backend", "cmsis-dap or openocd"},
	{"station", "openocd", "the path of the openocd program"},
	{"station", "openocd_adapter", "an OpenOCD adapter driver name"},
	{"station", "clock_khz", "the SWD clock in kHz, 10..50000"},
	{"provision", "lot", "1..64 of A-Z a-z 0-9 . _ -"},
	{"provision", "join_eui", "16 hex digits"},
	{"provision", "lorawan", "1.0.4 or 1.1"},
	{"provision", "allow_protection", "a comma list of virgin, normal, secure, dead"},
	{"provision", "reprovision", "true or false"},
	{"agent", "image", "the path of the secure-agent image (.hex or .bin)"},
	{"agent", "sha256", "64 hex digits: the image's SHA-256 (lpa-station agent info)"},
	{"agent", "version", "MAJOR.MINOR, the image's agent protocol version (agent info)"},
};

static const char *config_expected(const char *sec, const char *key)
{
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++)
		if (strcmp(config_keys[i].sec, sec) == 0 && strcmp(config_keys[i].key, key) == 0)
			return config_keys[i].expect;
	return "?";
}

/* The key of section sec a typo away from key, or NULL. */
static const char *config_suggest(const char *sec, const char *key)
{
	const char *names[sizeof(config_keys) / sizeof(config_keys[0])];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++)
		if (strcmp(config_keys[i].sec, sec) == 0)
			names[n++] = config_keys[i].key;
	return lpa_suggest(key, names, n);
}

static char *config_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int config_parse(const char *text, size_t len, struct station_config *c, char *err, size_t err_len)
{
	char sec[32] = "", line[1024];
	unsigned lineno = 0;
	size_t off = 0;

	err[0] = '\0';
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		char *l, *eq;
		int r;

		lineno++;
		if (n >= sizeof(line))
			return config_err(err, err_len, lineno, LPA_ERR_ENCODING, "line too long");
		memcpy(line, text + off, n);
		line[n] = '\0';
		off += n + (nl ? 1 : 0);
		if (memchr(line, '\0', n) != NULL)
			return config_err(err, err_len, lineno, LPA_ERR_ENCODING, "NUL byte");
		l = config_trim(line);
		if (*l == '\0' || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			char *end = strchr(l, ']');

			if (end == NULL || end[1] != '\0')
				return config_err(err, err_len, lineno, LPA_ERR_ENCODING,
						  "malformed section header");
			*end = '\0';
			l = config_trim(l + 1);
			if (strcmp(l, "kms") && strcmp(l, "station") && strcmp(l, "provision") &&
			    strcmp(l, "agent"))
				return config_err(err, err_len, lineno, LPA_ERR_NOT_FOUND,
						  "unknown section [%s]", l);
			snprintf(sec, sizeof(sec), "%s", l);
			continue;
		}
		if ((eq = strchr(l, '=')) == NULL)
			return config_err(err, err_len, lineno, LPA_ERR_ENCODING,
					  "expected key = value");
		if (sec[0] == '\0')
			return config_err(err, err_len, lineno, LPA_ERR_ENCODING,
					  "key outside a section");
		*eq = '\0';
		char *key = config_trim(l), *val = config_trim(eq + 1);
		const char *hint;

		r = config_set(c, sec, key, val);
		if (r > 0 && (hint = config_suggest(sec, key)) != NULL)
			return config_err(err, err_len, lineno, LPA_ERR_NOT_FOUND,
					  "unknown key '%.40s' in [%s]; did you mean '%s'?", key,
					  sec, hint);
		if (r > 0)
			return config_err(err, err_len, lineno, LPA_ERR_NOT_FOUND,
					  "unknown key '%.40s' in [%s]", key, sec);
		if (r < 0)
			return config_err(err, err_len, lineno, LPA_ERR_INVAL,
					  "bad value '%.60s' for '%s' in [%s]: expected %s", val,
					  key, sec, config_expected(sec, key));
	}
	/* An image the station would program without knowing what it must be: no. */
	if (c->agent_image[0] != '\0' && (!c->have_agent_sha256 || c->agent_version == 0)) {
		snprintf(err, err_len, "[agent]: image needs its sha256 and version");
		return LPA_ERR_INVAL;
	}
	if (c->agent_image[0] == '\0' && (c->have_agent_sha256 || c->agent_version != 0)) {
		snprintf(err, err_len, "[agent]: sha256 or version without an image");
		return LPA_ERR_INVAL;
	}
	return LPA_OK;
}

int config_load(const char *path, struct station_config *c, bool *missing, char *err,
		size_t err_len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int r;

	*missing = false;
	if (f == NULL) {
		*missing = errno == ENOENT;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return LPA_ERR_NOT_FOUND;
	}
	if ((buf = malloc(CONFIG_MAX_FILE + 1)) == NULL) {
		fclose(f);
		return LPA_ERR_NOMEM;
	}
	n = fread(buf, 1, CONFIG_MAX_FILE + 1, f);
	fclose(f);
	if (n > CONFIG_MAX_FILE) {
		free(buf);
		snprintf(err, err_len, "%s: larger than %d bytes", path, CONFIG_MAX_FILE);
		return LPA_ERR_LENGTH;
	}
	r = config_parse(buf, n, c, err, err_len);
	free(buf);
	if (r != LPA_OK) {
		char tmp[256];

		snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
		snprintf(err, err_len, "%s", tmp);
	}
	return r;
}
