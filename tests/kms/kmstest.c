/*
 * kmstest.c — the harness of kmstest.h. Everything is real: the lpa-kms binary, HTTPS
 * with client certificates over loopback, SQLite files on disk. Every wait is bounded.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kmstest.h"
#include "softhsm.h"

#define KT_PASSWORD "correct horse battery"

struct kt_env kt;

/* ------------------------------------------------------------- processes */
static void kt_wait_bounded(pid_t pid, int *status, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return;
		usleep(50 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	ck_abort_msg("lpa-kms did not finish within %d s", seconds);
}

/* kt_run with the arguments in args (NULL-terminated). */
static int kt_runv(int in_fd, int out_fd, char *out, size_t out_len, const char *const *args)
{
	const char *argv[32];
	int n = 0, p[2] = {-1, -1}, status = 0;
	pid_t pid;

	argv[n++] = kt.bin;
	while (n < 31 && (argv[n] = args[n - 1]) != NULL)
		n++;
	argv[n] = NULL;
	if (out)
		ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int a = in_fd >= 0 ? fcntl(in_fd, F_DUPFD, 20) : -1;
		int b = out_fd >= 0 ? fcntl(out_fd, F_DUPFD, 20) : -1;

		if (a >= 0)
			dup2(a, 3);
		if (b >= 0)
			dup2(b, 4);
		if (out) {
			dup2(p[1], 1);
			close(p[0]);
		}
		execv(kt.bin, (char *const *)argv);
		_exit(127);
	}
	if (out) {
		size_t got = 0;
		ssize_t k;

		close(p[1]);
		while (got + 1 < out_len && (k = read(p[0], out + got, out_len - 1 - got)) > 0)
			got += (size_t)k;
		out[got] = '\0';
		close(p[0]);
	}
	kt_wait_bounded(pid, &status, 60);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int kt_run(int in_fd, int out_fd, char *out, size_t out_len, ...)
{
	const char *args[32];
	size_t n = 0;
	va_list ap;

	va_start(ap, out_len);
	while (n < 31 && (args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	return kt_runv(in_fd, out_fd, out, out_len, args);
}

void kt_peer_add(const char *name, const char *kind, const char *net_id, const char *kek_label,
		 const char *lots, const char *join_euis)
{
	const char *args[24] = {"admin", "peer", "add", name, "--dir", kt.kms, "--kind", kind};
	size_t n = 8;
	char out[4096];

	if (net_id != NULL) {
		args[n++] = "--net-id";
		args[n++] = net_id;
	}
	args[n++] = "--kek-label";
	args[n++] = kek_label;
	args[n++] = "--lots";
	args[n++] = lots;
	if (join_euis != NULL) {
		args[n++] = "--join-euis";
		args[n++] = join_euis;
	}
	args[n++] = "--out";
	args[n++] = kt.certs;
	args[n] = NULL;
	ck_assert_int_eq(kt_runv(-1, -1, out, sizeof(out), args), 0);
}

/* ------------------------------------------------------------------ PKI */
static X509 *kt_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, X509 *issuer, const char *cn,
		     const char *serial_number, bool ca)
{
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	uint64_t serial;

	ck_assert_ptr_nonnull(c);
	lpa_random(&serial, sizeof(serial));
	ck_assert(X509_set_version(c, 2));
	ck_assert(ASN1_INTEGER_set_uint64(X509_get_serialNumber(c), serial >> 1));
	ck_assert(X509_gmtime_adj(X509_getm_notBefore(c), -3600));
	ck_assert(X509_time_adj_ex(X509_getm_notAfter(c), 365, 0, NULL));
	ck_assert(X509_set_pubkey(c, key));
	ck_assert(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
					     -1, -1, 0));
	if (serial_number)
		ck_assert(X509_NAME_add_entry_by_txt(name, "serialNumber", MBSTRING_ASC,
						     (const unsigned char *)serial_number, -1, -1,
						     0));
	ck_assert(X509_set_subject_name(c, name));
	ck_assert(X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name));
	X509V3_set_ctx(&ctx, issuer ? issuer : c, c, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
				  ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(c, ext, -1);
	X509_EXTENSION_free(ext);
	if (ca) {
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign");
		X509_add_ext(c, ext, -1);
		X509_EXTENSION_free(ext);
	}
	ck_assert(X509_sign(c, issuer_key, EVP_sha256()));
	X509_NAME_free(name);
	return c;
}

static void kt_write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	if (cert)
		ck_assert(PEM_write_X509(f, cert));
	if (key)
		ck_assert(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	fclose(f);
}

/* ------------------------------------------------------------ start/stop */
void kt_start(void)
{
	char path[1024], out[4096];
	const char *tmp = getenv("KT_TMP");
	EVP_PKEY *rogue_station = NULL;
	X509 *rogue_cert;

	if (kt.port)
		return; /* already running: one server serves every TCase */
	kt.bin = getenv("LPA_KMS");
	ck_assert_msg(kt.bin != NULL, "LPA_KMS must name the lpa-kms binary");
	if (tmp)
		mkdir(tmp, 0700);
	snprintf(kt.dir, sizeof(kt.dir), "%s/kms-test-XXXXXX", tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(kt.dir));
	snprintf(kt.kms, sizeof(kt.kms), "%s/kms", kt.dir);
	snprintf(kt.certs, sizeof(kt.certs), "%s/certs", kt.dir);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	/* The device-identity CA the KMS trusts, and one it does not. */
	ck_assert_int_eq(lpa_p256_generate(&kt.ca_key), LPA_OK);
	ck_assert_int_eq(lpa_p256_generate(&kt.rogue_ca_key), LPA_OK);
	kt.ca_cert = kt_cert(kt.ca_key, kt.ca_key, NULL, "test device-identity CA", NULL, true);
	kt.rogue_ca_cert = kt_cert(kt.rogue_ca_key, kt.rogue_ca_key, NULL, "rogue CA", NULL, true);
	snprintf(path, sizeof(path), "%s/device-ca.pem", kt.dir);
	kt_write_pem(path, kt.ca_cert, NULL);

	/* With KT_PG_CONNINFO (tests/kms/pg-server.sh), the database is PostgreSQL. */
	if ((kt.pg = getenv("KT_PG_CONNINFO")) != NULL) {
		FILE *f;

		ck_assert_int_eq(mkdir(kt.kms, 0700), 0);
		snprintf(path, sizeof(path), "%s/kms.conf", kt.kms);
		ck_assert_ptr_nonnull(f = fopen(path, "w"));
		fprintf(f, "# the test's private server (pg-server.sh)\npostgresql = %s\n", kt.pg);
		ck_assert_int_eq(fclose(f), 0);
	}
	snprintf(path, sizeof(path), "%s/device-ca.pem", kt.dir);
	/* KT_SOFTHSM (softhsm-token.sh): the same KMS with its keys in a SoftHSM2 token; every
	 * lpa-kms started from here on reads the PIN as the systemd credential pkcs11-pin. */
	if (getenv("KT_SOFTHSM")) {
		static const char *const labels[] = {"kt"};
		static struct softhsm hsm;
		char creds[700], cmd[2400];

		softhsm_start(&hsm, getenv("KT_SOFTHSM"), labels, 1);
		snprintf(creds, sizeof(creds), "%s/creds", kt.dir);
		ck_assert_int_eq(mkdir(creds, 0700), 0);
		snprintf(cmd, sizeof(cmd), "install -m 0400 '%s' '%s/pkcs11-pin'", hsm.pin, creds);
		ck_assert_int_eq(system(cmd), 0);
		setenv("CREDENTIALS_DIRECTORY", creds, 1);
		ck_assert_int_eq(
			kt_run(-1, -1, out, sizeof(out), "admin", "init", "--dir", kt.kms,
			       "--device-ca", path, "--argon2-t", kt.argon2_t ? kt.argon2_t : "1",
			       "--argon2-m", kt.argon2_m ? kt.argon2_m : "256", "--dev-eui-base",
			       "70b3d57ed0100000", "--keystore", "pkcs11", "--pkcs11-module",
			       hsm.module, "--pkcs11-token", "kt", NULL),
			0);
	} else {
		ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "init", "--dir", kt.kms,
					"--device-ca", path, "--argon2-t",
					kt.argon2_t ? kt.argon2_t : "1", "--argon2-m",
					kt.argon2_m ? kt.argon2_m : "256", "--dev-eui-base",
					"70b3d57ed0100000", NULL),
				 0);
	}
	for (unsigned i = 1; i <= (kt.stations ? kt.stations : 3); i++) {
		char name[16];

		snprintf(name, sizeof(name), "st%u", i);
		ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "add-station", name,
					"--dir", kt.kms, "--out", kt.certs, NULL),
				 0);
	}
	/* A client certificate from outside the station CA. */
	ck_assert_int_eq(lpa_p256_generate(&rogue_station), LPA_OK);
	rogue_cert = kt_cert(rogue_station, rogue_station, NULL, "rogue station", NULL, false);
	snprintf(path, sizeof(path), "%s/rogue.pem", kt.certs);
	kt_write_pem(path, rogue_cert, NULL);
	snprintf(path, sizeof(path), "%s/rogue.key", kt.certs);
	kt_write_pem(path, NULL, rogue_station);
	X509_free(rogue_cert);
	lpa_pkey_free(&rogue_station);

	kt.server_pid = kt_serve("serve", &kt.port);
}

int kt_serve(const char *tag, unsigned *port)
{
	char path[1024], port_file[1024];
	int pid;

	*port = 0;
	snprintf(port_file, sizeof(port_file), "%s/%s.port", kt.dir, tag);
	unlink(port_file);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		const char *argv[48] = {kt.bin,           "serve",  "--dir",           kt.kms,
					"--port",         "0",      "--port-file",     port_file,
					"--max-failures", "3",      "--rate-operator", "12",
					"--rate-station", "100000", "--challenge-ttl", "4",
					"--timeout",      "10"};
		int fd, n = 18;

		for (int i = 0; i < 16 && kt.serve_args[i]; i++)
			argv[n++] = kt.serve_args[i];
		argv[n] = NULL;
		snprintf(path, sizeof(path), "%s/%s.log", kt.dir, tag);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0)
			dup2(fd, 2);
		execv(kt.bin, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 300 && *port == 0; i++) {
		FILE *f = fopen(port_file, "r");

		if (f) {
			if (fscanf(f, "%u", port) != 1)
				*port = 0;
			fclose(f);
		}
		if (!*port)
			usleep(50 * 1000);
	}
	ck_assert_msg(*port != 0, "lpa-kms serve did not start within 15 s (see %s/%s.log)", kt.dir,
		      tag);
	return pid;
}

int kt_check(const char *suite, const struct kt_case *cases, size_t n, void (*setup)(void),
	     double timeout, bool nofork)
{
	Suite *s = suite_create(suite);
	TCase *tc = NULL;
	SRunner *sr;
	int failed;

	for (size_t i = 0; i < n; i++) {
		if (tc == NULL || strcmp(cases[i].tcase, cases[i - 1].tcase) != 0) {
			tc = tcase_create(cases[i].tcase);
			tcase_add_unchecked_fixture(tc, setup, NULL);
			tcase_set_timeout(tc, timeout);
			suite_add_tcase(s, tc);
		}
		tcase_add_test(tc, cases[i].test);
	}
	sr = srunner_create(s);
	if (nofork)
		srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}

int kt_main(const char *suite, const struct kt_case *cases, size_t n, void (*setup)(void),
	    double timeout, bool nofork)
{
	int failed = kt_check(suite, cases, n, setup, timeout, nofork);

	failed += kt_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

int kt_stop(void)
{
	int status = 0, bad = 0;

	if (kt.server_pid > 0) {
		kill(kt.server_pid, SIGTERM);
		for (int i = 0; i < 200; i++) {
			if (waitpid(kt.server_pid, &status, WNOHANG) == kt.server_pid) {
				kt.server_pid = 0;
				bad = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
				break;
			}
			usleep(50 * 1000);
		}
		if (kt.server_pid > 0) {
			kill(kt.server_pid, SIGKILL);
			waitpid(kt.server_pid, &status, 0);
			bad = 1;
		}
	}
	if (bad) {
		char cmd[1200];

		fprintf(stderr,
			"kmstest: lpa-kms serve did not stop cleanly (status %#x); its log:\n",
			status);
		snprintf(cmd, sizeof(cmd), "cat '%s/serve.log' >&2", kt.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "kmstest: (no log)\n");
	}
	curl_global_cleanup();
	lpa_pkey_free(&kt.ca_key);
	lpa_pkey_free(&kt.rogue_ca_key);
	X509_free(kt.ca_cert);
	X509_free(kt.rogue_ca_cert);
	if (!getenv("KT_KEEP")) {
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", kt.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "kmstest: could not remove %s\n", kt.dir);
	}
	return bad;
}

/* ------------------------------------------------------------- operators */
size_t kt_base32_decode(const char *s, uint8_t *out, size_t cap)
{
	unsigned buf = 0, bits = 0;
	size_t n = 0;

	for (; *s && *s != '\n'; s++) {
		const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
		const char *p = strchr(alpha, *s);

		ck_assert_msg(p != NULL, "bad base32 character %c", *s);
		buf = (buf << 5) | (unsigned)(p - alpha);
		bits += 5;
		if (bits >= 8) {
			ck_assert_uint_lt(n, cap);
			out[n++] = (uint8_t)(buf >> (bits - 8));
			bits -= 8;
		}
	}
	return n;
}

void kt_operator(struct kt_op *op, const char *prefix, const char *roles, const char *alg,
		 const char *extra_opt, const char *extra_val)
{
	static unsigned seq;
	int pw[2], totp[2], rc;
	char b32[256] = {0}, out[8192];
	ssize_t k;

	memset(op, 0, sizeof(*op));
	snprintf(op->name, sizeof(op->name), "%s-%d-%u", prefix, (int)getpid(), seq++);
	ck_assert_int_eq(pipe(pw), 0);
	ck_assert_int_eq(pipe(totp), 0);
	ck_assert_int_eq(write(pw[1], KT_PASSWORD "\n", strlen(KT_PASSWORD) + 1),
			 (ssize_t)strlen(KT_PASSWORD) + 1);
	close(pw[1]);
	rc = kt_run(pw[0], totp[1], out, sizeof(out), "admin", "add-operator", op->name, "--dir",
		    kt.kms, "--role", roles, "--password-fd", "3", "--totp-secret-fd", "4",
		    "--totp-alg", alg ? alg : "sha1", extra_opt ? extra_opt : "--lots",
		    extra_val ? extra_val : "*", NULL);
	close(pw[0]);
	close(totp[1]);
	ck_assert_int_eq(rc, 0);
	k = read(totp[0], b32, sizeof(b32) - 1);
	close(totp[0]);
	ck_assert_int_gt(k, 16);
	op->secret_len = kt_base32_decode(b32, op->secret, sizeof(op->secret));
	op->alg = alg && strcmp(alg, "sha256") == 0 ? LPA_TOTP_SHA256 : LPA_TOTP_SHA1;
	ck_assert_uint_eq(op->secret_len, op->alg == LPA_TOTP_SHA256 ? 32 : 20);
}

void kt_totp_settle(void)
{
	for (int i = 0; i < 80; i++) {
		time_t now = time(NULL);

		if (now % 30 >= 3 && now % 30 <= 26)
			return;
		usleep(100 * 1000);
	}
}

void kt_totp(const struct kt_op *op, int step_offset, char code[9])
{
	struct lpa_totp_params p;

	lpa_totp_params_default(&p);
	p.alg = op->alg;
	ck_assert_int_eq(lpa_totp_generate(&p, op->secret, op->secret_len,
					   time(NULL) + (time_t)step_offset * 30, code),
			 LPA_OK);
}

/* ------------------------------------------------------------------ HTTP */
static size_t kt_write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct kt_resp *r = ud;
	size_t n = size * nmemb, have = strlen(r->body);

	if (have + n >= sizeof(r->body))
		n = sizeof(r->body) - 1 - have;
	memcpy(r->body + have, data, n);
	r->body[have + n] = '\0';
	return size * nmemb;
}

void kt_http(const char *station, const char *method, const char *path, const char *token,
	     const char *content_type, const char *body, size_t body_len, struct kt_resp *r)
{
	static CURL *kept;
	static char kept_station[64];
	CURL *c;
	struct curl_slist *h = NULL;
	char url[512], cert[700], key[700], ca[700], hdr[256];
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	if (kt.reuse && kept && station && strcmp(kept_station, station) == 0) {
		c = kept; /* reset keeps the live connection */
		curl_easy_reset(c);
	} else {
		c = curl_easy_init();
	}
	ck_assert_ptr_nonnull(c);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", kt.port, path);
	snprintf(ca, sizeof(ca), "%s/kms-ca.pem", kt.certs);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (station) {
		snprintf(cert, sizeof(cert), "%s/%s.pem", kt.certs, station);
		snprintf(key, sizeof(key), "%s/%s.key", kt.certs, station);
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
	}
	snprintf(hdr, sizeof(hdr), "Content-Type: %s",
		 content_type ? content_type : "application/json");
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Expect:");
	if (token) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, kt_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		r->status = -1;
		snprintf(r->body, sizeof(r->body), "curl: %s", curl_easy_strerror(cc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		if (r->body[0])
			r->json = json_loads(r->body, 0, NULL);
	}
	curl_slist_free_all(h);
	if (kt.reuse && station) {
		if (kept && kept != c)
			curl_easy_cleanup(kept);
		kept = c;
		snprintf(kept_station, sizeof(kept_station), "%s", station);
	} else {
		curl_easy_cleanup(c);
	}
}

void kt_resp_free(struct kt_resp *r)
{
	json_decref(r->json);
	r->json = NULL;
}

const char *kt_error(const struct kt_resp *r)
{
	const char *e = json_string_value(json_object_get(r->json, "error"));

	return e ? e : "";
}

long kt_login(const struct kt_op *op, const char *station, const char *password, int offset,
	      char token[64], struct kt_resp *r)
{
	char code[9], body[512];

	kt_totp(op, offset, code);
	snprintf(body, sizeof(body), "{\"operator\":\"%s\",\"password\":\"%s\",\"totp\":\"%s\"}",
		 op->name, password ? password : KT_PASSWORD, code);
	kt_http(station, "POST", "/v1/sessions", NULL, NULL, body, strlen(body), r);
	if (r->status == 201 && token) {
		const char *t = json_string_value(json_object_get(r->json, "token"));

		ck_assert_ptr_nonnull(t);
		snprintf(token, 64, "%s", t);
	}
	return r->status;
}

void kt_login_ok(const struct kt_op *op, const char *station, char token[64])
{
	struct kt_resp r;

	kt_totp_settle();
	ck_assert_int_eq(kt_login(op, station, NULL, 0, token, &r), 201);
	kt_resp_free(&r);
}

/* ----------------------------------------------------------------- chips */
void kt_b64(const uint8_t *in, size_t len, char *out)
{
	lpa_b64url_encode(in, len, out);
}

uint64_t kt_hex64(const char *s)
{
	uint64_t v;

	ck_assert_int_eq(lpa_eui_parse(s, &v), LPA_OK);
	return v;
}

void kt_chip_new(struct kt_chip *c, bool rogue, uint64_t cert_uid_xor)
{
	struct lpa_lpi1 id;
	X509 *cert;
	unsigned char *der = NULL;
	char serial[17];
	int len;

	memset(c, 0, sizeof(*c));
	memset(&id, 0, sizeof(id));
	ck_assert_int_eq(lpa_p256_generate(&c->dik), LPA_OK);
	lpa_random(&c->uid, sizeof(c->uid));
	lpa_eui_format_upper(c->uid ^ cert_uid_xor, serial);
	cert = kt_cert(c->dik, rogue ? kt.rogue_ca_key : kt.ca_key,
		       rogue ? kt.rogue_ca_cert : kt.ca_cert, "test chip", serial, false);
	len = i2d_X509(cert, &der);
	ck_assert_int_gt(len, 0);
	ck_assert_int_le(len, LPA_LPI1_MAX_CERT);
	id.agent_version = 1;
	id.protection = LPA_PROT_NORMAL;
	id.chip_uid = c->uid;
	id.silicon_id = KT_SILICON_ID;
	ck_assert_int_eq(lpa_p256_public_bytes(c->dik, id.dik_pub), LPA_OK);
	id.cert_len = (uint16_t)len;
	memcpy(id.cert, der, (size_t)len);
	ck_assert_int_eq(lpa_lpi1_build(&id, c->lpi1, sizeof(c->lpi1), &c->lpi1_len), LPA_OK);
	OPENSSL_free(der);
	X509_free(cert);
}

void kt_chip_free(struct kt_chip *c)
{
	lpa_pkey_free(&c->dik);
	lpa_secbuf_free(&c->keys);
}

void kt_issue_body(const struct kt_chip *c, const char *lot, const char *lorawan,
		   uint32_t silicon_id, char *body, size_t cap)
{
	char b64[2048];

	kt_b64(c->lpi1, c->lpi1_len, b64);
	snprintf(body, cap,
		 "{\"lot\":\"%s\",\"join_eui\":\"" KT_JOIN_EUI "\",\"lorawan\":\"%s\","
		 "\"silicon_id\":\"%08x\",\"identity\":\"%s\"}",
		 lot, lorawan, (unsigned)silicon_id, b64);
}

long kt_issue(const char *station, const char *token, struct kt_chip *c, const char *lot,
	      const char *lorawan, uint32_t *counter, uint8_t pkg[LPA_LPK1_LEN], struct kt_resp *r)
{
	char body[2600];
	size_t n;

	kt_issue_body(c, lot, lorawan, KT_SILICON_ID, body, sizeof(body));
	kt_http(station, "POST", "/v1/devices/issue", token, NULL, body, strlen(body), r);
	if (r->status == 201) {
		const char *p = json_string_value(json_object_get(r->json, "package"));

		c->dev_eui = kt_hex64(json_string_value(json_object_get(r->json, "dev_eui")));
		*counter = (uint32_t)json_integer_value(json_object_get(r->json, "counter"));
		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(lpa_b64url_decode(p, strlen(p), pkg, LPA_LPK1_LEN, &n), LPA_OK);
		ck_assert_uint_eq(n, LPA_LPK1_LEN);
	}
	return r->status;
}

void kt_chip_install(struct kt_chip *c, const uint8_t pkg[LPA_LPK1_LEN],
		     uint8_t receipt[LPA_LPR1_LEN])
{
	EVP_PKEY *kms = kt_kms_key("package");
	struct lpa_lpk1_hdr hdr;
	struct lpa_lpr1 r;
	uint8_t h[32];

	lpa_secbuf_free(&c->keys);
	ck_assert_int_eq(lpa_lpk1_open(pkg, LPA_LPK1_LEN, kms, c->dik, c->uid, c->last_counter,
				       &hdr, &c->keys),
			 LPA_OK);
	c->last_counter = hdr.counter;
	c->lorawan = hdr.lorawan;
	memset(&r, 0, sizeof(r));
	r.dev_eui = hdr.dev_eui;
	r.chip_uid = c->uid;
	r.counter = hdr.counter;
	lpa_sha256(pkg, LPA_LPK1_LEN, h);
	memcpy(r.pkg_hash, h, sizeof(r.pkg_hash));
	ck_assert_int_eq(lpa_lpr1_build(&r, hdr.lorawan, c->keys, c->dik, receipt), LPA_OK);
	lpa_pkey_free(&kms);
}

long kt_challenge(const char *station, const char *token, uint64_t dev_eui, uint8_t nonce[16])
{
	struct kt_resp r;
	char path[128];
	const char *n;
	size_t len;
	long st;

	snprintf(path, sizeof(path), "/v1/devices/%016llx/challenge", (unsigned long long)dev_eui);
	kt_http(station, "POST", path, token, NULL, NULL, 0, &r);
	st = r.status;
	if (st == 201) {
		n = json_string_value(json_object_get(r.json, "nonce"));
		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(lpa_b64url_decode(n, strlen(n), nonce, 16, &len), LPA_OK);
		ck_assert_uint_eq(len, 16);
	}
	kt_resp_free(&r);
	return st;
}

long kt_verify(const char *station, const char *token, const struct kt_chip *chip,
	       const lpa_secbuf *keys, const uint8_t nonce[16], struct kt_resp *r)
{
	struct lpa_lpp1 p;
	uint8_t proof[LPA_LPP1_LEN];
	char path[128], body[256], b64[200];

	memset(&p, 0, sizeof(p));
	p.dev_eui = chip->dev_eui;
	p.chip_uid = chip->uid;
	memcpy(p.nonce, nonce, 16);
	ck_assert_int_eq(lpa_lpp1_build(&p, chip->lorawan, keys, chip->dik, proof), LPA_OK);
	kt_b64(proof, sizeof(proof), b64);
	snprintf(body, sizeof(body), "{\"proof\":\"%s\"}", b64);
	snprintf(path, sizeof(path), "/v1/devices/%016llx/verify",
		 (unsigned long long)chip->dev_eui);
	kt_http(station, "POST", path, token, NULL, body, strlen(body), r);
	return r->status;
}

long kt_confirm(const char *station, const char *token, uint64_t dev_eui, uint32_t counter,
		const uint8_t receipt[LPA_LPR1_LEN], struct kt_resp *r)
{
	char b64[256], body[512], path[128];

	kt_b64(receipt, LPA_LPR1_LEN, b64);
	snprintf(body, sizeof(body),
		 "{\"counter\":%u,\"receipt\":\"%s\",\"probe\":{\"serial\":\"KP3-TEST\","
		 "\"firmware\":\"2.5.0\"}}",
		 counter, b64);
	snprintf(path, sizeof(path), "/v1/devices/%016llx/confirm", (unsigned long long)dev_eui);
	kt_http(station, "POST", path, token, NULL, body, strlen(body), r);
	return r->status;
}

EVP_PKEY *kt_kms_key(const char *purpose)
{
	struct kt_resp r;
	EVP_PKEY *key = NULL;
	json_t *k;
	size_t i;

	kt_http("st1", "GET", "/v1/keys", NULL, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	json_array_foreach(json_object_get(r.json, "keys"), i, k)
	{
		const char *p = json_string_value(json_object_get(k, "purpose"));

		if (p && strcmp(p, purpose) == 0) {
			char *s = json_dumps(k, JSON_COMPACT);

			ck_assert_int_eq(lpa_jwk_to_p256(s, &key), LPA_OK);
			free(s);
		}
	}
	kt_resp_free(&r);
	ck_assert_ptr_nonnull(key);
	return key;
}
