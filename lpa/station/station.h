/* station.h — the lpa-station command-line program: subcommands and exit codes. */
#ifndef LPA_STATION_H
#define LPA_STATION_H

/*
 * Exit codes, one per failure class, so line scripts can act on them without parsing
 * text. Documented in docs/lpa-station.md; never renumber a published code.
 */
enum station_exit {
	STATION_EXIT_OK = 0,
	STATION_EXIT_FAILURE = 1,  /* unclassified failure */
	STATION_EXIT_USAGE = 2,    /* bad command line or configuration */
	STATION_EXIT_SELFTEST = 3, /* a known-answer self-test failed: do not provision */
};

struct station_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int selftest_main(int argc, char **argv);

#endif
