/*
 * dap-cmd.c — CMSIS-DAP transfer commands built and their responses checked, without a
 * probe (dap-cmd.h). Layouts are CMSIS-DAP v2's (DAP_Transfer: 0x05, index, count,
 * requests; response 0x05, count done, response byte, read data. DAP_TransferBlock: 0x06,
 * index, count (16 bit), one request; response 0x06, count done (16 bit), response byte,
 * read data).
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "dap-cmd.h"

static const char *const dap_cmd_bad_names[DAP_BAD_LAST] = {
	[DAP_BAD_NONE] = "no error",
	[DAP_BAD_EMPTY] = "empty response",
	[DAP_BAD_ECHO] = "response to another command",
	[DAP_BAD_HEADER] = "response shorter than its header",
	[DAP_BAD_COUNT_OVER] = "more transfers done than asked for",
	[DAP_BAD_PARITY] = "SWD parity error in read data",
	[DAP_BAD_ACK] = "invalid SWD acknowledge",
	[DAP_BAD_MATCH] = "value mismatch without a value-match read",
	[DAP_BAD_COUNT_SHORT] = "fewer transfers done than asked, yet acknowledged OK",
	[DAP_BAD_DATA] = "read data missing",
	[DAP_BAD_REQUEST] = "malformed request",
};

const char *dap_cmd_bad_str(enum dap_bad why)
{
	return (unsigned)why < DAP_BAD_LAST ? dap_cmd_bad_names[why] : "unknown reason";
}

static int dap_cmd_bad(enum dap_bad *why, enum dap_bad reason)
{
	*why = reason;
	return LPA_ERR_PROTOCOL;
}

/* Whether a transfer request gets read data back (a value-match read does not). */
static bool dap_cmd_req_has_data(uint8_t req)
{
	return (req & REQ_READ) && !(req & REQ_MATCH_VALUE);
}

/*
 * Walks the requests of our own DAP_Transfer: the reads with data among the first done
 * and among all of them, and the request at index done (the one that stopped the run).
 * False when the requests do not fill the command exactly, or use a bit we never send.
 */
static bool dap_cmd_transfer_reads(const struct dap_cmd *c, unsigned asked, unsigned done,
				   unsigned *reads_done, unsigned *reads_all, int *stop_req)
{
	size_t off = 3;

	*reads_done = *reads_all = 0;
	*stop_req = -1;
	for (unsigned i = 0; i < asked; i++) {
		uint8_t req;

		if (off >= c->out_len)
			return false;
		req = c->out[off++];
		/* Timestamps (0x80) and match-mask reads are not ours. */
		if ((req & 0x80) || ((req & REQ_MATCH_MASK) && (req & (REQ_READ | REQ_AP))))
			return false;
		if (i == done)
			*stop_req = req;
		if (dap_cmd_req_has_data(req)) {
			*reads_all += 1;
			*reads_done += i < done;
			continue;
		}
		if (off + 4 > c->out_len) /* the value written or matched */
			return false;
		off += 4;
	}
	return off == c->out_len;
}

int dap_cmd_check(const struct dap_cmd *c, struct dap_reply *rep, enum dap_bad *why)
{
	unsigned hdr, reads_done, reads_all, avail;
	int stop_req = -1;

	memset(rep, 0, sizeof(*rep));
	*why = DAP_BAD_NONE;
	if (c->out_len < 1 || c->out_len > sizeof(c->out) || c->in_len > sizeof(c->in))
		return dap_cmd_bad(why, DAP_BAD_REQUEST);
	if (c->in_len == 0)
		return dap_cmd_bad(why, DAP_BAD_EMPTY);
	if (c->in[0] != c->out[0])
		return dap_cmd_bad(why, DAP_BAD_ECHO);
	switch (c->out[0]) {
	case DAP_TRANSFER:
		hdr = 3;
		if (c->out_len < 3)
			return dap_cmd_bad(why, DAP_BAD_REQUEST);
		rep->asked = c->out[2];
		if (c->in_len < hdr)
			return dap_cmd_bad(why, DAP_BAD_HEADER);
		rep->done = c->in[1];
		rep->resp = c->in[2];
		if (!dap_cmd_transfer_reads(c, rep->asked, rep->done, &reads_done, &reads_all,
					    &stop_req))
			return dap_cmd_bad(why, DAP_BAD_REQUEST);
		break;
	case DAP_TRANSFER_BLOCK: {
		uint8_t req;

		hdr = 4;
		if (c->out_len < 5)
			return dap_cmd_bad(why, DAP_BAD_REQUEST);
		rep->asked = (unsigned)c->out[2] | (unsigned)c->out[3] << 8;
		req = c->out[4];
		if ((req & ~(REQ_AP | REQ_READ | 0x0C)) != 0 ||
		    c->out_len != 5 + ((req & REQ_READ) ? 0 : 4 * (size_t)rep->asked))
			return dap_cmd_bad(why, DAP_BAD_REQUEST);
		if (c->in_len < hdr)
			return dap_cmd_bad(why, DAP_BAD_HEADER);
		rep->done = (unsigned)c->in[1] | (unsigned)c->in[2] << 8;
		rep->resp = c->in[3];
		reads_all = (req & REQ_READ) ? rep->asked : 0;
		reads_done = (req & REQ_READ) ? rep->done : 0;
		break;
	}
	default:
		/* Every other command answers at least a status byte. */
		if (c->in_len < 2)
			return dap_cmd_bad(why, DAP_BAD_HEADER);
		rep->resp = c->in[1];
		return LPA_OK;
	}
	if (rep->done > rep->asked)
		return dap_cmd_bad(why, DAP_BAD_COUNT_OVER);
	/* A failed posted AP read may be counted before its data came back: only the words
	 * that are there count as delivered. */
	avail = (unsigned)((c->in_len - hdr) / 4);
	rep->data = c->in + hdr;
	rep->words = reads_done < avail ? reads_done : avail;
	if (rep->resp & RESP_PROTOCOL_ERROR)
		return dap_cmd_bad(why, DAP_BAD_PARITY);
	switch (rep->resp & 7) {
	case ACK_OK:
		if (rep->resp & RESP_MISMATCH) {
			/* Only a value-match read can give up, and it ends the transfer. */
			if (stop_req < 0 || !(stop_req & REQ_MATCH_VALUE))
				return dap_cmd_bad(why, DAP_BAD_MATCH);
			return LPA_ERR_MISMATCH;
		}
		if (rep->done != rep->asked)
			return dap_cmd_bad(why, DAP_BAD_COUNT_SHORT);
		if (rep->words < reads_all)
			return dap_cmd_bad(why, DAP_BAD_DATA);
		return LPA_OK;
	case ACK_WAIT:
		return LPA_ERR_WAIT;
	case ACK_FAULT:
		return LPA_ERR_FAULT;
	case ACK_NOACK:
		return LPA_ERR_NO_TARGET;
	default:
		return dap_cmd_bad(why, DAP_BAD_ACK);
	}
}

/* ------------------------------------------------------------ DAP_Transfer */
void dap_cmd_xfer_init(struct dap_xfer *x)
{
	x->cmd.out[0] = DAP_TRANSFER;
	x->cmd.out[1] = 0; /* DAP index */
	x->cmd.out[2] = 0; /* count, set by dap_cmd_xfer_finish */
	x->cmd.out_len = 3;
	x->cmd.in_len = 0;
	x->count = 0;
	x->nreads = 0;
}

bool dap_cmd_xfer_room(const struct dap_xfer *x, uint16_t pkt_size, bool write, unsigned n)
{
	size_t req = x->cmd.out_len + (write ? 5 : 1) * (size_t)n;
	size_t resp = 3 + 4 * ((size_t)x->nreads + (write ? 0 : n));

	return n > 0 && x->count + n <= 255 && x->nreads + (write ? 0 : n) <= DAP_MAX_READS &&
	       req <= pkt_size && resp <= pkt_size;
}

void dap_cmd_xfer_add(struct dap_xfer *x, uint8_t req, uint32_t wval, uint32_t *rval)
{
	x->cmd.out[x->cmd.out_len++] = req;
	if (dap_cmd_req_has_data(req)) {
		x->reads[x->nreads++] = rval;
	} else {
		/* A write's value, or the value a value-match read waits for. */
		uint32_t le = htole32(wval);

		memcpy(x->cmd.out + x->cmd.out_len, &le, 4);
		x->cmd.out_len += 4;
	}
	x->count++;
}

void dap_cmd_xfer_select(struct dap_xfer *x, struct dap_adi *adi, uint8_t ap, uint8_t reg)
{
	uint32_t sel = (uint32_t)ap << 24 | (reg & 0xF0);

	if (adi->select_valid && adi->select == sel)
		return;
	dap_cmd_xfer_add(x, DP_SELECT, sel, NULL);
	adi->select = sel;
	adi->select_valid = true;
}

void dap_cmd_xfer_finish(struct dap_xfer *x)
{
	x->cmd.out[2] = (uint8_t)x->count;
}

int dap_cmd_xfer_check(struct dap_xfer *x, struct dap_reply *rep, enum dap_bad *why)
{
	int r = dap_cmd_check(&x->cmd, rep, why);

	/* The reads done before a WAIT, FAULT or a poll that gave up count too (DPIDR
	 * before the power-up poll); nothing of a malformed response does. */
	if (r == LPA_ERR_PROTOCOL)
		return r;
	for (unsigned i = 0; i < x->nreads && i < rep->words; i++) {
		uint32_t le;

		memcpy(&le, rep->data + 4 * i, 4);
		if (x->reads[i] != NULL)
			*x->reads[i] = le32toh(le);
	}
	return r;
}

/* ------------------------------------------------------------ memory runs */
static struct dap_cmd *dap_cmd_run_add(struct dap_run *run, uint32_t addr, uint32_t words)
{
	if (run->n == run->cap) {
		size_t cap = run->cap ? run->cap * 2 : 16;
		struct dap_cmd *c = realloc(run->cmds, cap * sizeof(*c));
		uint32_t *a = realloc(run->first_addr, cap * sizeof(*a));
		uint32_t *w = realloc(run->nwords, cap * sizeof(*w));

		if (c != NULL)
			run->cmds = c;
		if (a != NULL)
			run->first_addr = a;
		if (w != NULL)
			run->nwords = w;
		if (c == NULL || a == NULL || w == NULL)
			return NULL;
		run->cap = cap;
	}
	run->first_addr[run->n] = addr;
	run->nwords[run->n] = words;
	run->cmds[run->n].in_len = 0;
	return &run->cmds[run->n++];
}

void dap_cmd_run_free(struct dap_run *run)
{
	free(run->cmds);
	free(run->first_addr);
	free(run->nwords);
	memset(run, 0, sizeof(*run));
}

int dap_cmd_run_build(struct dap_run *run, struct dap_adi *adi, uint16_t pkt_size, bool write,
		      uint8_t ap, uint32_t addr, unsigned size, const uint8_t *buf, size_t len,
		      uint32_t csw)
{
	unsigned max_w = (unsigned)((pkt_size - 5) / 4), max_r = (unsigned)((pkt_size - 4) / 4);
	unsigned per_block = write ? max_w : max_r;
	size_t off = 0;

	memset(run, 0, sizeof(*run));
	run->write = write;
	run->ap = ap;
	run->size = size;
	run->addr = addr;
	run->len = len;
	if (pkt_size < 64 || pkt_size > DAP_MAX_PACKET || (size != 1 && size != 4) ||
	    len % size != 0 || (size == 1 && len > 8) || (size == 4 && addr % 4 != 0) ||
	    (uint64_t)addr + len > (1ull << 32))
		return LPA_ERR_INVAL;
	while (off < len) {
		uint32_t a = addr + (uint32_t)off;
		size_t page_left = TAR_PAGE - (a % TAR_PAGE);
		size_t chunk = len - off < page_left ? len - off : page_left;
		struct dap_xfer x;
		struct dap_cmd *c;

		/* Header: SELECT, CSW (when they change), TAR. */
		dap_cmd_xfer_init(&x);
		dap_cmd_xfer_select(&x, adi, ap, AP_CSW);
		if (!adi->csw_valid[ap] || adi->csw[ap] != csw) {
			dap_cmd_xfer_add(&x, REQ_AP | AP_CSW, csw, NULL);
			adi->csw[ap] = csw;
			adi->csw_valid[ap] = true;
		}
		dap_cmd_xfer_add(&x, REQ_AP | AP_TAR, a, NULL);
		if (size == 1) {
			/* Byte accesses: each DRW carries its byte in lane a % 4; runs are
			 * short (at most 8 bytes), one packet suffices. */
			for (size_t i = 0; i < chunk; i++) {
				if (write)
					dap_cmd_xfer_add(&x, REQ_AP | AP_DRW,
							 (uint32_t)buf[off + i]
								 << (8 * ((a + i) % 4)),
							 NULL);
				else
					dap_cmd_xfer_add(&x, REQ_AP | AP_DRW | REQ_READ, 0, NULL);
			}
			dap_cmd_xfer_finish(&x);
			if ((c = dap_cmd_run_add(run, a, (uint32_t)chunk)) == NULL)
				goto nomem;
			*c = x.cmd;
			off += chunk;
			continue;
		}
		/* A short run rides in the header's DAP_Transfer: one command instead of
		 * two, which is what most single-register accesses (IPC calls) are. */
		if (dap_cmd_xfer_room(&x, pkt_size, write, (unsigned)(chunk / 4))) {
			for (size_t i = 0; i < chunk / 4; i++) {
				uint32_t le = 0;

				if (write)
					memcpy(&le, buf + off + 4 * i, 4);
				dap_cmd_xfer_add(&x, REQ_AP | AP_DRW | (write ? 0 : REQ_READ),
						 le32toh(le), NULL);
			}
			dap_cmd_xfer_finish(&x);
			if ((c = dap_cmd_run_add(run, a, (uint32_t)(chunk / 4))) == NULL)
				goto nomem;
			*c = x.cmd;
			off += chunk;
			continue;
		}
		dap_cmd_xfer_finish(&x);
		if ((c = dap_cmd_run_add(run, a, 0)) == NULL)
			goto nomem;
		*c = x.cmd;
		for (size_t w = 0; w < chunk / 4; w += per_block) {
			unsigned nw =
				(unsigned)(chunk / 4 - w < per_block ? chunk / 4 - w : per_block);

			if ((c = dap_cmd_run_add(run, a + (uint32_t)w * 4, nw)) == NULL)
				goto nomem;
			c->out[0] = DAP_TRANSFER_BLOCK;
			c->out[1] = 0;
			c->out[2] = (uint8_t)nw;
			c->out[3] = (uint8_t)(nw >> 8);
			c->out[4] = (uint8_t)(REQ_AP | AP_DRW | (write ? 0 : REQ_READ));
			c->out_len = 5;
			if (write) {
				memcpy(c->out + 5, buf + off + w * 4, nw * 4u);
				c->out_len += nw * 4u;
			}
		}
		off += chunk;
	}
	return LPA_OK;
nomem:
	dap_cmd_run_free(run);
	return LPA_ERR_NOMEM;
}

/* The read data of a command that succeeded, into out. */
static void dap_cmd_run_copy(const struct dap_run *run, size_t i, const struct dap_reply *rep,
			     uint8_t *out)
{
	if (run->size == 4) {
		memcpy(out, rep->data, 4 * (size_t)run->nwords[i]);
		return;
	}
	for (size_t k = 0; k < run->nwords[i]; k++) {
		uint32_t le;

		memcpy(&le, rep->data + 4 * k, 4);
		out[k] = (uint8_t)(le32toh(le) >> (8 * ((run->first_addr[i] + k) % 4)));
	}
}

int dap_cmd_run_check(const struct dap_run *run, uint8_t *buf, uint32_t *fault_addr, size_t *failed,
		      enum dap_bad *why)
{
	size_t off = 0;

	*why = DAP_BAD_NONE;
	*failed = 0;
	*fault_addr = run->addr;
	for (size_t i = 0; i < run->n; i++) {
		const struct dap_cmd *c = &run->cmds[i];
		struct dap_reply rep;
		unsigned ok = 0;
		int r = dap_cmd_check(c, &rep, why);

		if (r == LPA_OK) {
			if (!run->write)
				dap_cmd_run_copy(run, i, &rep, buf + off);
			off += (size_t)run->nwords[i] * run->size;
			continue;
		}
		/* The words before the failing one are done (reads: and delivered), so a
		 * caller can resume after them on WAIT. Nothing of a malformed response, nor
		 * of a byte run (its lanes differ per address), is trusted. */
		if (r != LPA_ERR_PROTOCOL && run->size == 4) {
			unsigned hdr =
				c->out[0] == DAP_TRANSFER_BLOCK ? 0 : rep.asked - run->nwords[i];

			ok = rep.done > hdr ? rep.done - hdr : 0;
			if (!run->write && ok > rep.words)
				ok = rep.words;
			/* Every data word acknowledged and still a failure: a posted access
			 * reports its fault on the access after it, so the last word is the
			 * one at fault (and a run ending at 4 GiB names no address past it). */
			if (ok >= run->nwords[i])
				ok = run->nwords[i] ? run->nwords[i] - 1 : 0;
			if (!run->write)
				memcpy(buf + off, rep.data, 4 * (size_t)ok);
		}
		*fault_addr = run->first_addr[i] + 4 * ok;
		*failed = i;
		return r;
	}
	return LPA_OK;
}
