/* Fuzz the station.conf parser. */
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct station_config c;
	char err[256];

	config_defaults(&c);
	(void)config_parse((const char *)data, size, &c, err, sizeof(err));
	return 0;
}
