/*
 * probes.c — `lpa-station probes` and `lpa-station identify`: which probes are there,
 * what chip each one sees, and a chip's identity record. Read-only: nothing is written
 * to a chip but the agent's parameter block in its reserved SRAM.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "programmer/programmer.h"
#include "cli.h"
#include "station.h"

struct probes_opts {
	enum prog_backend backend;
	const char *serial;
	bool json;
};

static int probes_parse(int argc, char **argv, struct probes_opts *o, const char *usage)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"backend", required_argument, NULL, 'b'},
					     {"probe", required_argument, NULL, 'p'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = station_getopt(argc, argv, "hp:b:", opts)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'p':
			o->serial = optarg;
			break;
		case 'b':
			if (station_parse_backend(optarg, &o->backend) != 0) {
				fprintf(stderr,
					"lpa-station: unknown backend '%s' "
					"(cmsis-dap or openocd)\n",
					optarg);
				return STATION_EXIT_USAGE;
			}
			break;
		case 'h':
			printf("%s", usage);
			return -1;
		default:
			fprintf(stderr, "%s", usage);
			return STATION_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s", usage);
		return STATION_EXIT_USAGE;
	}
	return 0;
}

int station_parse_backend(const char *s, enum prog_backend *b)
{
	if (strcmp(s, "cmsis-dap") == 0)
		*b = PROG_BACKEND_CMSIS_DAP;
	else if (strcmp(s, "openocd") == 0)
		*b = PROG_BACKEND_OPENOCD;
	else
		return -1;
	return 0;
}

/* What one probe's chip looks like; *err is the reason when there is none. */
struct probes_chip {
	bool present;
	uint16_t family;
	uint32_t silicon_id;
	uint8_t protection;
	uint64_t uid;
	bool agent;
	struct lpa_agent_status status;
	int err;
	char detail[160];
};

static void probes_look(enum prog_backend backend, const char *serial, struct probes_chip *pc)
{
	struct prog_link_opts lo = {.backend = backend, .serial = serial};
	prog_link *link = NULL;
	psoc6 *chip = NULL;
	int r;

	memset(pc, 0, sizeof(*pc));
	if ((r = prog_link_open(&lo, &link)) != LPA_OK)
		goto fail;
	if ((r = prog_link_connect(link, NULL)) != LPA_OK)
		goto fail;
	pc->present = true;
	if ((r = psoc6_attach(link, &chip)) != LPA_OK)
		goto fail;
	pc->family = psoc6_get_family(chip)->id;
	if ((r = psoc6_silicon_id(chip, &pc->silicon_id, &pc->protection)) != LPA_OK ||
	    (r = psoc6_unique_id(chip, &pc->uid)) != LPA_OK)
		goto fail;
	if (psoc6_get_status(chip, &pc->status) == LPA_OK)
		pc->agent = true;
fail:
	pc->err = r;
	if (r != LPA_OK && link != NULL)
		snprintf(pc->detail, sizeof(pc->detail), "%s", prog_link_last_error(link));
	psoc6_detach(&chip);
	prog_link_close(&link);
}

static void probes_print_json(const struct prog_probe_info *pi, const struct probes_chip *pc,
			      bool first)
{
	printf("%s{\"serial\":\"%s\",\"vid\":\"%04x\",\"pid\":\"%04x\",\"product\":\"%s\","
	       "\"firmware\":\"%s\",\"protocol\":\"%s\",\"capabilities\":%u,"
	       "\"packet_size\":%u,\"packet_count\":%u,\"bus\":\"%s\",\"v2_bulk\":%s",
	       first ? "" : ",", pi->serial, pi->vid, pi->pid, pi->product, pi->firmware,
	       pi->protocol, pi->capabilities, pi->packet_size, pi->packet_count, pi->bus_path,
	       pi->v2_bulk ? "true" : "false");
	if (pc == NULL) {
		printf(",\"chip\":null}");
		return;
	}
	if (!pc->present || pc->err != LPA_OK) {
		printf(",\"chip\":null,\"error\":\"%s\",\"message\":\"%s\"}", lpa_errname(pc->err),
		       lpa_strerror(pc->err));
		return;
	}
	printf(",\"chip\":{\"family\":\"0x%03x\",\"silicon_id\":\"%08x\",\"protection\":\"%s\","
	       "\"uid\":\"%016llx\",\"agent\":",
	       pc->family, pc->silicon_id, lpa_protection_name(pc->protection),
	       (unsigned long long)pc->uid);
	if (pc->agent)
		printf("{\"version\":\"%u.%u\",\"provisioned\":%s,\"dev_eui\":\"%016llx\","
		       "\"counter\":%u}}}",
		       pc->status.agent_version >> 8, pc->status.agent_version & 0xFF,
		       pc->status.provisioned ? "true" : "false",
		       (unsigned long long)pc->status.dev_eui, pc->status.counter);
	else
		printf("null}}");
}

static void probes_print_text(const struct prog_probe_info *pi, const struct probes_chip *pc)
{
	printf("%s  %04x:%04x  %s  fw %s  CMSIS-DAP %s  bus %s\n", pi->serial, pi->vid, pi->pid,
	       pi->product, pi->firmware[0] ? pi->firmware : "?",
	       pi->protocol[0] ? pi->protocol : "?", pi->bus_path);
	if (pc == NULL) {
		printf("    %s\n", pi->note);
		return;
	}
	if (pc->err != LPA_OK) {
		printf("    no chip: %s%s%s\n", lpa_strerror(pc->err), pc->detail[0] ? " — " : "",
		       pc->detail);
		return;
	}
	printf("    chip: family 0x%03x  silicon ID %08x  %s  UID %016llx\n", pc->family,
	       pc->silicon_id, lpa_protection_name(pc->protection), (unsigned long long)pc->uid);
	if (pc->agent)
		printf("    agent %u.%u: %s", pc->status.agent_version >> 8,
		       pc->status.agent_version & 0xFF,
		       pc->status.provisioned ? "provisioned" : "not provisioned");
	else
		printf("    agent: not answering");
	if (pc->agent && pc->status.provisioned)
		printf(" (DevEUI %016llx, counter %u)", (unsigned long long)pc->status.dev_eui,
		       pc->status.counter);
	printf("\n");
}

static const char probes_usage[] =
	"usage: lpa-station probes [--json] [--backend cmsis-dap|openocd]\n"
	"Lists the CMSIS-DAP probes and the chip each one sees.\n";

int probes_main(int argc, char **argv)
{
	struct probes_opts o;
	struct prog_probe_info *list = NULL;
	size_t n = 0;
	int r;

	if ((r = probes_parse(argc, argv, &o, probes_usage)) != 0)
		return r < 0 ? STATION_EXIT_OK : r;
	if ((r = prog_probe_list(&list, &n)) != LPA_OK) {
		fprintf(stderr, "lpa-station: cannot list USB devices: %s\n", lpa_strerror(r));
		return STATION_EXIT_FAILURE;
	}
	if (o.json)
		printf("[");
	for (size_t i = 0; i < n; i++) {
		struct probes_chip pc;
		bool usable = list[i].v2_bulk || o.backend == PROG_BACKEND_OPENOCD;

		if (usable)
			probes_look(o.backend, list[i].serial, &pc);
		if (o.json)
			probes_print_json(&list[i], usable ? &pc : NULL, i == 0);
		else
			probes_print_text(&list[i], usable ? &pc : NULL);
	}
	if (o.json)
		printf("]\n");
	else if (n == 0)
		printf("no CMSIS-DAP probes found\n");
	free(list);
	return n == 0 ? STATION_EXIT_NO_PROBE : STATION_EXIT_OK;
}

static const char identify_usage[] =
	"usage: lpa-station identify [--probe SERIAL] [--json] [--backend cmsis-dap|openocd]\n"
	"Reads the identity record (LPI1) of the chip on a probe.\n";

/* Which probe: with several attached, the operator names one (and is shown them); an
 * unknown serial is refused with the list of those that are there. */
static int probes_pick(const char *serial)
{
	struct prog_probe_info *all = NULL;
	size_t n = 0;
	bool found = false;
	int rc = STATION_EXIT_OK;

	if (prog_probe_list(&all, &n) != LPA_OK)
		return STATION_EXIT_OK; /* prog_link_open reports it */
	for (size_t i = 0; i < n; i++)
		found |= serial != NULL && strcmp(all[i].serial, serial) == 0;
	if (serial == NULL && n > 1) {
		fprintf(stderr, "lpa-station: %zu probes are attached; name one with --probe:\n",
			n);
		rc = STATION_EXIT_USAGE;
	} else if (serial != NULL && !found) {
		fprintf(stderr, "lpa-station: no probe %s%s\n", serial,
			n ? "; attached:" : " (no probe is attached)");
		rc = STATION_EXIT_NO_PROBE;
	}
	for (size_t i = 0; rc != STATION_EXIT_OK && i < n; i++)
		fprintf(stderr, "  %-16s %s\n", all[i].serial, all[i].product);
	free(all);
	return rc;
}

int identify_main(int argc, char **argv)
{
	struct probes_opts o;
	struct prog_link_opts lo = {0};
	prog_link *link = NULL;
	psoc6 *chip = NULL;
	struct lpa_lpi1 id;
	uint8_t raw[LPA_LPI1_MAX_LEN], h[32];
	char dik_hash[65];
	size_t raw_len = 0;
	const char *step = "open the probe";
	int r;

	if ((r = probes_parse(argc, argv, &o, identify_usage)) != 0)
		return r < 0 ? STATION_EXIT_OK : r;
	lo.backend = o.backend;
	lo.serial = o.serial;
	if ((r = probes_pick(o.serial)) != STATION_EXIT_OK)
		return r;
	if ((r = prog_link_open(&lo, &link)) != LPA_OK)
		goto fail;
	step = "connect to the chip";
	if ((r = prog_link_connect(link, NULL)) != LPA_OK)
		goto fail;
	step = "identify the chip family";
	if ((r = psoc6_attach(link, &chip)) != LPA_OK)
		goto fail;
	step = "read the identity (GET_IDENTITY)";
	if ((r = psoc6_get_identity(chip, &id, raw, sizeof(raw), &raw_len)) != LPA_OK)
		goto fail;
	lpa_sha256(id.dik_pub, sizeof(id.dik_pub), h);
	lpa_hex_encode(h, sizeof(h), dik_hash);
	if (o.json) {
		char *b64 = malloc(lpa_b64url_len(raw_len) + 1);

		if (b64 == NULL) {
			r = LPA_ERR_NOMEM;
			goto fail;
		}
		lpa_b64url_encode(raw, raw_len, b64);
		printf("{\"probe\":\"%s\",\"uid\":\"%016llx\",\"silicon_id\":\"%08x\","
		       "\"protection\":\"%s\",\"agent_version\":\"%u.%u\",\"provisioned\":%s,"
		       "\"last_counter\":%u,\"dik_sha256\":\"%s\",\"cert_len\":%u,"
		       "\"identity\":\"%s\"}\n",
		       prog_link_serial(link), (unsigned long long)id.chip_uid, id.silicon_id,
		       lpa_protection_name(id.protection), id.agent_version >> 8,
		       id.agent_version & 0xFF, id.provisioned ? "true" : "false", id.last_counter,
		       dik_hash, id.cert_len, b64);
		free(b64);
	} else {
		printf("probe        %s (%s backend)\n", prog_link_serial(link),
		       prog_link_backend_name(link));
		printf("chip UID     %016llx\n", (unsigned long long)id.chip_uid);
		printf("silicon ID   %08x\n", id.silicon_id);
		printf("protection   %s\n", lpa_protection_name(id.protection));
		printf("agent        %u.%u, %s, last counter %u\n", id.agent_version >> 8,
		       id.agent_version & 0xFF, id.provisioned ? "provisioned" : "not provisioned",
		       id.last_counter);
		printf("DIK SHA-256  %s\n", dik_hash);
		printf("certificate  %u bytes DER\n", id.cert_len);
	}
	r = LPA_OK;
fail:
	if (r != LPA_OK)
		fprintf(stderr, "lpa-station: cannot %s: %s%s%s\n", step, lpa_strerror(r),
			link && prog_link_last_error(link)[0] ? " — " : "",
			link ? prog_link_last_error(link) : "");
	psoc6_detach(&chip);
	prog_link_close(&link);
	return station_exit_for(r);
}
