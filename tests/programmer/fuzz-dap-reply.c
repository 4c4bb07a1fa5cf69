/*
 * fuzz-dap-reply — the CMSIS-DAP reply checker (programmer/dap-cmd.c): a memory run is
 * built from the input's parameters, then every command gets a response from the input,
 * and dap_cmd_run_check must classify it without reading or writing out of bounds.
 *
 * Input: byte 0 flags (bit 0 write, bit 1 byte access, bits 2-3 packet size 64/128/512/
 * 1024, bit 4 raw responses), bytes 1-4 address, 5-6 length. Then per command either
 * (raw) a 16-bit length and that many response bytes, or (mutated) three bytes
 * [cut, position, xor] applied to the well-formed response of that command.
 * Checks: the result is one the checker documents; a malformed response has a reason;
 * the fault address is a word of the run; a run that succeeds returns exactly the data of its
 * responses.
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "programmer/dap-cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t input_byte(struct input *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

/* The data words a well-formed response to command i carries. */
static unsigned reads_of(const struct dap_run *run, size_t i)
{
	return run->write ? 0 : run->nwords[i];
}

/* The response a probe that did everything right would send. */
static size_t good_response(const struct dap_run *run, size_t i, uint8_t *out, uint32_t seed)
{
	const struct dap_cmd *c = &run->cmds[i];
	size_t n = 0;

	out[n++] = c->out[0];
	if (c->out[0] == DAP_TRANSFER_BLOCK) {
		out[n++] = c->out[2];
		out[n++] = c->out[3];
	} else {
		out[n++] = c->out[2];
	}
	out[n++] = 1; /* ACK OK */
	for (unsigned k = 0; k < reads_of(run, i); k++) {
		uint32_t le = htole32(seed * 2654435761u + k);

		memcpy(out + n, &le, 4);
		n += 4;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t pkt_sizes[] = {64, 128, 512, 1024};
	struct input in = {data, size};
	struct dap_adi adi;
	struct dap_run run;
	uint8_t flags, wbuf[4096], rbuf[4096], want[4096];
	uint32_t addr, fault;
	size_t len, failed, want_len = 0;
	unsigned usize;
	enum dap_bad why;
	int r;

	if (size < 7)
		return 0;
	flags = input_byte(&in);
	addr = input_byte(&in);
	addr |= (uint32_t)input_byte(&in) << 8;
	addr |= (uint32_t)input_byte(&in) << 16;
	addr |= (uint32_t)input_byte(&in) << 24;
	len = input_byte(&in);
	len |= (size_t)input_byte(&in) << 8;
	usize = (flags & 2) ? 1 : 4;
	if (usize == 4) {
		addr &= ~3u;
		len = (len % (sizeof(rbuf) + 1)) & ~(size_t)3;
	} else {
		len %= 9;
	}
	if ((uint64_t)addr + len > (1ull << 32))
		addr = (uint32_t)((1ull << 32) - len);
	memset(&adi, 0, sizeof(adi));
	memset(wbuf, 0x5a, sizeof(wbuf));
	if (dap_cmd_run_build(&run, &adi, pkt_sizes[(flags >> 2) & 3], flags & 1, 1, addr, usize,
			      wbuf, len, 0x23000002) != LPA_OK)
		abort(); /* every run of these parameters can be built */
	for (size_t i = 0; i < run.n; i++) {
		struct dap_cmd *c = &run.cmds[i];
		size_t cap = pkt_sizes[(flags >> 2) & 3];

		if (c->out_len > cap)
			abort(); /* the builder respects the packet size */
		if (flags & 16) {
			size_t n = input_byte(&in);

			n |= (size_t)input_byte(&in) << 8;
			if (n > cap)
				n = cap;
			if (n > in.left)
				n = in.left;
			memcpy(c->in, in.p, n);
			in.p += n;
			in.left -= n;
			c->in_len = n;
		} else {
			uint8_t cut = input_byte(&in), pos = input_byte(&in), x = input_byte(&in);
			size_t n = good_response(&run, i, c->in, (uint32_t)i);

			if (cut & 0x80)
				n -= n < (size_t)(cut & 7) ? n : (size_t)(cut & 7);
			if (n > 0)
				c->in[pos % n] ^= x;
			c->in_len = n;
		}
	}
	memset(rbuf, 0xee, sizeof(rbuf));
	r = dap_cmd_run_check(&run, rbuf, &fault, &failed, &why);
	switch (r) {
	case LPA_OK:
		if (why != DAP_BAD_NONE)
			abort();
		/* Success: every response carried all its data; the run returns exactly
		 * that, in order (bytes from their lanes). */
		for (size_t i = 0; i < run.n && !run.write; i++) {
			const struct dap_cmd *c = &run.cmds[i];
			size_t hdr = c->out[0] == DAP_TRANSFER_BLOCK ? 4 : 3;

			for (unsigned k = 0; k < run.nwords[i]; k++) {
				uint32_t le;

				memcpy(&le, c->in + hdr + 4 * k, 4);
				if (usize == 4) {
					memcpy(want + want_len, &le, 4);
					want_len += 4;
				} else {
					want[want_len++] =
						(uint8_t)(le32toh(le) >>
							  (8 * ((run.first_addr[i] + k) % 4)));
				}
			}
		}
		if (!run.write && (want_len != len || memcmp(rbuf, want, len) != 0))
			abort();
		break;
	case LPA_ERR_WAIT:
	case LPA_ERR_FAULT:
	case LPA_ERR_NO_TARGET:
	case LPA_ERR_PROTOCOL:
		if ((r == LPA_ERR_PROTOCOL) != (why != DAP_BAD_NONE) || why >= DAP_BAD_LAST ||
		    dap_cmd_bad_str(why)[0] == '\0')
			abort();
		if (failed >= run.n || fault < addr ||
		    (uint64_t)fault >= (uint64_t)addr + (len ? len : 1))
			abort();
		break;
	default:
		abort(); /* a run has no value-match reads: MISMATCH is malformed */
	}
	dap_cmd_run_free(&run);
	return 0;
}
