/*
 * manifest-cmd.c — `lpa-station manifest verify`: QA's check of a lot manifest, offline,
 * and with --kms against the KMS's own records of the lot.
 *
 * Why --kms: a prefix of a good manifest that ends at a trailer is itself a good
 * manifest (every trailer signs the chain up to it), so a file cut back to an earlier
 * trailer cannot be told from the file alone. The KMS holds every record it confirmed
 * for the lot (GET /v1/lots/{lot}/records): the file must hold exactly those of its
 * station, byte for byte.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/auth.h"
#include "config.h"
#include "kms-client.h"
#include "manifest.h"
#include "cli.h"
#include "station.h"

static const char manifest_usage[] =
	"usage: lpa-station manifest verify FILE --kms-keys KEYS.json\n"
	"                  (--station-cert PEM [--station-cert PEM...] | --unpinned)\n"
	"                  [--kms] [--json]\n"
	"Checks every record signature against the pinned KMS keys, the hash chain, that no\n"
	"DevEUI or chip UID appears twice, and each trailer's count, head and signature by\n"
	"the pinned station key (--unpinned: any key, reported). --kms also asks the KMS\n"
	"(station.conf, a session with the qa role) for the lot's records: the file must\n"
	"hold exactly those of its station, so a manifest cut back to an earlier trailer\n"
	"fails.\n";

/* A PEM certificate or public key: the station key QA pins. */
static int manifest_load_station(const char *path, EVP_PKEY **key)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	*key = NULL;
	if (f == NULL)
		return LPA_ERR_NOT_FOUND;
	if ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		*key = X509_get_pubkey(x);
		X509_free(x);
	} else {
		rewind(f);
		*key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	}
	fclose(f);
	return *key != NULL ? LPA_OK : LPA_ERR_KEY;
}

/* One record, by the SHA-256 of its JWS: the file's and the KMS's are compared as sets. */
struct manifest_seen {
	uint8_t h[32];
	size_t line; /* in the file; 0 for the KMS's */
	unsigned lot;
	uint64_t dev_eui;
	uint32_t counter;
};

struct manifest_kms {
	struct manifest_seen *file;
	size_t n_file, cap;
	char lots[32][LPA_NAME_MAX + 1];
	unsigned n_lots;
};

static unsigned manifest_kms_lot(struct manifest_kms *k, const char *lot)
{
	for (unsigned i = 0; i < k->n_lots; i++)
		if (strcmp(k->lots[i], lot) == 0)
			return i;
	if (k->n_lots == 32)
		return 32;
	strcpy(k->lots[k->n_lots], lot);
	return k->n_lots++;
}

static int manifest_on_record(void *ctx, size_t line, const char *jws,
			      const struct manifest_record *rec)
{
	struct manifest_kms *k = ctx;
	struct manifest_seen *s;

	if (k->n_file == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 256;

		if ((s = realloc(k->file, cap * sizeof(*s))) == NULL)
			return LPA_ERR_NOMEM;
		k->file = s;
		k->cap = cap;
	}
	s = &k->file[k->n_file++];
	lpa_sha256(jws, strlen(jws), s->h);
	s->line = line;
	s->lot = manifest_kms_lot(k, rec->lot);
	s->dev_eui = rec->dev_eui;
	s->counter = rec->counter;
	return LPA_OK;
}

static int manifest_seen_cmp(const void *a, const void *b)
{
	return memcmp(((const struct manifest_seen *)a)->h, ((const struct manifest_seen *)b)->h,
		      32);
}

/* What the comparison found, for the report. */
struct manifest_kms_result {
	size_t kms_records; /* the KMS's records of the lots, from this station */
	size_t missing;     /* at the KMS, not in the file */
	size_t unknown;     /* in the file, not at the KMS */
};

/*
 * Compares the file's records with the KMS's records of each of its lots that name the
 * file's station. LPA_ERR_MISMATCH with rep->error/bad_line naming the first difference;
 * KMS errors as kms-client.h maps them, with *why.
 */
static int manifest_compare_kms(struct manifest_kms *k, const struct manifest_keys *keys,
				struct manifest_report *rep, struct manifest_kms_result *res,
				char *why, size_t why_len)
{
	struct station_config cfg;
	struct auth_session sess;
	struct kms_lot_records lr = {0};
	struct manifest_seen *at = NULL;
	size_t n_at = 0;
	lpa_secbuf *token = NULL;
	kms_client *c = NULL;
	char err[256];
	int r;

	memset(res, 0, sizeof(*res));
	if (station_load_config(&cfg, NULL, true, why, why_len) != STATION_EXIT_OK)
		return LPA_ERR_INVAL;
	if (station_key_private(cfg.tls_key, why, why_len) != STATION_EXIT_OK)
		return LPA_ERR_KEY;
	if (auth_session_load(cfg.kms_url, &token, &sess) != LPA_OK) {
		snprintf(why, why_len, "--kms needs a session with the qa role: lpa-station login");
		return LPA_ERR_KMS_AUTH;
	}
	if ((r = kms_client_new(&cfg, &c)) != LPA_OK) {
		snprintf(why, why_len, "cannot set up the KMS client: %s", lpa_strerror(r));
		goto out;
	}
	for (unsigned l = 0; l < k->n_lots; l++) {
		if ((r = kms_lot_records(c, token, k->lots[l], &lr)) != LPA_OK) {
			snprintf(why, why_len, "KMS records of lot %s: %s: %.200s", k->lots[l],
				 lpa_strerror(r), kms_client_error(c)->message);
			goto out;
		}
		for (size_t i = 0; i < lr.n; i++) {
			struct manifest_record rec;
			struct manifest_seen *s;

			/* The KMS's records are held to the pinned keys too, and only this
			 * station's belong in this file. */
			if ((r = manifest_record_verify(keys, lr.v[i].record, &rec, err,
							sizeof(err))) != LPA_OK) {
				snprintf(why, why_len, "KMS record of DevEUI %016llx: %s",
					 (unsigned long long)lr.v[i].dev_eui, err);
				r = LPA_ERR_KMS_RECORD;
				goto out;
			}
			if (strcmp(rec.station, rep->station) != 0)
				continue;
			if ((s = realloc(at, (n_at + 1) * sizeof(*s))) == NULL) {
				r = LPA_ERR_NOMEM;
				goto out;
			}
			at = s;
			s = &at[n_at++];
			lpa_sha256(lr.v[i].record, strlen(lr.v[i].record), s->h);
			s->line = 0;
			s->lot = l;
			s->dev_eui = rec.dev_eui;
			s->counter = rec.counter;
		}
		kms_lot_records_free(&lr);
	}
	res->kms_records = n_at;
	qsort(at, n_at, sizeof(*at), manifest_seen_cmp);
	qsort(k->file, k->n_file, sizeof(*k->file), manifest_seen_cmp);
	{
		const struct manifest_seen *first_missing = NULL, *first_unknown = NULL;
		size_t i = 0, j = 0;

		while (i < n_at || j < k->n_file) {
			int d = i == n_at        ? 1
				: j == k->n_file ? -1
						 : memcmp(at[i].h, k->file[j].h, 32);

			if (d == 0) {
				i++;
				j++;
			} else if (d < 0) {
				if (first_missing == NULL)
					first_missing = &at[i];
				res->missing++;
				i++;
			} else {
				if (first_unknown == NULL || k->file[j].line < first_unknown->line)
					first_unknown = &k->file[j];
				res->unknown++;
				j++;
			}
		}
		r = LPA_OK;
		if (first_unknown != NULL) {
			rep->bad_line = first_unknown->line;
			snprintf(rep->error, sizeof(rep->error),
				 "record of DevEUI %016llx (counter %u) is not among the KMS's "
				 "records of lot %s (%zu such in the file)",
				 (unsigned long long)first_unknown->dev_eui, first_unknown->counter,
				 k->lots[first_unknown->lot], res->unknown);
			r = LPA_ERR_MISMATCH;
		} else if (first_missing != NULL) {
			rep->bad_line = rep->lines;
			snprintf(rep->error, sizeof(rep->error),
				 "the KMS holds %zu record(s) of lot %s from station %s that the "
				 "file lacks (the file was cut or lost lines), e.g. DevEUI %016llx "
				 "counter %u",
				 res->missing, k->lots[first_missing->lot], rep->station,
				 (unsigned long long)first_missing->dev_eui,
				 first_missing->counter);
			r = LPA_ERR_MISMATCH;
		}
	}
out:
	kms_lot_records_free(&lr);
	free(at);
	kms_client_free(&c);
	lpa_secbuf_free(&token);
	return r;
}

/* Exit codes of the --kms comparison's failures (docs/lpa-station.md). */
static int manifest_exit_for_kms(int r)
{
	switch (r) {
	case LPA_ERR_INVAL:
		return STATION_EXIT_USAGE;
	case LPA_ERR_KMS_RECORD:
		return STATION_EXIT_MANIFEST;
	case LPA_ERR_KMS_AUTH:
		return STATION_EXIT_AUTH;
	case LPA_ERR_KMS_UNREACHABLE:
	case LPA_ERR_KMS_SERVER:
		return STATION_EXIT_KMS_UNREACHABLE;
	default:
		return STATION_EXIT_FAILURE;
	}
}

static void manifest_print_text(const struct manifest_report *rep, int r, bool kms,
				const struct manifest_kms_result *kr, bool unpinned)
{
	for (size_t i = 0; i < rep->n_lots; i++)
		printf("lot %-20s %6zu records  %3zu batches\n", rep->lots[i].lot,
		       rep->lots[i].records, rep->lots[i].trailers);
	printf("%zu lines, %zu records, %zu trailers\n", rep->lines, rep->records, rep->trailers);
	if (rep->trailers > 0)
		printf("trailers signed by station key sha256:%s (%s)\n", rep->trailer_key_sha256,
		       rep->trailer_key_pinned ? "pinned"
		       : unpinned              ? "NOT pinned (--unpinned): any key would pass"
					       : "not pinned");
	if (kms)
		printf("KMS: %zu record(s) of station %s; %zu missing from the file, %zu unknown "
		       "to the KMS\n",
		       kr->kms_records, rep->station[0] ? rep->station : "?", kr->missing,
		       kr->unknown);
	else
		printf("not compared with the KMS (--kms): a file cut back to an earlier trailer "
		       "would pass\n");
	if (r == LPA_OK)
		printf("manifest OK\n");
	else
		printf("manifest FAILED at line %zu: %s\n", rep->bad_line, rep->error);
}

int manifest_main(int argc, char **argv)
{
	static const struct option opts[] = {{"kms-keys", required_argument, NULL, 'k'},
					     {"station-cert", required_argument, NULL, 's'},
					     {"unpinned", no_argument, NULL, 'u'},
					     {"kms", no_argument, NULL, 'K'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *keys_path = NULL, *station_paths[MANIFEST_MAX_KEYS];
	struct manifest_keys keys = {0};
	struct manifest_report rep;
	struct manifest_kms kc = {0};
	struct manifest_kms_result kr = {0};
	size_t n_station = 0;
	bool json = false, unpinned = false, kms = false;
	char err[512] = "", *out = NULL;
	int c, r, rc = STATION_EXIT_USAGE;
	FILE *f;

	optind = 1;
	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;

		fprintf(help ? stdout : stderr, "%s", manifest_usage);
		return help ? STATION_EXIT_OK : STATION_EXIT_USAGE;
	}
	argc--;
	argv++;
	while ((c = station_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'k':
			keys_path = optarg;
			break;
		case 's':
			if (n_station == MANIFEST_MAX_KEYS) {
				fprintf(stderr, "lpa-station: at most %d --station-cert\n",
					MANIFEST_MAX_KEYS);
				return STATION_EXIT_USAGE;
			}
			station_paths[n_station++] = optarg;
			break;
		case 'u':
			unpinned = true;
			break;
		case 'K':
			kms = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("%s", manifest_usage);
			return STATION_EXIT_OK;
		default:
			fprintf(stderr, "%s", manifest_usage);
			return STATION_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || keys_path == NULL) {
		fprintf(stderr, "%s", manifest_usage);
		return STATION_EXIT_USAGE;
	}
	/* Without a pinned station key anyone can re-sign reordered or foreign batches:
	 * that check is only skipped when asked for by name. */
	if (n_station == 0 && !unpinned) {
		fprintf(stderr, "lpa-station: give --station-cert PEM (the station's certificate) "
				"to pin the trailers' key, or --unpinned to accept any key\n");
		return STATION_EXIT_USAGE;
	}
	if (n_station > 0 && unpinned) {
		fprintf(stderr, "lpa-station: --unpinned contradicts --station-cert\n");
		return STATION_EXIT_USAGE;
	}
	if (manifest_keys_load_jwks(keys_path, &keys, err, sizeof(err)) != LPA_OK) {
		fprintf(stderr, "lpa-station: %s\n", err);
		return STATION_EXIT_USAGE;
	}
	for (size_t i = 0; i < n_station; i++, keys.n_station++)
		if (manifest_load_station(station_paths[i], &keys.station[i]) != LPA_OK) {
			fprintf(stderr, "lpa-station: %s: not a PEM certificate or public key\n",
				station_paths[i]);
			goto out;
		}
	if ((f = fopen(argv[optind], "r")) == NULL) {
		fprintf(stderr, "lpa-station: cannot open %s\n", argv[optind]);
		goto out;
	}
	r = manifest_verify_cb(f, &keys, kms ? manifest_on_record : NULL, &kc, &rep);
	fclose(f);
	if (r == LPA_OK && kms) {
		r = manifest_compare_kms(&kc, &keys, &rep, &kr, err, sizeof(err));
		if (r != LPA_OK && r != LPA_ERR_MISMATCH) {
			fprintf(stderr, "lpa-station: %s\n", err);
			rc = manifest_exit_for_kms(r);
			goto out;
		}
	}
	if (json) {
		json_t *jk = kms ? json_pack("{s:I,s:I,s:I}", "records", (json_int_t)kr.kms_records,
					     "missing", (json_int_t)kr.missing, "unknown",
					     (json_int_t)kr.unknown)
				 : NULL;

		out = manifest_report_json(argv[optind], r, &rep, jk);
		json_decref(jk);
		if (out == NULL) {
			fprintf(stderr, "lpa-station: out of memory\n");
			rc = STATION_EXIT_FAILURE;
			goto out;
		}
		printf("%s\n", out);
	} else {
		manifest_print_text(&rep, r, kms, &kr, unpinned);
	}
	rc = r == LPA_OK ? STATION_EXIT_OK : STATION_EXIT_MANIFEST;
out:
	free(out);
	free(kc.file);
	manifest_keys_free(&keys);
	return rc;
}
