/*
 * cli.c — what every lpa-station command shares on its command line: option parsing
 * with "did you mean", and loading station.conf with one policy (an explicit --config
 * must exist; the default file may be absent only for commands that never talk to the
 * KMS; a station key others can read is refused, as ssh refuses one).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "station.h"

int station_getopt(int argc, char **argv, const char *shortopts, const struct option *opts)
{
	const char *names[64], *word, *s;
	char name[128];
	size_t n = 0, len;
	bool known = false;
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, opts, NULL);
	if (c != '?')
		return c;
	/* getopt_long has moved optind past the word it refused. */
	word = argv[optind - 1 > 0 ? optind - 1 : 0];
	if (strncmp(word, "--", 2) != 0) {
		const char *at = optopt ? strchr(shortopts, optopt) : NULL;

		if (at != NULL && at[1] == ':')
			fprintf(stderr, "lpa-station %s: option '-%c' needs a value\n", argv[0],
				optopt);
		else
			fprintf(stderr, "lpa-station %s: unknown option '-%c'\n", argv[0],
				optopt ? optopt : '?');
		return '?';
	}
	len = strcspn(word + 2, "=");
	snprintf(name, sizeof(name), "%.*s", (int)len, word + 2);
	for (const struct option *o = opts; o->name != NULL && n < 64; o++) {
		names[n++] = o->name;
		known |= strcmp(o->name, name) == 0;
	}
	if (known)
		fprintf(stderr, "lpa-station %s: option '--%s' %s\n", argv[0], name,
			word[2 + len] == '=' ? "takes no value" : "needs a value");
	else if ((s = lpa_suggest(name, names, n)) != NULL)
		fprintf(stderr, "lpa-station %s: unknown option '--%s'; did you mean '--%s'?\n",
			argv[0], name, s);
	else
		fprintf(stderr, "lpa-station %s: unknown option '--%s'\n", argv[0], name);
	return '?';
}

int station_key_private(const char *path, char *why, size_t why_len)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		snprintf(why, why_len, "cannot read the station key ([kms] key) %.300s: %s", path,
			 strerror(errno));
		return STATION_EXIT_STATE;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(why, why_len,
			 "the station key %.300s is accessible by group or others (mode %04o); "
			 "it must be readable by its owner only: chmod 600 %.300s",
			 path, (unsigned)(st.st_mode & 07777), path);
		return STATION_EXIT_STATE;
	}
	return STATION_EXIT_OK;
}

int station_load_config(struct station_config *c, const char *path, bool need_kms, char *why,
			size_t why_len)
{
	bool explicit = path != NULL || station_config_explicit();
	bool missing;
	int r;

	config_defaults(c);
	r = config_load(path ? path : station_config_path(), c, &missing, why, why_len);
	if (r == LPA_ERR_NOT_FOUND && missing && !explicit) {
		if (need_kms) {
			snprintf(why, why_len,
				 "no configuration: %.300s does not exist; write it (see "
				 "station.conf(5)) or name one with --config FILE",
				 station_config_path());
			return STATION_EXIT_USAGE;
		}
		return STATION_EXIT_OK; /* an offline command: the defaults will do */
	}
	return r == LPA_OK ? STATION_EXIT_OK : STATION_EXIT_USAGE;
}
