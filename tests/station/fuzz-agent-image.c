/*
 * Fuzz the secure-agent image reader (lpa/station/agent-image.c): raw images and Intel
 * HEX. An image that parses must carry its own SHA-256, a known part and a size equal
 * to what was decoded.
 */
#include <stdlib.h>
#include <string.h>

#include "agent-image.h"
#include "lpa/core/lpa-core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_image img;

	if (agent_image_parse(data, size, &img) != LPA_OK)
		return 0;
	if (agent_image_part_name(img.part) == NULL || img.size < 0x80 ||
	    img.size > AGENT_IMAGE_MAX || (!img.from_hex && img.size != size) ||
	    strlen(img.version_str) == 0 || strlen(img.version_str) > 15)
		abort();
	if (!img.from_hex && memcmp(img.sha256, data + AGENT_IMAGE_INFO + 16, 32) != 0)
		abort();
	return 0;
}
