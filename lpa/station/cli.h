/* cli.h — option parsing and configuration loading shared by the lpa-station commands. */
#ifndef LPA_STATION_CLI_H
#define LPA_STATION_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "config.h"

/* getopt_long with lpa-station's own messages ("unknown option '--lott'; did you mean
 * '--lot'?", "option '--lot' needs a value"); argv[0] is the command's name. Returns what
 * getopt_long returns, '?' for every error (already reported). */
int station_getopt(int argc, char **argv, const char *shortopts, const struct option *opts);

/* Loads station.conf (path, else --config, else the default) over the defaults; a
 * command that talks to the KMS (need_kms) needs the file. Returns a STATION_EXIT_* code
 * with the reason in why. */
int station_load_config(struct station_config *c, const char *path, bool need_kms, char *why,
			size_t why_len);
/* The station key at path exists and only its owner may read it (a key group or others
 * can read has leaked, as ssh has it): STATION_EXIT_STATE with the reason otherwise. */
int station_key_private(const char *path, char *why, size_t why_len);

#endif
