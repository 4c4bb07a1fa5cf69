/*
 * agent-image.c — reads a secure-agent image (agent-image.h) and `lpa-station agent
 * info IMAGE`: what a factory checks before it flashes one (part, version, size, and
 * the SHA-256 recomputed from the bytes).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-image.h"
#include "lpa/core/lpa-core.h"
#include "station.h"

#define INFO_SIZE_OFF (AGENT_IMAGE_INFO + 8)
#define INFO_FLAGS_OFF (AGENT_IMAGE_INFO + 12)
#define INFO_HASH_OFF (AGENT_IMAGE_INFO + 16)
#define INFO_VERSION_OFF (AGENT_IMAGE_INFO + 48)
#define INFO_END (AGENT_IMAGE_INFO + 64)

const char *agent_image_part_name(uint8_t part)
{
	switch (part) {
	case 1:
		return "CY8C6xx7 (PSoC 6A-BLE2, CPUSS v1)";
	case 2:
		return "CY8C6xxA (PSoC 6A-2M, CPUSS v2)";
	default:
		return NULL;
	}
}

static uint32_t image_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int image_hex_byte(const uint8_t *p, uint8_t *out)
{
	int hi = lpa_hex_digit((char)p[0]), lo = lpa_hex_digit((char)p[1]);

	if (hi < 0 || lo < 0)
		return LPA_ERR_ENCODING;
	*out = (uint8_t)(hi << 4 | lo);
	return LPA_OK;
}

/* Intel HEX to the bytes from AGENT_IMAGE_BASE: data (00), end (01) and extended
 * linear address (04) records only, in address order without gaps. */
static int image_from_hex(const uint8_t *t, size_t len, uint8_t *bin, size_t *bin_len)
{
	uint32_t upper = 0, next = AGENT_IMAGE_BASE;
	size_t i = 0;

	*bin_len = 0;
	while (i < len) {
		uint8_t rec[255 + 5], n, sum = 0;
		uint32_t addr;

		if (t[i] == '\n' || t[i] == '\r') {
			i++;
			continue;
		}
		if (t[i] != ':' || len - i < 11)
			return LPA_ERR_ENCODING;
		if (image_hex_byte(t + i + 1, &n) != LPA_OK || len - i < 11 + 2 * (size_t)n)
			return LPA_ERR_ENCODING;
		for (size_t k = 0; k < (size_t)n + 5; k++) {
			if (image_hex_byte(t + i + 1 + 2 * k, &rec[k]) != LPA_OK)
				return LPA_ERR_ENCODING;
			sum = (uint8_t)(sum + rec[k]);
		}
		if (sum != 0)
			return LPA_ERR_ENCODING; /* the record's checksum */
		i += 11 + 2 * (size_t)n;
		addr = upper | (uint32_t)rec[1] << 8 | rec[2];
		switch (rec[3]) {
		case 0x00:
			if (addr != next || (uint64_t)addr + n - AGENT_IMAGE_BASE > AGENT_IMAGE_MAX)
				return addr != next ? LPA_ERR_MISMATCH : LPA_ERR_LENGTH;
			memcpy(bin + (addr - AGENT_IMAGE_BASE), rec + 4, n);
			next += n;
			break;
		case 0x01:
			*bin_len = next - AGENT_IMAGE_BASE;
			return LPA_OK;
		case 0x04:
			if (n != 2)
				return LPA_ERR_ENCODING;
			upper = (uint32_t)rec[4] << 24 | (uint32_t)rec[5] << 16;
			break;
		default:
			return LPA_ERR_ENCODING;
		}
	}
	return LPA_ERR_LENGTH; /* no end record: a truncated file */
}

/* Version strings are printed and put in JSON: letters, digits and . - + _ ~ only. */
static bool image_version_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       strchr(".-+_~", c) != NULL;
}

static int image_check(const uint8_t *b, size_t len, struct agent_image *img)
{
	uint8_t h[32], *copy;
	const char *v = (const char *)b + INFO_VERSION_OFF;
	size_t vlen;
	int r;

	if (len < INFO_END || len > AGENT_IMAGE_MAX)
		return LPA_ERR_LENGTH;
	if (memcmp(b,
		   "\x7f"
		   "ELF",
		   4) == 0)
		return LPA_ERR_UNSUPPORTED; /* flash the .bin or the .hex */
	if (memcmp(b + AGENT_IMAGE_INFO, "LPAI", 4) != 0)
		return LPA_ERR_MAGIC;
	if (b[AGENT_IMAGE_INFO + 4] != 1)
		return LPA_ERR_VERSION;
	if (agent_image_part_name(b[AGENT_IMAGE_INFO + 5]) == NULL)
		return LPA_ERR_UNSUPPORTED;
	if (image_le32(b + INFO_SIZE_OFF) != len)
		return LPA_ERR_LENGTH;
	vlen = strnlen(v, 16);
	if (vlen == 0 || vlen == 16)
		return LPA_ERR_ENCODING;
	for (size_t i = 0; i < 16; i++)
		if ((i < vlen && !image_version_char(v[i])) || (i >= vlen && v[i] != 0))
			return LPA_ERR_ENCODING;
	if (image_le32(b + INFO_FLAGS_OFF) != 0)
		return LPA_ERR_RESERVED;
	if ((copy = malloc(len)) == NULL)
		return LPA_ERR_NOMEM;
	memcpy(copy, b, len);
	memset(copy + INFO_HASH_OFF, 0, 32);
	r = lpa_sha256(copy, len, h);
	free(copy);
	if (r != LPA_OK)
		return r;
	if (memcmp(h, b + INFO_HASH_OFF, 32) != 0)
		return LPA_ERR_MISMATCH;
	img->part = b[AGENT_IMAGE_INFO + 5];
	img->agent_version = (uint16_t)(b[AGENT_IMAGE_INFO + 6] << 8 | b[AGENT_IMAGE_INFO + 7]);
	img->size = (uint32_t)len;
	memcpy(img->sha256, h, 32);
	memcpy(img->version_str, v, vlen);
	img->version_str[vlen] = '\0';
	return LPA_OK;
}

/* Parses and checks; the image's bytes from 0x10000000 in *out (malloc'd) when out is
 * not NULL. */
static int image_decode(const uint8_t *data, size_t len, struct agent_image *img, uint8_t **out,
			size_t *out_len)
{
	uint8_t *bin;
	size_t bin_len = 0;
	bool hex = len > 0 && data[0] == ':';
	int r;

	if (data == NULL || img == NULL)
		return LPA_ERR_INVAL;
	memset(img, 0, sizeof(*img));
	if ((bin = calloc(1, AGENT_IMAGE_MAX)) == NULL)
		return LPA_ERR_NOMEM;
	if (hex)
		r = image_from_hex(data, len, bin, &bin_len);
	else if ((r = len > AGENT_IMAGE_MAX ? LPA_ERR_LENGTH : LPA_OK) == LPA_OK) {
		memcpy(bin, data, len);
		bin_len = len;
	}
	if (r == LPA_OK || (!hex && r == LPA_ERR_LENGTH))
		r = image_check(hex ? bin : data, hex ? bin_len : len, img);
	img->from_hex = hex && r == LPA_OK;
	if (r == LPA_OK && out != NULL) {
		*out = bin;
		*out_len = bin_len;
		return LPA_OK;
	}
	free(bin);
	return r;
}

int agent_image_parse(const uint8_t *data, size_t len, struct agent_image *img)
{
	return image_decode(data, len, img, NULL, NULL);
}

static const char agent_usage[] =
	"usage: lpa-station agent info IMAGE [--json]\n"
	"Prints the part, version, size and SHA-256 of a secure-agent image (.bin or .hex),\n"
	"after recomputing the SHA-256 from its bytes.\n";

static int agent_read_file(const char *path, uint8_t **buf, size_t *len)
{
	size_t cap = 4 * AGENT_IMAGE_MAX; /* the HEX text of a full image fits */
	FILE *f = fopen(path, "rb");
	int r = LPA_OK;

	*buf = NULL;
	*len = 0;
	if (f == NULL)
		return LPA_ERR_NOT_FOUND;
	if ((*buf = malloc(cap + 1)) == NULL) {
		fclose(f);
		return LPA_ERR_NOMEM;
	}
	*len = fread(*buf, 1, cap + 1, f);
	if (ferror(f))
		r = LPA_ERR_SYSTEM;
	else if (*len > cap)
		r = LPA_ERR_LENGTH;
	fclose(f);
	return r;
}

int agent_image_load(const char *path, const uint8_t sha256[32], uint16_t version,
		     struct agent_image *img, uint8_t **bin, size_t *bin_len, char *why,
		     size_t why_len)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char have[65], want[65];
	int r;

	*bin = NULL;
	*bin_len = 0;
	if ((r = agent_read_file(path, &buf, &len)) != LPA_OK) {
		snprintf(why, why_len, "agent image %.300s: %s", path, lpa_strerror(r));
		free(buf);
		return r;
	}
	r = image_decode(buf, len, img, bin, bin_len);
	free(buf);
	if (r != LPA_OK) {
		snprintf(why, why_len, "agent image %.300s: not a valid secure-agent image: %s",
			 path, lpa_strerror(r));
		return r;
	}
	lpa_hex_encode(img->sha256, 32, have);
	lpa_hex_encode(sha256, 32, want);
	if (memcmp(img->sha256, sha256, 32) != 0)
		snprintf(why, why_len,
			 "agent image %.200s: SHA-256 %s is not the configured %s ([agent] sha256)",
			 path, have, want);
	else if (img->agent_version != version)
		snprintf(why, why_len,
			 "agent image %.200s: agent version %u.%u is not the configured %u.%u "
			 "([agent] version)",
			 path, img->agent_version >> 8, img->agent_version & 0xFF, version >> 8,
			 version & 0xFF);
	else
		return LPA_OK;
	free(*bin);
	*bin = NULL;
	*bin_len = 0;
	return LPA_ERR_MISMATCH;
}

int agent_main(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct agent_image img;
	uint8_t *buf = NULL;
	size_t len = 0;
	char hash[65];
	bool json = false;
	int c, r;

	optind = 1;
	if (argc < 2 || strcmp(argv[1], "info") != 0) {
		bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;

		fprintf(help ? stdout : stderr, "%s", agent_usage);
		return help ? STATION_EXIT_OK : STATION_EXIT_USAGE;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			printf("%s", agent_usage);
			return STATION_EXIT_OK;
		default:
			fprintf(stderr, "%s", agent_usage);
			return STATION_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "%s", agent_usage);
		return STATION_EXIT_USAGE;
	}
	if ((r = agent_read_file(argv[optind], &buf, &len)) != LPA_OK) {
		fprintf(stderr, "lpa-station: %s: %s\n", argv[optind], lpa_strerror(r));
		free(buf);
		return r == LPA_ERR_NOT_FOUND ? STATION_EXIT_USAGE : STATION_EXIT_STATE;
	}
	r = agent_image_parse(buf, len, &img);
	if (r == LPA_ERR_UNSUPPORTED && len >= 4 &&
	    memcmp(buf,
		   "\x7f"
		   "ELF",
		   4) == 0) {
		fprintf(stderr, "lpa-station: %s: an ELF file; give the .bin or the .hex\n",
			argv[optind]);
		free(buf);
		return STATION_EXIT_STATE;
	}
	free(buf);
	if (r != LPA_OK) {
		fprintf(stderr, "lpa-station: %s: not a valid secure-agent image: %s\n",
			argv[optind], lpa_strerror(r));
		return STATION_EXIT_STATE;
	}
	lpa_hex_encode(img.sha256, 32, hash);
	if (json)
		printf("{\"part\":%u,\"part_name\":\"%s\",\"version\":\"%s\",\"agent_version\":"
		       "\"%u.%u\",\"size\":%u,\"sha256\":\"%s\",\"format\":\"%s\"}\n",
		       img.part, agent_image_part_name(img.part), img.version_str,
		       img.agent_version >> 8, img.agent_version & 0xFF, img.size, hash,
		       img.from_hex ? "hex" : "bin");
	else
		printf("part     %s\nversion  %s (agent protocol %u.%u)\nsize     %u bytes\n"
		       "sha256   %s (recomputed, matches)\nformat   %s\n",
		       agent_image_part_name(img.part), img.version_str, img.agent_version >> 8,
		       img.agent_version & 0xFF, img.size, hash,
		       img.from_hex ? "Intel HEX" : "raw binary");
	return STATION_EXIT_OK;
}
