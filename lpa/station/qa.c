/*
 * qa.c — `lpa-station verify`: QA asks a device to prove, without revealing them, that it
 * holds the root keys of its manifest record: the KMS issues a single-use challenge, the
 * chip answers with an LPP1 proof (key checks under AppKey and NwkKey, signed by its
 * DIK), and the KMS checks it against the keys it issued.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "config.h"
#include "kms-client.h"
#include "cli.h"
#include "station.h"

static const char qa_usage[] =
	"usage: lpa-station verify [--probe SERIAL] [--json] [--backend cmsis-dap|openocd]\n"
	"Proves that the chip on a probe holds the keys the KMS issued for it (QA role).\n";

int verify_main(int argc, char **argv)
{
	static const struct option opts[] = {{"probe", required_argument, NULL, 'p'},
					     {"json", no_argument, NULL, 'j'},
					     {"backend", required_argument, NULL, 'b'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct station_config cfg;
	struct prog_link_opts lo = {0};
	struct auth_session sess;
	struct lpa_agent_status st;
	struct lpa_lpi1 id;
	kms_client *kms = NULL;
	lpa_secbuf *token = NULL;
	prog_link *link = NULL;
	psoc6 *chip = NULL;
	uint8_t nonce[16], proof[LPA_LPP1_LEN];
	const char *step = "read the configuration", *serial = NULL;
	bool json = false, verified = false;
	uint32_t counter = 0;
	time_t expires = 0;
	char err[512] = "";
	int c, r;

	optind = 1;
	config_defaults(&cfg);
	while ((c = station_getopt(argc, argv, "hp:", opts)) != -1) {
		switch (c) {
		case 'p':
			serial = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'b':
			if (station_parse_backend(optarg, &lo.backend) != 0) {
				fprintf(stderr, "lpa-station: unknown backend '%s'\n", optarg);
				return STATION_EXIT_USAGE;
			}
			break;
		case 'h':
			printf("%s", qa_usage);
			return STATION_EXIT_OK;
		default:
			fprintf(stderr, "%s", qa_usage);
			return STATION_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s", qa_usage);
		return STATION_EXIT_USAGE;
	}
	if ((r = station_load_config(&cfg, NULL, true, err, sizeof(err))) != STATION_EXIT_OK ||
	    (r = station_key_private(cfg.tls_key, err, sizeof(err))) != STATION_EXIT_OK) {
		fprintf(stderr, "lpa-station: %s\n", err);
		return r;
	}
	step = "find the session (lpa-station login)";
	if ((r = auth_session_load(cfg.kms_url, &token, &sess)) != LPA_OK) {
		r = LPA_ERR_KMS_AUTH;
		goto fail;
	}
	lo.serial = serial;
	lo.openocd_path = cfg.openocd;
	lo.openocd_adapter = cfg.openocd_adapter;
	step = "open the probe";
	if ((r = prog_link_open(&lo, &link)) != LPA_OK)
		goto fail;
	step = "connect to the chip";
	if ((r = prog_link_connect(link, NULL)) != LPA_OK ||
	    (r = psoc6_attach(link, &chip)) != LPA_OK)
		goto fail;
	step = "read the identity";
	if ((r = psoc6_get_identity(chip, &id, NULL, 0, NULL)) != LPA_OK ||
	    (r = psoc6_get_status(chip, &st)) != LPA_OK)
		goto fail;
	step = "verify: the chip holds no keys";
	if (!st.provisioned) {
		r = LPA_ERR_AGENT_UNPROV;
		goto fail;
	}
	step = "reach the KMS";
	if ((r = kms_client_new(&cfg, &kms)) != LPA_OK)
		goto fail;
	step = "get a challenge from the KMS";
	if ((r = kms_challenge(kms, token, st.dev_eui, nonce, &expires)) != LPA_OK)
		goto fail;
	step = "get the chip's proof (PROVE)";
	if ((r = psoc6_prove(chip, st.dev_eui, nonce, proof)) != LPA_OK)
		goto fail;
	step = "have the KMS check the proof";
	r = kms_verify(kms, token, st.dev_eui, proof, &verified, &counter);
	if (r == LPA_ERR_KMS_REFUSED || r == LPA_ERR_KMS_RECEIPT)
		verified = false;
	else if (r != LPA_OK)
		goto fail;
	if (json)
		printf("{\"probe\":\"%s\",\"chip_uid\":\"%016llx\",\"dev_eui\":\"%016llx\","
		       "\"counter\":%u,\"verified\":%s}\n",
		       prog_link_serial(link), (unsigned long long)id.chip_uid,
		       (unsigned long long)st.dev_eui, st.counter, verified ? "true" : "false");
	else
		printf("chip %016llx  DevEUI %016llx  counter %u: %s\n",
		       (unsigned long long)id.chip_uid, (unsigned long long)st.dev_eui, st.counter,
		       verified ? "VERIFIED: holds the keys the KMS issued"
				: "NOT VERIFIED: the chip does not hold the issued keys");
	r = verified ? LPA_OK : LPA_ERR_KEYCHECK_APP;
	psoc6_detach(&chip);
	prog_link_close(&link);
	kms_client_free(&kms);
	lpa_secbuf_free(&token);
	return verified ? STATION_EXIT_OK : STATION_EXIT_AGENT;
fail : {
	const struct kms_error *ke = kms != NULL ? kms_client_error(kms) : NULL;

	fprintf(stderr, "lpa-station: cannot %s: %s%s%s\n", step, lpa_strerror(r),
		ke && ke->message[0] ? " — " : (link && prog_link_last_error(link)[0] ? " — " : ""),
		ke && ke->message[0] ? ke->message : (link ? prog_link_last_error(link) : ""));
}
	psoc6_detach(&chip);
	prog_link_close(&link);
	kms_client_free(&kms);
	lpa_secbuf_free(&token);
	return station_exit_for(r);
}
