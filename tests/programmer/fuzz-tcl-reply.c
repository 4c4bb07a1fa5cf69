/*
 * fuzz-tcl-reply — OpenOCD Tcl RPC replies (programmer/tcl-rpc.c): the "<rc> <text>"
 * split, then the text as a list of numbers, as the OpenOCD backend reads them.
 * Input: one byte choosing the expected count (0..63), then the reply.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "programmer/tcl-rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t vals[64];
	const char *text;
	size_t text_len, count;
	char quoted[64];
	int rc;

	if (size < 1)
		return 0;
	count = data[0] & 63;
	data++;
	size--;
	tcl_rpc_quote((const char *)data, size, quoted, sizeof(quoted));
	if (strlen(quoted) >= sizeof(quoted))
		abort();
	if (tcl_rpc_parse_reply((const char *)data, size, &rc, &text, &text_len) != LPA_OK)
		return 0;
	if (text < (const char *)data || text + text_len != (const char *)data + size)
		abort();
	(void)tcl_rpc_parse_u32s(text, text_len, UINT32_MAX, vals, count);
	(void)tcl_rpc_parse_u32s(text, text_len, 0xFF, vals, count);
	return 0;
}
