/*
 * main.c — lpa-station: the factory provisioning station. Process hygiene comes first
 * (no core dumps, not ptrace-able, secrets on the locked secure heap), then the
 * subcommand table.
 */
#include <stdio.h>
#include <string.h>

#include "lpa/core/lpa-core.h"
#include "config.h"
#include "station.h"

#define STATION_SECURE_HEAP (64 * 1024)

static int version_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("lpa-station %s\n", LPA_VERSION);
	return STATION_EXIT_OK;
}

static const struct station_cmd station_cmds[] = {
	{"probes", probes_main, "list probes and the chip each one sees"},
	{"identify", identify_main, "read the identity record of a chip"},
	{"login", login_main, "open a KMS session (password and TOTP)"},
	{"logout", logout_main, "end the KMS session"},
	{"status", status_main, "the KMS session and whether the KMS answers"},
	{"provision", provision_main, "provision the chip on one probe"},
	{"batch", batch_main, "provision a lot on all probes (line scripts; JSON out)"},
	{"run", run_main, "shift mode: PASS/FAIL per chip on every probe until Ctrl-C"},
	{"verify", verify_main, "QA: prove a chip holds the keys the KMS issued"},
	{"manifest", manifest_main, "verify a lot manifest (QA, offline)"},
	{"agent", agent_main, "part, version, size and SHA-256 of a secure-agent image"},
	{"selftest", selftest_main, "known-answer tests of the station's cryptography"},
	{"version", version_main, "print the version (also --version)"},
};

#define STATION_N_CMDS (sizeof(station_cmds) / sizeof(station_cmds[0]))

static void station_usage(FILE *f)
{
	fprintf(f, "usage: lpa-station [--config FILE] [-v] COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(station_cmds) / sizeof(station_cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", station_cmds[i].name, station_cmds[i].summary);
	fprintf(f, "\n'lpa-station help COMMAND' (or COMMAND --help) describes a command.\n");
}

int main(int argc, char **argv)
{
	/* Before anything can hold a secret. */
	if (lpa_secure_harden_process() != LPA_OK) {
		fprintf(stderr, "lpa-station: cannot disable core dumps\n");
		return STATION_EXIT_FAILURE;
	}
	if (lpa_secure_init(STATION_SECURE_HEAP) != LPA_OK)
		fprintf(stderr, "lpa-station: warning: secure heap unavailable (RLIMIT_MEMLOCK); "
				"secrets use per-buffer locked pages\n");
	/* Global options stop at the command name. */
	while (argc > 1 && argv[1][0] == '-') {
		if (strcmp(argv[1], "--config") == 0 && argc > 2) {
			station_set_config_path(argv[2]);
			argc -= 2;
			argv += 2;
		} else if (strncmp(argv[1], "--config=", 9) == 0) {
			station_set_config_path(argv[1] + 9);
			argc--;
			argv++;
		} else if (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--verbose") == 0) {
			station_set_verbose(station_verbose() + 1);
			argc--;
			argv++;
		} else {
			break;
		}
	}
	if (argc < 2) {
		station_usage(stderr);
		return STATION_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    (strcmp(argv[1], "help") == 0 && argc == 2)) {
		station_usage(stdout);
		return STATION_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return version_main(argc - 1, argv + 1);
	/* `help COMMAND` is `COMMAND --help`. */
	if (strcmp(argv[1], "help") == 0 && argc == 3) {
		static char help_opt[] = "--help";
		char *help_argv[] = {argv[2], help_opt, NULL};

		for (size_t i = 0; i < STATION_N_CMDS; i++)
			if (strcmp(argv[2], station_cmds[i].name) == 0)
				return station_cmds[i].run(2, help_argv);
		argv++;
		argc--;
	}
	for (size_t i = 0; i < STATION_N_CMDS; i++)
		if (strcmp(argv[1], station_cmds[i].name) == 0)
			return station_cmds[i].run(argc - 1, argv + 1);
	{
		const char *names[STATION_N_CMDS], *s;

		for (size_t i = 0; i < STATION_N_CMDS; i++)
			names[i] = station_cmds[i].name;
		if ((s = lpa_suggest(argv[1], names, STATION_N_CMDS)) != NULL)
			fprintf(stderr, "lpa-station: unknown command '%s'; did you mean '%s'?\n\n",
				argv[1], s);
		else
			fprintf(stderr, "lpa-station: unknown command '%s'\n\n", argv[1]);
	}
	station_usage(stderr);
	return STATION_EXIT_USAGE;
}
