/*
 * agent-image.h — a secure-agent firmware image as a factory holds it (a raw .bin or an
 * Intel .hex from lpa/agent), and its image-info block (docs/agent.md, "Image").
 */
#ifndef LPA_STATION_AGENT_IMAGE_H
#define LPA_STATION_AGENT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_IMAGE_BASE 0x10000000u
#define AGENT_IMAGE_MAX (32u * 1024u) /* the CM0+ share the linker scripts give it */
#define AGENT_IMAGE_INFO 0x40u

struct agent_image {
	uint8_t part;           /* 1 CY8C6xx7, 2 CY8C6xxA */
	uint16_t agent_version; /* major << 8 | minor */
	uint32_t size;          /* bytes from 0x10000000 */
	uint8_t sha256[32];     /* as recorded, and verified */
	char version_str[17];   /* NUL-terminated */
	int from_hex;           /* the file was Intel HEX */
};

/* The part's name, or NULL for an unknown part byte. */
const char *agent_image_part_name(uint8_t part);
/*
 * Parses and checks an image: Intel HEX (first byte ':') is decoded first — checksums
 * (LPA_ERR_ENCODING), data contiguous from 0x10000000 (LPA_ERR_MISMATCH), an end
 * record (LPA_ERR_LENGTH). Then, in this order: shorter than the info block or longer
 * than 32 KiB LPA_ERR_LENGTH; an ELF file LPA_ERR_UNSUPPORTED; magic "LPAI"
 * LPA_ERR_MAGIC; format 1 LPA_ERR_VERSION; part LPA_ERR_UNSUPPORTED; recorded size not
 * the image's LPA_ERR_LENGTH; version string empty, not NUL-terminated or not made of letters,
 * digits and . - + _ ~ LPA_ERR_ENCODING; reserved flags LPA_ERR_RESERVED; SHA-256 (recomputed with
 * its field zero) LPA_ERR_MISMATCH.
 */
int agent_image_parse(const uint8_t *data, size_t len, struct agent_image *img);
/*
 * The [agent] image of station.conf: read, parsed as above, and refused (LPA_ERR_MISMATCH)
 * unless its SHA-256 is sha256 and its agent version is version. On success *bin holds
 * the image's bytes from 0x10000000 (malloc'd, *bin_len of them); why says what failed.
 */
int agent_image_load(const char *path, const uint8_t sha256[32], uint16_t version,
		     struct agent_image *img, uint8_t **bin, size_t *bin_len, char *why,
		     size_t why_len);

#endif
