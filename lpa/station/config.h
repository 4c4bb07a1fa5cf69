/*
 * config.h — station.conf(5): an INI file of [kms], [station], [provision] and [agent]
 * settings.
 * Unknown sections and keys are errors (a typo must not silently fall back to a default
 * on a production line), reported with file and line.
 */
#ifndef LPA_STATION_CONFIG_H
#define LPA_STATION_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lpa/core/lpa-core.h"
#include "programmer/programmer.h"

#define CONFIG_DEFAULT_PATH "/etc/lpa/station.conf"
#define CONFIG_PATH_MAX 512

struct station_config {
	/* [kms] */
	char kms_url[256];                 /* https://host:port */
	char kms_ca[CONFIG_PATH_MAX];      /* the KMS CA certificate (pinned) */
	char tls_cert[CONFIG_PATH_MAX];    /* this station's certificate */
	char tls_key[CONFIG_PATH_MAX];     /* and key */
	char record_keys[CONFIG_PATH_MAX]; /* the KMS's record keys (JWKS), pinned */
	unsigned kms_timeout_s;            /* per request */
	unsigned kms_retries;              /* for idempotent calls */
	/* [station] */
	char name[LPA_NAME_MAX + 1];
	char state_dir[CONFIG_PATH_MAX]; /* journal and manifests */
	enum prog_backend backend;
	char openocd[CONFIG_PATH_MAX];
	char openocd_adapter[64];
	unsigned clock_khz;
	/* [provision] */
	char lot[LPA_NAME_MAX + 1];
	uint64_t join_eui;
	bool have_join_eui;
	char lorawan[8];            /* "1.0.4" or "1.1" */
	uint8_t allowed_protection; /* bit mask, 1 << state */
	bool reprovision;
	/* [agent]: the secure-agent image the station programs onto chips without it (or
	 * with an older version); empty: chips must arrive with an agent. */
	char agent_image[CONFIG_PATH_MAX];
	uint8_t agent_sha256[32]; /* the image's SHA-256 as `agent info` prints it */
	bool have_agent_sha256;
	uint16_t agent_version; /* major << 8 | minor; 0: not given */
};

void config_defaults(struct station_config *c);
/*
 * Parses text (len bytes) over c. On error returns LPA_ERR_ENCODING (syntax),
 * LPA_ERR_NOT_FOUND (unknown section or key) or LPA_ERR_INVAL (bad value), with
 * "line N: ..." in err; an [agent] image without its sha256 and version is
 * LPA_ERR_INVAL too ("[agent]: ...").
 */
int config_parse(const char *text, size_t len, struct station_config *c, char *err, size_t err_len);
/* Reads path; a missing default file is not an error (missing=true). */
int config_load(const char *path, struct station_config *c, bool *missing, char *err,
		size_t err_len);

#endif
