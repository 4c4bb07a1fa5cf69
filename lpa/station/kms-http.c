/*
 * kms-http.c — the KMS client's transport on libcurl: the connection, the request, the
 * retries the API allows, and what a failure says (kms-client-private.h). It knows the
 * KMS only through struct kms_client_opts, nothing of the station's configuration.
 *
 * One easy handle per client, so every call after the first rides the same TLS
 * connection (a mutual-TLS handshake costs more than an issue). The KMS is pinned: only
 * its CA file is trusted, never the system store. Secrets (the login body, the bearer
 * token) come in lpa_secbufs; see kms_client_call for what libcurl itself copies.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "kms-client-private.h"

/* Connecting to a KMS on the factory LAN takes milliseconds; a dead one should fail the
 * connect long before the whole request's timeout. */
#define KMS_CONNECT_TIMEOUT_MAX 5L
/* The KMS closes connections idle for 30 s (serve --timeout); reusing one it is about
 * to close would race its FIN, so curl opens a fresh one after 20 s of silence. */
#define KMS_MAX_CONN_AGE 20L
struct kms_client {
	CURL *curl;
	char base[256]; /* kms_url without a trailing '/' */
	unsigned retries;
	struct kms_error err;
	uint64_t requests;
	uint64_t connects;
	uint8_t *body; /* reply buffer, KMS_REPLY_MAX + 1 bytes */
	char curl_err[CURL_ERROR_SIZE];
};
/*
 * Which calls may be sent again when the reply was lost (transport failure) or the KMS
 * failed (5xx). docs/kms-api.md makes these safe:
 *   keys      read-only;
 *   issue     the DevEUI is fixed per chip UID, and a repeated issue only supersedes the
 *             attempt whose reply was lost (the chip accepts only the newer counter);
 *   confirm   the byte-identical receipt returns the stored record;
 *   abandon   abandoning an abandoned attempt is 200 and keeps the first reason;
 *   challenge a lost reply leaves an unused nonce that expires on its own (several may be
 *             open at once), so asking again costs nothing;
 *   lot records read-only;
 *   enrol     the same LPE1 again returns the stored certificate.
 * Never: login (each success consumes a TOTP step: the retry would be refused as a
 * replay, or open a second session), logout (a repeat after a lost 204 is a 401 that
 * would hide the success), verify (the proof's challenge is consumed whatever the
 * outcome: a repeat would be refused as no_challenge).
 */
static const bool kms_call_retried[KMS_CALL_N] = {
	[KMS_CALL_KEYS] = true,    [KMS_CALL_ISSUE] = true,     [KMS_CALL_CONFIRM] = true,
	[KMS_CALL_ABANDON] = true, [KMS_CALL_CHALLENGE] = true, [KMS_CALL_LOT_RECORDS] = true,
	[KMS_CALL_ENROL] = true, /* the same LPE1 again gets the stored certificate */
};

/* Back-off before retry n (0-based): long enough for a KMS restart or a dropped
 * connection to clear, short enough that a dead KMS fails in under two seconds. */
static const unsigned kms_backoff_ms[] = {200, 500, 1000};

/* ------------------------------------------------------- jansson hygiene */
/*
 * The login reply carries the token, and jansson copies it into its own blocks (the
 * lexer's buffer and the string value). Wipe every jansson block on free, process-wide:
 * the allocator is global in jansson, and wiping blocks that held nothing secret costs
 * only the memset. Plain malloc underneath, so blocks allocated before the switch are
 * still freed correctly.
 */
static void *kms_json_malloc(size_t n)
{
	return malloc(n);
}

static void kms_json_free(void *p)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, malloc_usable_size(p));
		free(p);
	}
}

static pthread_once_t kms_once = PTHREAD_ONCE_INIT;
static CURLcode kms_global_rc;

static void kms_global_init(void)
{
	json_set_alloc_funcs(kms_json_malloc, kms_json_free);
	kms_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ------------------------------------------------------------------ HTTP */
static size_t kms_client_write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct kms_reply *b = ud;
	size_t n = size * nmemb;

	if (n > b->cap - b->len && b->grow_to > b->cap && n <= b->grow_to - b->len) {
		size_t cap = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n;
		uint8_t *p;

		cap = cap < b->grow_to ? cap : b->grow_to;
		if ((p = realloc(b->data, cap + 1)) != NULL) {
			b->data = p;
			b->cap = cap;
		}
	}
	if (n > b->cap - b->len) {
		b->overflow = true;
		return 0; /* curl aborts the transfer with CURLE_WRITE_ERROR */
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return n;
}

/* Transport failures that a second attempt cannot fix: our own configuration (files,
 * URL) or a KMS that is not the pinned one. */
static bool kms_client_transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		return false;
	default:
		return true;
	}
}

/* Only the token's own alphabet may go into the header: a token with CR/LF from a
 * tampered keyring entry would otherwise inject headers. */
static int kms_client_auth_header(const lpa_secbuf *token, lpa_secbuf **hdr)
{
	static const char prefix[] = "Authorization: Bearer ";
	const uint8_t *t = lpa_secbuf_cdata(token);
	size_t n = lpa_secbuf_len(token);
	uint8_t *p;

	*hdr = NULL;
	if (n == 0 || n > 512)
		return LPA_ERR_INVAL;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= '0' && t[i] <= '9') || t[i] == '-' || t[i] == '_'))
			return LPA_ERR_INVAL;
	if ((*hdr = lpa_secbuf_new(sizeof(prefix) + n)) == NULL)
		return LPA_ERR_NOMEM;
	p = lpa_secbuf_data(*hdr);
	memcpy(p, prefix, sizeof(prefix) - 1);
	memcpy(p + sizeof(prefix) - 1, t, n);
	p[sizeof(prefix) - 1 + n] = '\0';
	return LPA_OK;
}

static void kms_client_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * One attempt. LPA_OK with *status when the KMS answered (whatever it said); otherwise
 * LPA_ERR_KMS_UNREACHABLE (*transient says whether another attempt may help) or
 * LPA_ERR_KMS_PROTOCOL for a reply over the cap.
 */
static int kms_client_perform(kms_client *c, enum kms_call call, const char *method,
			      const char *url, struct curl_slist *headers, const char *body,
			      size_t body_len, struct kms_reply *out, long *status, bool *transient)
{
	CURLcode cc;
	long conns = 0;

	out->len = 0;
	out->overflow = false;
	c->curl_err[0] = '\0';
	*transient = false;
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	if (body != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
				 strcmp(method, "GET") != 0 ? method : NULL);
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, out);
	cc = curl_easy_perform(c->curl);
	/* curl keeps the pointers, not copies: drop them before the caller wipes them. */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	c->requests++;
	if (curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK && conns > 0)
		c->connects += (uint64_t)conns;
	if (cc == CURLE_WRITE_ERROR && out->overflow) {
		kms_error_set(&c->err, 0, "", "reply to %s is larger than %d bytes",
			      kms_call_names[call], (int)out->cap);
		return LPA_ERR_KMS_PROTOCOL;
	}
	if (cc != CURLE_OK) {
		*transient = kms_client_transient(cc);
		kms_error_set(&c->err, 0, "", "%s: %s", curl_easy_strerror(cc),
			      c->curl_err[0] ? c->curl_err : "no detail");
		return LPA_ERR_KMS_UNREACHABLE;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	return LPA_OK;
}

/*
 * A call, with the retries its kind allows. LPA_OK when the KMS answered want_status
 * (the body in out); otherwise the mapped error with c->err filled.
 *
 * Secrets: the token goes into the Authorization header from a secbuf through a
 * curl_slist node we own (curl_slist_append would strdup it into the ordinary heap), and
 * the login body is a secbuf too. libcurl still copies both into its request buffer
 * (headers, and bodies under 64 KiB, are sent in one write), which it frees without
 * wiping, and OpenSSL encrypts from there; that copy is short-lived and out of our
 * reach. Nothing here logs either (CURLOPT_VERBOSE stays off).
 */
int kms_client_call(kms_client *c, enum kms_call call, const char *method, const char *path,
		    const lpa_secbuf *token, const char *body, size_t body_len,
		    struct kms_reply *out, long want_status)
{
	char url[512], ct[] = "Content-Type: application/json",
		       accept[] = "Accept: application/json", expect[] = "Expect:";
	struct curl_slist nodes[4];
	lpa_secbuf *auth = NULL;
	unsigned attempts, n = 0;
	long status = 0;
	bool transient;
	int r;

	memset(&c->err, 0, sizeof(c->err));
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url))
		return LPA_ERR_INVAL;
	if (token != NULL && (r = kms_client_auth_header(token, &auth)) != LPA_OK) {
		kms_error_set(&c->err, 0, "", "the session token is malformed");
		return r;
	}
	if (auth != NULL)
		nodes[n++].data = (char *)lpa_secbuf_data(auth);
	if (body != NULL)
		nodes[n++].data = ct;
	nodes[n++].data = accept;
	nodes[n++].data = expect; /* no 100-continue round trip */
	for (unsigned i = 0; i < n; i++)
		nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;

	attempts = 1 + (kms_call_retried[call] ? c->retries : 0);
	for (unsigned a = 0;; a++) {
		r = kms_client_perform(c, call, method, url, nodes, body, body_len, out, &status,
				       &transient);
		if (r == LPA_OK && status >= 500 && status <= 599)
			transient = true;
		else if (r == LPA_OK)
			break;
		if (!transient || a + 1 >= attempts)
			break;
		kms_client_sleep_ms(kms_backoff_ms[a < 3 ? a : 2]);
	}
	lpa_secbuf_free(&auth);
	if (r == LPA_ERR_KMS_UNREACHABLE) {
		char detail[sizeof(c->err.message)];

		memcpy(detail, c->err.message, sizeof(detail));
		kms_error_set(&c->err, 0, "", "KMS unreachable (%s): %.180s", c->base, detail);
		return r;
	}
	if (r != LPA_OK)
		return r;
	c->err.status = status;
	if (status != want_status)
		return kms_parse_error(call, status, (const char *)out->data, out->len, &c->err);
	return LPA_OK;
}

/* ------------------------------------------------------------- the client */
int kms_client_open(const struct kms_client_opts *cfg, kms_client **out)
{
	kms_client *c;
	size_t n;
	long timeout, connect;
	int r = LPA_ERR_NOMEM;

	*out = NULL;
	if (strncmp(cfg->url, "https://", 8) != 0 || cfg->url[8] == '\0' || cfg->timeout_s == 0)
		return LPA_ERR_INVAL;
	pthread_once(&kms_once, kms_global_init);
	if (kms_global_rc != CURLE_OK)
		return LPA_ERR_SYSTEM;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return LPA_ERR_NOMEM;
	n = strlen(cfg->url);
	if (n >= sizeof(c->base)) {
		r = LPA_ERR_INVAL;
		goto fail;
	}
	memcpy(c->base, cfg->url, n + 1);
	while (n > 8 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	c->retries = cfg->retries;
	if ((c->body = malloc(KMS_REPLY_MAX + 1)) == NULL || (c->curl = curl_easy_init()) == NULL)
		goto fail;
	timeout = (long)cfg->timeout_s;
	connect = timeout < KMS_CONNECT_TIMEOUT_MAX ? timeout : KMS_CONNECT_TIMEOUT_MAX;
	r = LPA_ERR_INVAL;
	if (curl_easy_setopt(c->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3) ||
	    curl_easy_setopt(c->curl, CURLOPT_SSLCERT, cfg->cert) ||
	    curl_easy_setopt(c->curl, CURLOPT_SSLCERTTYPE, "PEM") ||
	    curl_easy_setopt(c->curl, CURLOPT_SSLKEY, cfg->key) ||
	    curl_easy_setopt(c->curl, CURLOPT_SSLKEYTYPE, "PEM") ||
	    curl_easy_setopt(c->curl, CURLOPT_CAINFO, cfg->ca) ||
	    /* Pinned: without this, a CA path compiled into libcurl (Debian's
	     * /etc/ssl/certs) would be trusted as well. */
	    curl_easy_setopt(c->curl, CURLOPT_CAPATH, NULL) ||
	    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L) ||
	    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L) ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https") ||
	    curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS_STR, "https") ||
#else
	    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS) ||
	    curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS) ||
#endif
	    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L) ||
	    /* The KMS is reached directly: an https_proxy in the operator's environment
	     * must not route station traffic elsewhere. */
	    curl_easy_setopt(c->curl, CURLOPT_PROXY, "") ||
	    curl_easy_setopt(c->curl, CURLOPT_NOPROXY, "*") ||
	    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, connect) ||
	    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, timeout) ||
	    /* Worker threads: no SIGALRM-based DNS timeouts. */
	    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(c->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) ||
	    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L) ||
	    curl_easy_setopt(c->curl, CURLOPT_MAXAGE_CONN, KMS_MAX_CONN_AGE) ||
	    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "lpa-station") ||
	    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_err) ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, kms_client_write_cb))
		goto fail;
	*out = c;
	return LPA_OK;
fail:
	kms_client_free(&c);
	return r;
}

void kms_client_free(kms_client **cp)
{
	kms_client *c = *cp;

	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	if (c->body != NULL) {
		OPENSSL_cleanse(c->body, KMS_REPLY_MAX + 1);
		free(c->body);
	}
	free(c);
	*cp = NULL;
}

const struct kms_error *kms_client_error(const kms_client *c)
{
	return &c->err;
}

void kms_client_counters(const kms_client *c, uint64_t *requests, uint64_t *connects)
{
	*requests = c->requests;
	*connects = c->connects;
}

struct kms_reply kms_client_reply(kms_client *c)
{
	struct kms_reply b = {.data = c->body, .cap = KMS_REPLY_MAX};

	return b;
}

struct kms_error *kms_client_err(kms_client *c)
{
	return &c->err;
}
