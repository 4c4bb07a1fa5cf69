/* manifest-cmd.c — `lpa-station manifest verify`: QA's offline check of a lot manifest. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "manifest.h"
#include "station.h"

static const char manifest_usage[] =
	"usage: lpa-station manifest verify FILE --kms-keys KEYS.json [--station-cert PEM] "
	"[--json]\n"
	"Checks every record signature against the pinned KMS keys, the hash chain, that no\n"
	"DevEUI or chip UID appears twice, and each trailer's count, head and signature.\n";

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

int manifest_main(int argc, char **argv)
{
	static const struct option opts[] = {{"kms-keys", required_argument, NULL, 'k'},
					     {"station-cert", required_argument, NULL, 's'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *keys_path = NULL, *station_path = NULL;
	struct manifest_keys keys = {0};
	struct manifest_report rep;
	bool json = false;
	char err[256];
	FILE *f;
	int c, r;

	optind = 1;
	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "%s", manifest_usage);
		return argc >= 2 && strcmp(argv[1], "--help") == 0 ? STATION_EXIT_OK
								   : STATION_EXIT_USAGE;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			keys_path = optarg;
			break;
		case 's':
			station_path = optarg;
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
	if ((r = manifest_keys_load_jwks(keys_path, &keys, err, sizeof(err))) != LPA_OK) {
		fprintf(stderr, "lpa-station: %s\n", err);
		return STATION_EXIT_USAGE;
	}
	if (station_path != NULL && manifest_load_station(station_path, &keys.station) != LPA_OK) {
		fprintf(stderr, "lpa-station: %s: not a PEM certificate or public key\n",
			station_path);
		manifest_keys_free(&keys);
		return STATION_EXIT_USAGE;
	}
	if ((f = fopen(argv[optind], "r")) == NULL) {
		fprintf(stderr, "lpa-station: cannot open %s\n", argv[optind]);
		manifest_keys_free(&keys);
		return STATION_EXIT_USAGE;
	}
	r = manifest_verify(f, &keys, &rep);
	fclose(f);
	manifest_keys_free(&keys);
	if (json) {
		printf("{\"file\":\"%s\",\"ok\":%s,\"lines\":%zu,\"records\":%zu,\"trailers\":%zu,"
		       "\"trailer_key_sha256\":\"%s\",\"trailer_key_pinned\":%s,\"lots\":[",
		       argv[optind], r == LPA_OK ? "true" : "false", rep.lines, rep.records,
		       rep.trailers, rep.trailer_key_sha256,
		       rep.trailer_key_pinned ? "true" : "false");
		for (size_t i = 0; i < rep.n_lots; i++)
			printf("%s{\"lot\":\"%s\",\"records\":%zu,\"trailers\":%zu}", i ? "," : "",
			       rep.lots[i].lot, rep.lots[i].records, rep.lots[i].trailers);
		printf("]");
		if (r != LPA_OK)
			printf(",\"line\":%zu,\"error\":\"%s\"", rep.bad_line, rep.error);
		printf("}\n");
	} else {
		for (size_t i = 0; i < rep.n_lots; i++)
			printf("lot %-20s %6zu records  %3zu batches\n", rep.lots[i].lot,
			       rep.lots[i].records, rep.lots[i].trailers);
		printf("%zu lines, %zu records, %zu trailers\n", rep.lines, rep.records,
		       rep.trailers);
		if (rep.trailers > 0)
			printf("trailers signed by station key sha256:%s (%s)\n",
			       rep.trailer_key_sha256,
			       rep.trailer_key_pinned ? "pinned"
						      : "NOT pinned: give --station-cert");
		if (r == LPA_OK)
			printf("manifest OK\n");
		else
			printf("manifest FAILED at line %zu: %s\n", rep.bad_line, rep.error);
	}
	return r == LPA_OK ? STATION_EXIT_OK : STATION_EXIT_MANIFEST;
}
