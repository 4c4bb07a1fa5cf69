/* encoding.c — hex, 64-bit identifiers as hex, base64url (RFC 4648 §5, unpadded) and
 * names, strict on input. */
#include <string.h>

#include "lpa/core/lpa-core.h"

static const char encoding_hexdig[] = "0123456789abcdef";
static const char encoding_b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void lpa_hex_encode(const uint8_t *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = encoding_hexdig[in[i] >> 4];
		out[2 * i + 1] = encoding_hexdig[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

int lpa_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int lpa_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len)
{
	if (in_len != 2 * out_len)
		return LPA_ERR_LENGTH;
	for (size_t i = 0; i < out_len; i++) {
		int hi = lpa_hex_digit(in[2 * i]);
		int lo = lpa_hex_digit(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return LPA_ERR_ENCODING;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return LPA_OK;
}

static void encoding_eui(uint64_t v, const char *digits, char out[17])
{
	for (int i = 15; i >= 0; i--, v >>= 4)
		out[i] = digits[v & 0xf];
	out[16] = '\0';
}

void lpa_eui_format(uint64_t v, char out[17])
{
	encoding_eui(v, encoding_hexdig, out);
}

void lpa_eui_format_upper(uint64_t v, char out[17])
{
	encoding_eui(v, "0123456789ABCDEF", out);
}

int lpa_eui_parse_len(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL)
		return LPA_ERR_INVAL;
	if (len != 16)
		return LPA_ERR_LENGTH;
	for (size_t i = 0; i < 16; i++) {
		int d = lpa_hex_digit(s[i]);

		if (d < 0)
			return LPA_ERR_ENCODING;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return LPA_OK;
}

int lpa_eui_parse(const char *s, uint64_t *out)
{
	return lpa_eui_parse_len(s, s != NULL ? strlen(s) : 0, out);
}

size_t lpa_b64url_len(size_t len)
{
	return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

void lpa_b64url_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = encoding_b64[v >> 18 & 63];
		out[o++] = encoding_b64[v >> 12 & 63];
		out[o++] = encoding_b64[v >> 6 & 63];
		out[o++] = encoding_b64[v & 63];
	}
	if (len - i == 1) {
		out[o++] = encoding_b64[in[i] >> 2];
		out[o++] = encoding_b64[(in[i] & 3) << 4];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		out[o++] = encoding_b64[v >> 10 & 63];
		out[o++] = encoding_b64[v >> 4 & 63];
		out[o++] = encoding_b64[(v & 15) << 2];
	}
	out[o] = '\0';
}

static int encoding_b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int lpa_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	size_t need, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	/* A single leftover character cannot encode a whole byte. */
	if (in_len % 4 == 1)
		return LPA_ERR_ENCODING;
	need = in_len / 4 * 3 + (in_len % 4 ? in_len % 4 - 1 : 0);
	if (need > out_cap)
		return LPA_ERR_LENGTH;
	for (size_t i = 0; i < in_len; i++) {
		int v = encoding_b64val(in[i]);

		if (v < 0)
			return LPA_ERR_ENCODING;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Non-canonical: the unused low bits of the last character must be zero, or two
	 * different strings would decode to the same bytes. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return LPA_ERR_ENCODING;
	*out_len = o;
	return LPA_OK;
}

bool lpa_name_valid_extra(const char *s, size_t max, const char *extra)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-') &&
		    (extra == NULL || strchr(extra, c) == NULL))
			return false;
	}
	return true;
}

bool lpa_name_valid(const char *s, size_t max)
{
	return lpa_name_valid_extra(s, max, NULL);
}
