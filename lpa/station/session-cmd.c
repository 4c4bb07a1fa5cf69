/*
 * session-cmd.c — `lpa-station login | logout | status`: the operator's KMS session.
 * The token lives in the kernel keyring under the KMS URL (auth/keyring.c), never in a
 * file; the password and TOTP code come from the terminal without echo, or from a file
 * descriptor for automation — never argv or the environment, which ps and /proc show.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "config.h"
#include "kms-client.h"
#include "cli.h"
#include "station.h"

/* ----------------------------------------------------------------- helpers */
/* The station config: the command's own --config FILE, else the global one, else the
 * default path, which may be absent (the defaults then name the usual /etc/lpa files). */
static int session_cmd_config(const char *path, struct station_config *cfg)
{
	char err[720];
	int rc = station_load_config(cfg, path, true, err, sizeof(err));

	if (rc != STATION_EXIT_OK)
		fprintf(stderr, "lpa-station: %s\n", err);
	return rc;
}

/* session_cmd_args's answer when the command is to go on: every STATION_EXIT_* is >= 0. */
enum { SESSION_CMD_GO_ON = -1 };

/* logout's and status's command lines: --config and --help for both, --json for status
 * alone (json NULL for logout, whose table has no --json, so that the word is refused by
 * name). One reader, so that the two cannot drift apart in --help, usage errors or where
 * the config comes from. Loads cfg and returns SESSION_CMD_GO_ON, or the exit code the
 * command returns at once (0 after --help). */
static int session_cmd_args(int argc, char **argv, const char *usage, bool *json,
			    struct station_config *cfg)
{
	static const struct option status_opts[] = {{"config", required_argument, NULL, 'c'},
						    {"json", no_argument, NULL, 'j'},
						    {"help", no_argument, NULL, 'h'},
						    {NULL, 0, NULL, 0}};
	static const struct option logout_opts[] = {{"config", required_argument, NULL, 'c'},
						    {"help", no_argument, NULL, 'h'},
						    {NULL, 0, NULL, 0}};
	const struct option *opts = json != NULL ? status_opts : logout_opts;
	const char *config_path = NULL;
	int c, rc;

	optind = 1;
	while ((c = station_getopt(argc, argv, "h", opts)) != -1) {
		if (c == 'h') {
			printf("%s", usage);
			return STATION_EXIT_OK;
		}
		if (c == 'c')
			config_path = optarg;
		else if (c == 'j') /* only in status_opts, so json is not NULL */
			*json = true;
		else
			goto usage;
	}
	if (optind != argc)
		goto usage;
	if ((rc = session_cmd_config(config_path, cfg)) != STATION_EXIT_OK)
		return rc;
	return SESSION_CMD_GO_ON;
usage:
	fprintf(stderr, "%s", usage);
	return STATION_EXIT_USAGE;
}

/* Files the TLS layer would otherwise report as a vague handshake failure. */
static int session_cmd_check_files(const struct station_config *cfg)
{
	const char *files[][2] = {{cfg->kms_ca, "KMS CA certificate ([kms] ca)"},
				  {cfg->tls_cert, "station certificate ([kms] cert)"},
				  {cfg->tls_key, "station key ([kms] key)"}};

	char why[1100];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (access(files[i][0], R_OK) != 0) {
			fprintf(stderr, "lpa-station: cannot read the %s %s\n", files[i][1],
				files[i][0]);
			return STATION_EXIT_STATE;
		}
	if (station_key_private(cfg->tls_key, why, sizeof(why)) != STATION_EXIT_OK) {
		fprintf(stderr, "lpa-station: %s\n", why);
		return STATION_EXIT_STATE;
	}
	return STATION_EXIT_OK;
}

static int session_cmd_client(const struct station_config *cfg, kms_client **kms)
{
	int rc, r;

	if ((rc = session_cmd_check_files(cfg)) != STATION_EXIT_OK)
		return rc;
	if ((r = kms_client_new(cfg, kms)) != LPA_OK) {
		fprintf(stderr, "lpa-station: cannot set up the KMS client for %s: %s\n",
			cfg->kms_url, lpa_strerror(r));
		return station_exit_for(r);
	}
	return STATION_EXIT_OK;
}

/* A JSON string: the URL and messages may hold quotes or backslashes. */
static void session_cmd_json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* "2026-11-22 15:13:15 UTC (in 7h59m)" */
static void session_cmd_expiry(time_t t, char *out, size_t cap)
{
	struct tm tm;
	char when[32] = "?";
	time_t now = time(NULL);
	long left = t > now ? (long)(t - now) : 0;

	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(out, cap, "%s (in %ldh%02ldm)", when, left / 3600, left / 60 % 60);
}

/* What the operator should do about a KMS refusal of login or of the session. */
static void session_cmd_report(const char *what, int r, const kms_client *kms)
{
	const struct kms_error *e = kms ? kms_client_error(kms) : NULL;
	const char *code = e ? e->code : "";

	if (r == LPA_ERR_KMS_UNREACHABLE)
		fprintf(stderr, "lpa-station: %s: %s\n", what, e ? e->message : "KMS unreachable");
	else if (strcmp(code, "login_failed") == 0)
		fprintf(stderr,
			"lpa-station: %s: login refused: wrong operator name, password or TOTP "
			"code (each code works once; wait for the next one)\n",
			what);
	else if (strcmp(code, "account_locked") == 0)
		fprintf(stderr,
			"lpa-station: %s: account locked after too many failed logins; an "
			"administrator must unlock it (lpa-kms admin unlock NAME)\n",
			what);
	else if (strcmp(code, "rate_limited") == 0)
		fprintf(stderr,
			"lpa-station: %s: too many login attempts this minute; wait a "
			"minute and try again\n",
			what);
	else if (strcmp(code, "token_expired") == 0)
		fprintf(stderr, "lpa-station: %s: the session expired; log in again\n", what);
	else if (e != NULL && e->status != 0)
		fprintf(stderr, "lpa-station: %s: %s (HTTP %ld %s): %s\n", what, lpa_strerror(r),
			e->status, e->code[0] ? e->code : "-", e->message);
	else
		fprintf(stderr, "lpa-station: %s: %s%s%s\n", what, lpa_strerror(r),
			e && e->message[0] ? ": " : "", e ? e->message : "");
}

/* ------------------------------------------------------------------- login */
static const char login_usage[] =
	"usage: lpa-station login --operator NAME [--config FILE] [--password-fd N]\n"
	"                         [--totp-fd N] [--ttl SECONDS]\n"
	"Opens a KMS session: the password and the current TOTP code are read without echo\n"
	"from the terminal, or one line each from descriptor N (the same N may carry both,\n"
	"password first). The session token is kept in the kernel keyring, not in a file.\n";

static int session_cmd_fd(const char *s, int *fd)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0 || v > 1023)
		return -1;
	*fd = (int)v;
	return 0;
}

int login_main(int argc, char **argv)
{
	static const struct option opts[] = {{"operator", required_argument, NULL, 'o'},
					     {"config", required_argument, NULL, 'c'},
					     {"password-fd", required_argument, NULL, 'p'},
					     {"totp-fd", required_argument, NULL, 't'},
					     {"ttl", required_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *config_path = NULL, *operator_name = NULL;
	struct station_config cfg;
	struct kms_session_info info;
	struct auth_session s;
	lpa_secbuf *password = NULL, *totp = NULL, *token = NULL;
	kms_client *kms = NULL;
	int pw_fd = -1, totp_fd = -1, c, r, rc;
	unsigned long ttl = 0;
	char *end, expiry[64];

	optind = 1;
	while ((c = station_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'o':
			operator_name = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'p':
		case 't':
			if (session_cmd_fd(optarg, c == 'p' ? &pw_fd : &totp_fd) != 0) {
				fprintf(stderr, "lpa-station: login: bad descriptor '%s'\n",
					optarg);
				return STATION_EXIT_USAGE;
			}
			break;
		case 'l':
			ttl = strtoul(optarg, &end, 10);
			if (optarg[0] < '1' || optarg[0] > '9' || *end != '\0' || ttl > 604800) {
				fprintf(stderr, "lpa-station: login: --ttl is 1..604800 seconds\n");
				return STATION_EXIT_USAGE;
			}
			break;
		case 'h':
			printf("%s", login_usage);
			return STATION_EXIT_OK;
		default:
			fprintf(stderr, "%s", login_usage);
			return STATION_EXIT_USAGE;
		}
	}
	if (optind != argc || operator_name == NULL || operator_name[0] == '\0' ||
	    strlen(operator_name) > 64) {
		fprintf(stderr, "%s", login_usage);
		return STATION_EXIT_USAGE;
	}
	if ((rc = session_cmd_config(config_path, &cfg)) != STATION_EXIT_OK)
		return rc;
	if ((rc = session_cmd_client(&cfg, &kms)) != STATION_EXIT_OK)
		return rc;
	if ((r = auth_secret_read("Password: ", pw_fd, AUTH_SECRET_MAX, &password)) != LPA_OK ||
	    (r = auth_secret_read("TOTP code: ", totp_fd, 8, &totp)) != LPA_OK) {
		fprintf(stderr, "lpa-station: login: cannot read the %s: %s%s\n",
			password ? "TOTP code" : "password", lpa_strerror(r),
			r == LPA_ERR_NOT_FOUND ? " (no terminal: use --password-fd/--totp-fd)"
					       : "");
		rc = STATION_EXIT_USAGE;
		goto fail;
	}
	r = kms_login(kms, operator_name, password, totp, (unsigned)ttl, &token, &info);
	lpa_secbuf_free(&password);
	lpa_secbuf_free(&totp);
	if (r != LPA_OK) {
		session_cmd_report("login", r, kms);
		rc = station_exit_for(r);
		goto fail;
	}
	memset(&s, 0, sizeof(s));
	memcpy(s.operator_name, info.operator_name, sizeof(s.operator_name));
	memcpy(s.roles, info.roles, sizeof(s.roles));
	s.expires_at = info.expires_at;
	if ((r = auth_session_store(cfg.kms_url, token, &s)) != LPA_OK) {
		/* A session nobody can use must not stay open at the KMS. */
		fprintf(stderr,
			"lpa-station: login: cannot keep the session in the kernel keyring (%s); "
			"closing it at the KMS\n",
			lpa_strerror(r));
		(void)kms_logout(kms, token);
		rc = STATION_EXIT_FAILURE;
		goto fail;
	}
	session_cmd_expiry(info.expires_at, expiry, sizeof(expiry));
	printf("logged in: operator %s, roles %s, station %s\nsession expires %s\n",
	       info.operator_name, info.roles, info.station, expiry);
	rc = STATION_EXIT_OK;
fail:
	lpa_secbuf_free(&password);
	lpa_secbuf_free(&totp);
	lpa_secbuf_free(&token);
	kms_client_free(&kms);
	return rc;
}

/* ------------------------------------------------------------------ logout */
static const char logout_usage[] =
	"usage: lpa-station logout [--config FILE]\n"
	"Ends the session at the KMS and removes it from the kernel keyring (also when the\n"
	"KMS cannot be reached: the session then ends at its expiry).\n";

int logout_main(int argc, char **argv)
{
	struct station_config cfg;
	struct auth_session s;
	lpa_secbuf *token = NULL;
	kms_client *kms = NULL;
	int r, rc;
	char expiry[64];

	if ((rc = session_cmd_args(argc, argv, logout_usage, NULL, &cfg)) != SESSION_CMD_GO_ON)
		return rc;
	if ((r = auth_session_load(cfg.kms_url, &token, &s)) == LPA_ERR_NOT_FOUND) {
		/* Logging out is a state to reach, not an action that can fail twice. */
		printf("not logged in\n");
		return STATION_EXIT_OK;
	}
	if (r != LPA_OK) {
		fprintf(stderr, "lpa-station: logout: cannot read the keyring: %s\n",
			lpa_strerror(r));
		(void)auth_session_drop(cfg.kms_url);
		return STATION_EXIT_FAILURE;
	}
	rc = session_cmd_client(&cfg, &kms);
	r = rc == STATION_EXIT_OK ? kms_logout(kms, token) : LPA_ERR_KMS_UNREACHABLE;
	lpa_secbuf_free(&token);
	/* Whatever the KMS said, this station forgets the token. */
	if (auth_session_drop(cfg.kms_url) != LPA_OK)
		fprintf(stderr, "lpa-station: logout: could not remove the keyring entry\n");
	session_cmd_expiry(s.expires_at, expiry, sizeof(expiry));
	if (r == LPA_OK) {
		printf("logged out: operator %s; session ended at the KMS and removed from the "
		       "keyring\n",
		       s.operator_name);
		rc = STATION_EXIT_OK;
	} else if (r == LPA_ERR_KMS_AUTH) {
		/* Already over at the KMS (expired, revoked, logged out elsewhere). */
		printf("logged out: operator %s; the KMS had already ended the session; removed "
		       "from the keyring\n",
		       s.operator_name);
		rc = STATION_EXIT_OK;
	} else {
		if (kms != NULL)
			session_cmd_report("logout", r, kms);
		fprintf(stderr,
			"lpa-station: logout: the session was NOT revoked at the KMS (it stays "
			"valid until %s) but was removed from this station's keyring\n",
			expiry);
		rc = rc != STATION_EXIT_OK ? rc : station_exit_for(r);
	}
	kms_client_free(&kms);
	return rc;
}

/* ------------------------------------------------------------------ status */
static const char status_usage[] =
	"usage: lpa-station status [--config FILE] [--json]\n"
	"The KMS session in the keyring (operator, roles, expiry) and whether the KMS\n"
	"answers. Exit 0 when logged in and the KMS answers, 9 when it does not, 10 when\n"
	"not logged in.\n";

int status_main(int argc, char **argv)
{
	struct station_config cfg;
	struct auth_session s;
	lpa_secbuf *token = NULL;
	kms_client *kms = NULL;
	char *jwks = NULL, expiry[64], reach[300];
	bool json = false, logged_in, reachable = false;
	int r, rc;

	if ((rc = session_cmd_args(argc, argv, status_usage, &json, &cfg)) != SESSION_CMD_GO_ON)
		return rc;
	r = auth_session_load(cfg.kms_url, &token, &s);
	lpa_secbuf_free(&token); /* status never sends it */
	logged_in = r == LPA_OK;
	if (r != LPA_OK && r != LPA_ERR_NOT_FOUND)
		fprintf(stderr, "lpa-station: status: cannot read the keyring: %s\n",
			lpa_strerror(r));

	rc = session_cmd_client(&cfg, &kms);
	if (rc == STATION_EXIT_OK) {
		r = kms_keys(kms, &jwks);
		reachable = r == LPA_OK;
		snprintf(reach, sizeof(reach), "%s",
			 reachable ? "reachable" : kms_client_error(kms)->message);
		if (!reachable && reach[0] == '\0')
			snprintf(reach, sizeof(reach), "%s", lpa_strerror(r));
	} else {
		snprintf(reach, sizeof(reach), "station credentials unreadable");
	}
	free(jwks);
	kms_client_free(&kms);

	if (json) {
		printf("{\"logged_in\":%s", logged_in ? "true" : "false");
		if (logged_in) {
			int first = 1;

			printf(",\"operator\":");
			session_cmd_json_str(s.operator_name);
			printf(",\"roles\":[");
			for (char *tok = strtok(s.roles, ","); tok; tok = strtok(NULL, ",")) {
				printf("%s", first ? "" : ",");
				session_cmd_json_str(tok);
				first = 0;
			}
			printf("],\"expires_at\":%lld", (long long)s.expires_at);
		}
		printf(",\"kms\":{\"url\":");
		session_cmd_json_str(cfg.kms_url);
		printf(",\"reachable\":%s", reachable ? "true" : "false");
		if (!reachable) {
			printf(",\"error\":");
			session_cmd_json_str(reach);
		}
		printf("}}\n");
	} else {
		if (logged_in) {
			session_cmd_expiry(s.expires_at, expiry, sizeof(expiry));
			printf("operator: %s\nroles:    %s\nexpires:  %s\n", s.operator_name,
			       s.roles, expiry);
		} else {
			printf("not logged in\n");
		}
		printf("kms:      %s %s\n", cfg.kms_url, reachable ? "reachable" : "UNREACHABLE");
		if (!reachable)
			printf("          %s\n", reach);
	}
	/* Unreachable first: logging in cannot help until the KMS answers. */
	if (rc != STATION_EXIT_OK)
		return rc;
	if (!reachable)
		return STATION_EXIT_KMS_UNREACHABLE;
	return logged_in ? STATION_EXIT_OK : STATION_EXIT_AUTH;
}
