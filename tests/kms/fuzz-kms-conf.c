/*
 * fuzz-kms-conf — kms.conf (lpa/kms/conf.c). Whatever the bytes, the parser either
 * refuses them with a reason, a message and (for a line's fault) its line, or returns a
 * connection string libpq parses and that carries no password.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "kms-db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kms_conf conf;
	enum kms_conf_err why;
	PQconninfoOption *opts;
	unsigned line;
	char msg[256];

	if (kms_conf_parse((const char *)data, size, &conf, &why, &line, msg, sizeof(msg)) !=
	    KMS_OK) {
		if (why == CONF_OK || msg[0] == '\0' || conf.conninfo[0] != '\0' ||
		    (why != CONF_ERR_SIZE && line == 0))
			abort();
		return 0;
	}
	if (why != CONF_OK || line != 0 || strlen(conf.conninfo) >= sizeof(conf.conninfo))
		abort();
	if (!conf.conninfo[0])
		return 0;
	if ((opts = PQconninfoParse(conf.conninfo, NULL)) == NULL)
		abort();
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
			abort();
	PQconninfoFree(opts);
	return 0;
}
