/* station.h — the lpa-station command-line program: subcommands and exit codes. */
#ifndef LPA_STATION_H
#define LPA_STATION_H

#include <stdbool.h>

/*
 * Exit codes, one per failure class, so line scripts can act on them without parsing
 * text. Documented in docs/lpa-station.md; never renumber a published code.
 */
enum station_exit {
	STATION_EXIT_OK = 0,
	STATION_EXIT_FAILURE = 1,         /* unclassified failure */
	STATION_EXIT_USAGE = 2,           /* bad command line or configuration */
	STATION_EXIT_SELFTEST = 3,        /* a known-answer self-test failed: do not provision */
	STATION_EXIT_NO_PROBE = 4,        /* no (such) probe, or the probe was unplugged */
	STATION_EXIT_NO_TARGET = 5,       /* no chip answers on the probe */
	STATION_EXIT_TARGET = 6,          /* the chip answered wrongly: FAULT, protocol, family */
	STATION_EXIT_AGENT = 7,           /* the chip's secure agent refused or failed */
	STATION_EXIT_MANIFEST = 8,        /* manifest verification failed */
	STATION_EXIT_KMS_UNREACHABLE = 9, /* the KMS could not be reached */
	STATION_EXIT_AUTH = 10,           /* not logged in, session expired, or login refused */
	STATION_EXIT_EXAM = 11,           /* the chip failed the entrance exam */
	STATION_EXIT_UNTRUSTED = 12,      /* the KMS refused the chip's identity */
	STATION_EXIT_RECEIPT = 13,        /* the KMS refused the chip's receipt */
	STATION_EXIT_INCOMPLETE = 14,     /* batch/run: not every device passed */
	STATION_EXIT_STATE = 15,          /* journal, manifest or key files unusable */
	STATION_EXIT_KMS_RECORD = 16,     /* the KMS's record failed the pinned record keys */
};

/* The exit code for an LPA_ERR_*: the exit code of its failure class (outcome.c). */
int station_exit_for(int err);

struct station_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

#include "programmer/programmer.h"

int station_parse_backend(const char *s, enum prog_backend *b);

/* Global options (given before the command): the configuration file and -v. */
const char *station_config_path(void);
bool station_config_explicit(void); /* --config was given: a missing file is an error */
int station_verbose(void);
void station_set_config_path(const char *path);
void station_set_verbose(int level);
/* -v: one line per journaled step on stderr (never a secret: steps carry public data). */
void station_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int selftest_main(int argc, char **argv);
int probes_main(int argc, char **argv);
int identify_main(int argc, char **argv);
int manifest_main(int argc, char **argv);
int agent_main(int argc, char **argv);
int login_main(int argc, char **argv);
int logout_main(int argc, char **argv);
int status_main(int argc, char **argv);
int provision_main(int argc, char **argv);
int batch_main(int argc, char **argv);
int run_main(int argc, char **argv);
int verify_main(int argc, char **argv);

#endif
