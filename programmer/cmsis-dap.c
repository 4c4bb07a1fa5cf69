/*
 * cmsis-dap.c — the native backend: CMSIS-DAP v2 over libusb bulk transfers, with the
 * ADIv5 DP/MEM-AP layer on top.
 *
 * Speed comes from round trips, not bytes: a 64-byte full-speed packet costs a USB frame
 * either way. So commands are packed (many DP/AP accesses into one DAP_Transfer, memory
 * runs into DAP_TransferBlock) and pipelined (up to the probe's packet count in flight
 * before the first response is awaited). A FAULT in a pipelined run is mapped back to
 * the word that caused it.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libusb.h>

#include "programmer-private.h"

#define DAP_INFO 0x00
#define DAP_HOST_STATUS 0x01
#define DAP_CONNECT 0x02
#define DAP_DISCONNECT 0x03
#define DAP_TRANSFER_CONFIGURE 0x04
#define DAP_TRANSFER 0x05
#define DAP_TRANSFER_BLOCK 0x06
#define DAP_WRITE_ABORT 0x08
#define DAP_SWJ_CLOCK 0x11
#define DAP_SWJ_SEQUENCE 0x12
#define DAP_SWD_CONFIGURE 0x13

#define REQ_AP 0x01
#define REQ_READ 0x02
#define REQ_MATCH_VALUE 0x10
#define REQ_MATCH_MASK 0x20

#define ACK_OK 1
#define ACK_WAIT 2
#define ACK_FAULT 4
#define ACK_NOACK 7
#define RESP_PROTOCOL_ERROR 0x08
#define RESP_MISMATCH 0x10
/* How often the probe re-reads a value-match poll before it gives up and the host polls:
 * about 1 s at 1 MHz SWD, inside one USB timeout. */
#define DAP_MATCH_RETRY 20000

#define DP_DPIDR 0x0
#define DP_ABORT 0x0
#define DP_CTRL_STAT 0x4
#define DP_SELECT 0x8

#define AP_CSW 0x00
#define AP_TAR 0x04
#define AP_DRW 0x0C

#define CSW_SIZE_MASK 0x07
#define CSW_ADDRINC_MASK 0x30
#define CSW_ADDRINC_SINGLE 0x10

#define ABORT_ALL_STICKY 0x1E /* STKCMPCLR | STKERRCLR | WDERRCLR | ORUNERRCLR */
#define CTRL_PWRUP_REQ 0x50000000u
#define CTRL_PWRUP_ACK 0xA0000000u

/* TAR auto-increment is only guaranteed within a 1 KiB page (ADIv5). */
#define TAR_PAGE 1024

#define DAP_MAX_PACKET 1024
#define DAP_MAX_INFLIGHT 8

struct dap {
	libusb_context *usb;
	struct probe_usb pu;
	uint16_t pkt_size;
	uint8_t pkt_count;
	unsigned timeout_ms;
	unsigned clock_hz;
	bool port_open; /* DAP_Connect done, no DAP_Disconnect since */
	/* ADI state the probe keeps for us; invalidated whenever it may have changed. */
	bool select_valid;
	uint32_t select;
	bool csw_valid[256];
	uint32_t csw[256];
	struct prog_counters ctr;
	char err[160];
};

/* One command of a pipelined batch. */
struct dap_cmd {
	uint8_t out[DAP_MAX_PACKET];
	size_t out_len;
	uint8_t in[DAP_MAX_PACKET];
	size_t in_len;
};

static void dap_set_usb_err(struct dap *d, const char *what, int code)
{
	snprintf(d->err, sizeof(d->err), "USB %s: %s", what, libusb_error_name(code));
}

/*
 * Sends n commands with up to pkt_count in flight and collects every response. The
 * counters see one round trip per window of pkt_count commands: the host waits once per
 * window, the probe works through the queued packets meanwhile.
 */
static int dap_exchange(struct dap *d, struct dap_cmd *cmds, size_t n)
{
	size_t sent = 0, got = 0;
	unsigned window = d->pkt_count ? d->pkt_count : 1;
	int e, x;

	if (window > DAP_MAX_INFLIGHT)
		window = DAP_MAX_INFLIGHT;
	while (got < n) {
		while (sent < n && sent - got < window) {
			e = libusb_bulk_transfer(d->pu.handle, d->pu.ep_out, cmds[sent].out,
						 (int)cmds[sent].out_len, &x, d->timeout_ms);
			if (e != 0) {
				dap_set_usb_err(d, "write", e);
				return probe_usb_err(e);
			}
			d->ctr.commands++;
			d->ctr.bytes_out += cmds[sent].out_len;
			sent++;
		}
		if (got % window == 0)
			d->ctr.round_trips++;
		e = libusb_bulk_transfer(d->pu.handle, d->pu.ep_in, cmds[got].in, d->pkt_size, &x,
					 d->timeout_ms);
		if (e != 0) {
			dap_set_usb_err(d, "read", e);
			return probe_usb_err(e);
		}
		d->ctr.bytes_in += (size_t)x;
		cmds[got].in_len = (size_t)x;
		if (x < 1 || cmds[got].in[0] != cmds[got].out[0]) {
			snprintf(d->err, sizeof(d->err), "probe answered 0x%02x to command 0x%02x",
				 x < 1 ? 0 : cmds[got].in[0], cmds[got].out[0]);
			return LPA_ERR_PROTOCOL;
		}
		got++;
	}
	return LPA_OK;
}

static int dap_simple(struct dap *d, const uint8_t *out, size_t len, uint8_t *status)
{
	struct dap_cmd c;
	int r;

	memcpy(c.out, out, len);
	c.out_len = len;
	if ((r = dap_exchange(d, &c, 1)) != LPA_OK)
		return r;
	if (c.in_len < 2)
		return LPA_ERR_PROTOCOL;
	*status = c.in[1];
	return LPA_OK;
}

static int dap_ack_err(struct dap *d, uint8_t resp)
{
	if (resp & RESP_PROTOCOL_ERROR) {
		snprintf(d->err, sizeof(d->err), "SWD protocol (parity) error");
		return LPA_ERR_PROTOCOL;
	}
	switch (resp & 7) {
	case ACK_OK:
		return LPA_OK;
	case ACK_WAIT:
		return LPA_ERR_WAIT;
	case ACK_FAULT:
		return LPA_ERR_FAULT;
	case ACK_NOACK:
		snprintf(d->err, sizeof(d->err), "no acknowledge from the target");
		return LPA_ERR_NO_TARGET;
	default:
		snprintf(d->err, sizeof(d->err), "invalid SWD acknowledge %u", resp & 7);
		return LPA_ERR_PROTOCOL;
	}
}

/* After FAULT or WAIT: clear the sticky flags (and abort a stalled AP access) so the
 * next transaction starts clean; the cached SELECT/CSW stay valid. */
static void dap_recover(struct dap *d, int why)
{
	uint8_t cmd[6] = {DAP_WRITE_ABORT, 0}, st;
	uint32_t v = ABORT_ALL_STICKY | (why == LPA_ERR_WAIT ? 1u : 0u);

	memcpy(cmd + 2, &(uint32_t){htole32(v)}, 4);
	(void)dap_simple(d, cmd, sizeof(cmd), &st);
}

/* -------------------------------------------------- DAP_Transfer batches */
struct dap_xfer {
	struct dap_cmd cmd;
	unsigned count;
	unsigned nreads;
	uint32_t *reads[64]; /* where each read's value goes */
};

static void dap_xfer_init(struct dap_xfer *x)
{
	x->cmd.out[0] = DAP_TRANSFER;
	x->cmd.out[1] = 0; /* DAP index */
	x->cmd.out[2] = 0; /* count, filled at the end */
	x->cmd.out_len = 3;
	x->count = 0;
	x->nreads = 0;
}

/* Whether n more DRW accesses fit this DAP_Transfer, request and response alike. */
static bool dap_xfer_room(const struct dap *d, const struct dap_xfer *x, bool write, unsigned n)
{
	size_t req = x->cmd.out_len + (write ? 5 : 1) * (size_t)n;
	size_t resp = 3 + 4 * ((size_t)x->nreads + (write ? 0 : n));

	return n > 0 && x->count + n <= 255 && x->nreads + (write ? 0 : n) <= 64 &&
	       req <= d->pkt_size && resp <= d->pkt_size;
}

static void dap_xfer_add(struct dap_xfer *x, uint8_t req, uint32_t wval, uint32_t *rval)
{
	x->cmd.out[x->cmd.out_len++] = req;
	if (req & REQ_READ) {
		x->reads[x->nreads++] = rval;
	} else {
		uint32_t le = htole32(wval);

		memcpy(x->cmd.out + x->cmd.out_len, &le, 4);
		x->cmd.out_len += 4;
	}
	x->count++;
}

static int dap_xfer_run(struct dap *d, struct dap_xfer *x)
{
	int r;

	x->cmd.out[2] = (uint8_t)x->count;
	if ((r = dap_exchange(d, &x->cmd, 1)) != LPA_OK)
		return r;
	if (x->cmd.in_len < 3)
		return LPA_ERR_PROTOCOL;
	if ((r = dap_ack_err(d, x->cmd.in[2])) != LPA_OK || x->cmd.in[1] != x->count) {
		if (r == LPA_OK)
			r = LPA_ERR_PROTOCOL;
		if (r == LPA_ERR_FAULT || r == LPA_ERR_WAIT)
			dap_recover(d, r);
		if (r == LPA_ERR_NO_TARGET || r == LPA_ERR_PROTOCOL)
			d->select_valid = false;
		return r;
	}
	if (x->cmd.in_len < 3 + 4 * (size_t)x->nreads)
		return LPA_ERR_PROTOCOL;
	for (unsigned i = 0; i < x->nreads; i++) {
		uint32_t le;

		memcpy(&le, x->cmd.in + 3 + 4 * i, 4);
		*x->reads[i] = le32toh(le);
	}
	return LPA_OK;
}

/* The SELECT write an AP access needs, if any, added to x. */
static void dap_xfer_select(struct dap *d, struct dap_xfer *x, uint8_t ap, uint8_t reg)
{
	uint32_t sel = (uint32_t)ap << 24 | (reg & 0xF0);

	if (d->select_valid && d->select == sel)
		return;
	dap_xfer_add(x, DP_SELECT, sel, NULL);
	d->select = sel;
	d->select_valid = true;
}

static int dap_one(struct dap *d, bool ap, uint8_t apnum, uint8_t reg, bool read, uint32_t *val)
{
	struct dap_xfer x;
	uint8_t req = (uint8_t)((reg & 0x0C) | (read ? REQ_READ : 0) | (ap ? REQ_AP : 0));
	int r;

	dap_xfer_init(&x);
	if (ap)
		dap_xfer_select(d, &x, apnum, reg);
	dap_xfer_add(&x, req, read ? 0 : *val, val);
	if ((r = dap_xfer_run(d, &x)) != LPA_OK)
		d->select_valid = false; /* unknown whether the SELECT write landed */
	return r;
}

/* ------------------------------------------------------------ link ops */
static int dap_dp_read(void *ctx, uint8_t reg, uint32_t *val)
{
	return dap_one(ctx, false, 0, reg, true, val);
}

static int dap_dp_write(void *ctx, uint8_t reg, uint32_t val)
{
	struct dap *d = ctx;

	if (reg == DP_SELECT)
		d->select_valid = false;
	return dap_one(d, false, 0, reg, false, &val);
}

static int dap_ap_read(void *ctx, uint8_t ap, uint8_t reg, uint32_t *val)
{
	return dap_one(ctx, true, ap, reg, true, val);
}

static int dap_ap_write(void *ctx, uint8_t ap, uint8_t reg, uint32_t val)
{
	struct dap *d = ctx;

	if (reg == AP_CSW)
		d->csw_valid[ap] = false;
	return dap_one(d, true, ap, reg, false, &val);
}

/* CSW for size-byte accesses with single auto-increment, keeping the AP's other bits
 * (HPROT, master type) as the chip reset them. */
static int dap_csw_for(struct dap *d, uint8_t ap, unsigned size, bool inc, uint32_t *csw)
{
	int r;

	if (!d->csw_valid[ap]) {
		if ((r = dap_one(d, true, ap, AP_CSW, true, &d->csw[ap])) != LPA_OK)
			return r;
		d->csw_valid[ap] = true;
	}
	*csw = (d->csw[ap] & ~(uint32_t)(CSW_SIZE_MASK | CSW_ADDRINC_MASK)) |
	       (size == 4 ? 2u : 0u) | (inc ? CSW_ADDRINC_SINGLE : 0u);
	return LPA_OK;
}

/*
 * A memory run as a list of commands: per 1 KiB page, a DAP_Transfer that sets SELECT,
 * CSW and TAR as needed, then DAP_TransferBlock packets of DRW words. 8-bit runs use
 * single DAP_Transfer DRW accesses (byte lanes differ per address).
 */
struct dap_run {
	struct dap_cmd *cmds;
	size_t n, cap;
	uint32_t *first_addr; /* address of each command's first data word */
	uint32_t *nwords;     /* data words each command moves */
};

static struct dap_cmd *dap_run_add(struct dap_run *run, uint32_t addr, uint32_t words)
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
	return &run->cmds[run->n++];
}

static void dap_run_free(struct dap_run *run)
{
	free(run->cmds);
	free(run->first_addr);
	free(run->nwords);
}

static int dap_mem(struct dap *d, bool write, uint8_t ap, uint32_t addr, unsigned size,
		   uint8_t *buf, size_t len, uint32_t *fault_addr)
{
	struct dap_run run = {0};
	uint32_t csw;
	size_t off = 0;
	unsigned max_w = (unsigned)((d->pkt_size - 5) / 4),
		 max_r = (unsigned)((d->pkt_size - 4) / 4);
	unsigned per_block = write ? max_w : max_r;
	int r;

	if (size == 1 && len > 8)
		return LPA_ERR_INVAL;
	if ((r = dap_csw_for(d, ap, size, true, &csw)) != LPA_OK)
		return r;
	while (off < len) {
		uint32_t a = addr + (uint32_t)off;
		size_t page_left = TAR_PAGE - (a % TAR_PAGE);
		size_t chunk = len - off < page_left ? len - off : page_left;
		struct dap_xfer x;
		struct dap_cmd *c;

		/* Header: SELECT, CSW (when it changes), TAR. */
		dap_xfer_init(&x);
		dap_xfer_select(d, &x, ap, AP_CSW);
		if (!d->csw_valid[ap] || d->csw[ap] != csw) {
			dap_xfer_add(&x, REQ_AP | AP_CSW, csw, NULL);
			d->csw[ap] = csw;
			d->csw_valid[ap] = true;
		}
		dap_xfer_add(&x, REQ_AP | AP_TAR, a, NULL);
		if (size == 1) {
			/* Byte accesses: each DRW carries its byte in lane a % 4; runs are
			 * short (link.c uses them for single bytes), one packet suffices. */
			for (size_t i = 0; i < chunk; i++) {
				if (write)
					dap_xfer_add(&x, REQ_AP | AP_DRW,
						     (uint32_t)buf[off + i] << (8 * ((a + i) % 4)),
						     NULL);
				else
					dap_xfer_add(&x, REQ_AP | AP_DRW | REQ_READ, 0, NULL);
			}
			x.cmd.out[2] = (uint8_t)x.count;
			if ((c = dap_run_add(&run, a, (uint32_t)chunk)) == NULL)
				goto nomem;
			*c = x.cmd;
			off += chunk;
			continue;
		}
		/* A short run rides in the header's DAP_Transfer: one command instead of
		 * two, which is what most single-register accesses (IPC calls) are. */
		if (dap_xfer_room(d, &x, write, (unsigned)(chunk / 4))) {
			for (size_t i = 0; i < chunk / 4; i++) {
				uint32_t le;

				memcpy(&le, buf + off + 4 * i, 4);
				if (write)
					dap_xfer_add(&x, REQ_AP | AP_DRW, le32toh(le), NULL);
				else
					dap_xfer_add(&x, REQ_AP | AP_DRW | REQ_READ, 0, NULL);
			}
			x.cmd.out[2] = (uint8_t)x.count;
			if ((c = dap_run_add(&run, a, (uint32_t)(chunk / 4))) == NULL)
				goto nomem;
			*c = x.cmd;
			off += chunk;
			continue;
		}
		x.cmd.out[2] = (uint8_t)x.count;
		if ((c = dap_run_add(&run, a, 0)) == NULL)
			goto nomem;
		*c = x.cmd;
		for (size_t w = 0; w < chunk / 4; w += per_block) {
			unsigned nw =
				(unsigned)(chunk / 4 - w < per_block ? chunk / 4 - w : per_block);

			if ((c = dap_run_add(&run, a + (uint32_t)w * 4, nw)) == NULL)
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

	if ((r = dap_exchange(d, run.cmds, run.n)) != LPA_OK) {
		d->select_valid = false;
		d->csw_valid[ap] = false;
		goto out;
	}
	/* Check every response in order; the first failure names the faulting word. */
	off = 0;
	for (size_t i = 0; i < run.n; i++) {
		struct dap_cmd *c = &run.cmds[i];
		unsigned done, expect;
		uint8_t ack;
		const uint8_t *data;

		if (c->out[0] == DAP_TRANSFER_BLOCK) {
			if (c->in_len < 4)
				goto proto;
			done = (unsigned)(c->in[1] | c->in[2] << 8);
			ack = c->in[3];
			data = c->in + 4;
			expect = run.nwords[i];
		} else {
			if (c->in_len < 3)
				goto proto;
			done = c->in[1];
			ack = c->in[2];
			data = c->in + 3;
			expect = c->out[2];
		}
		if ((r = dap_ack_err(d, ack)) != LPA_OK || done != expect) {
			if (r == LPA_OK) {
				snprintf(d->err, sizeof(d->err),
					 "probe did %u of %u transfers but answered OK", done,
					 expect);
				r = LPA_ERR_PROTOCOL;
			}
			/* The words before the failing one are done; keep what a failed read
			 * delivered, so the caller can resume after it on WAIT. */
			{
				unsigned hdr = c->out[0] == DAP_TRANSFER_BLOCK
						       ? 0
						       : c->out[2] - run.nwords[i];
				unsigned ok_words = done > hdr ? done - hdr : 0;

				if (size == 1)
					ok_words = 0;
				if (!write && ok_words <= run.nwords[i] &&
				    c->in_len >= (size_t)(data - c->in) + 4 * (size_t)ok_words)
					memcpy(buf + off, data, 4 * (size_t)ok_words);
				*fault_addr = run.first_addr[i] + 4 * ok_words;
			}
			if (r == LPA_ERR_FAULT || r == LPA_ERR_WAIT)
				dap_recover(d, r);
			d->select_valid = false;
			d->csw_valid[ap] = false;
			if (r == LPA_ERR_FAULT)
				snprintf(d->err, sizeof(d->err), "bus fault at 0x%08x",
					 *fault_addr);
			goto out;
		}
		if (write)
			continue;
		if (c->out[0] == DAP_TRANSFER_BLOCK) {
			if (c->in_len < 4 + 4 * (size_t)done)
				goto proto;
			memcpy(buf + off, data, 4 * (size_t)done);
			off += 4 * (size_t)done;
		} else if (size == 4 && run.nwords[i] > 0) {
			/* Reads in a DAP_Transfer: the response carries just the read data. */
			if (c->in_len < 3 + 4 * (size_t)run.nwords[i])
				goto proto;
			memcpy(buf + off, data, 4 * (size_t)run.nwords[i]);
			off += 4 * (size_t)run.nwords[i];
		} else if (size == 1 && run.nwords[i] > 0) {
			/* The reads are the last nwords requests of the command. */
			size_t nreads = run.nwords[i];
			uint32_t a0 = run.first_addr[i];

			if (c->in_len < 3 + 4 * nreads)
				goto proto;
			for (size_t k = 0; k < nreads; k++) {
				uint32_t le;

				memcpy(&le, data + 4 * k, 4);
				buf[off + k] = (uint8_t)(le32toh(le) >> (8 * ((a0 + k) % 4)));
			}
			off += nreads;
		}
	}
	r = LPA_OK;
	goto out;
proto:
	snprintf(d->err, sizeof(d->err), "short response from the probe");
	r = LPA_ERR_PROTOCOL;
	goto out;
nomem:
	r = LPA_ERR_NOMEM;
out:
	dap_run_free(&run);
	return r;
}

/*
 * A script of word accesses in as few DAP_Transfers as fit the packet size, one at a time
 * (a failure must stop what follows: after a failed acquire nothing may be written). A
 * POLL32 becomes a match-mask write and a value-match read: the probe itself re-reads
 * until the value matches.
 */
static int dap_mem_ops(void *ctx, uint8_t ap, const struct prog_op *ops, size_t n, size_t *done)
{
	struct dap *d = ctx;
	uint32_t csw;
	size_t i = 0;
	int r;

	*done = 0;
	/* No auto-increment: a poll re-reads the same word, it must not walk away from it. */
	if ((r = dap_csw_for(d, ap, 4, false, &csw)) != LPA_OK)
		return r;
	while (i < n) {
		struct dap_xfer x;
		uint8_t req_op[256]; /* the op each request belongs to */
		uint32_t reads[64];
		size_t first = i, resp_need;
		unsigned nr = 0;

		dap_xfer_init(&x);
		dap_xfer_select(d, &x, ap, AP_CSW);
		if (!d->csw_valid[ap] || d->csw[ap] != csw) {
			dap_xfer_add(&x, REQ_AP | AP_CSW, csw, NULL);
			d->csw[ap] = csw;
			d->csw_valid[ap] = true;
		}
		for (unsigned k = 0; k < x.count; k++)
			req_op[k] = 0;
		for (; i < n; i++) {
			/* TAR + at most a match-mask write and a read: 5 + 5 + 5 bytes. */
			resp_need = 3 + 4 * ((size_t)x.nreads + 1);
			if (x.count + 3 > 255 || x.cmd.out_len + 15 > d->pkt_size ||
			    resp_need > d->pkt_size || i - first >= 200)
				break;
			req_op[x.count] = (uint8_t)(i - first);
			dap_xfer_add(&x, REQ_AP | AP_TAR, ops[i].addr, NULL);
			req_op[x.count] = (uint8_t)(i - first);
			switch (ops[i].kind) {
			case PROG_OP_WRITE32:
				dap_xfer_add(&x, REQ_AP | AP_DRW, ops[i].value, NULL);
				break;
			case PROG_OP_READ32:
				dap_xfer_add(&x, REQ_AP | AP_DRW | REQ_READ, 0, &reads[nr++]);
				break;
			case PROG_OP_POLL32:
				dap_xfer_add(&x, REQ_MATCH_MASK, ops[i].mask, NULL);
				req_op[x.count] = (uint8_t)(i - first);
				/* A value-match read carries the expected value, not a result. */
				x.cmd.out[x.cmd.out_len++] =
					REQ_AP | AP_DRW | REQ_READ | REQ_MATCH_VALUE;
				memcpy(x.cmd.out + x.cmd.out_len,
				       &(uint32_t){htole32(ops[i].value)}, 4);
				x.cmd.out_len += 4;
				x.count++;
				break;
			}
		}
		x.cmd.out[2] = (uint8_t)x.count;
		if ((r = dap_exchange(d, &x.cmd, 1)) != LPA_OK) {
			d->select_valid = false;
			d->csw_valid[ap] = false;
			return r;
		}
		if (x.cmd.in_len < 3)
			return LPA_ERR_PROTOCOL;
		if (x.cmd.in[1] != x.count || (x.cmd.in[2] & 7) != ACK_OK ||
		    (x.cmd.in[2] & (RESP_MISMATCH | RESP_PROTOCOL_ERROR))) {
			unsigned did = x.cmd.in[1];

			if ((x.cmd.in[2] & 7) == ACK_OK && (x.cmd.in[2] & RESP_MISMATCH)) {
				*done = first + req_op[did < x.count ? did : x.count - 1];
				return LPA_ERR_MISMATCH;
			}
			r = dap_ack_err(d, x.cmd.in[2]);
			if (r == LPA_OK)
				r = LPA_ERR_PROTOCOL;
			if (r == LPA_ERR_FAULT || r == LPA_ERR_WAIT)
				dap_recover(d, r);
			d->select_valid = false;
			d->csw_valid[ap] = false;
			*done = first + req_op[did < x.count ? did : x.count - 1];
			return r;
		}
		if (x.cmd.in_len < 3 + 4 * (size_t)nr)
			return LPA_ERR_PROTOCOL;
		nr = 0;
		for (size_t k = first; k < i; k++) {
			uint32_t le;

			if (ops[k].kind != PROG_OP_READ32)
				continue;
			memcpy(&le, x.cmd.in + 3 + 4 * nr++, 4);
			*ops[k].out = le32toh(le);
		}
		*done = i;
	}
	return LPA_OK;
}

static int dap_mem_read(void *ctx, uint8_t ap, uint32_t addr, unsigned size, void *buf, size_t len,
			uint32_t *fault_addr)
{
	return dap_mem(ctx, false, ap, addr, size, buf, len, fault_addr);
}

static int dap_mem_write(void *ctx, uint8_t ap, uint32_t addr, unsigned size, const void *buf,
			 size_t len, uint32_t *fault_addr)
{
	return dap_mem(ctx, true, ap, addr, size, (uint8_t *)(uintptr_t)buf, len, fault_addr);
}

/* ------------------------------------------------------------ bring-up */
static int dap_setup(struct dap *d)
{
	uint8_t st;
	uint8_t connect[2] = {DAP_CONNECT, 1};
	uint8_t clock[5] = {DAP_SWJ_CLOCK};
	/* Idle cycles 0, WAIT retry 128, match retry for the probe-side polls. */
	uint8_t xfer_cfg[6] = {DAP_TRANSFER_CONFIGURE, 0, 128, 0, DAP_MATCH_RETRY & 0xFF,
			       DAP_MATCH_RETRY >> 8};
	uint8_t swd_cfg[2] = {DAP_SWD_CONFIGURE, 0};
	uint8_t host[3] = {DAP_HOST_STATUS, 0, 1};
	int r;

	uint32_t hz = htole32(d->clock_hz);

	memcpy(clock + 1, &hz, 4);
	if ((r = dap_simple(d, connect, sizeof(connect), &st)) != LPA_OK)
		return r;
	if (st != 1) {
		snprintf(d->err, sizeof(d->err), "probe refused SWD mode");
		return LPA_ERR_UNSUPPORTED;
	}
	if ((r = dap_simple(d, clock, sizeof(clock), &st)) != LPA_OK ||
	    (r = dap_simple(d, xfer_cfg, sizeof(xfer_cfg), &st)) != LPA_OK ||
	    (r = dap_simple(d, swd_cfg, sizeof(swd_cfg), &st)) != LPA_OK)
		return r;
	(void)dap_simple(d, host, sizeof(host), &st); /* the probe's "connected" LED */
	d->port_open = true;
	return LPA_OK;
}

static int dap_connect(void *ctx, uint32_t *dpidr)
{
	struct dap *d = ctx;
	/* JTAG-to-SWD: >= 50 ones, 0xE79E, >= 50 ones, then idle low: a line reset too. */
	/* clang-format off */
	static const uint8_t jtag2swd[] = {
		DAP_SWJ_SEQUENCE, 136,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* >= 50 ones */
		0x9e, 0xe7,                               /* 0xE79E, LSB first */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* >= 50 ones: line reset */
		0x00,                                     /* idle */
	};
	/* clang-format on */
	uint8_t st;
	uint32_t v = 0;
	struct timespec t0, t;
	int r;

	d->select_valid = false;
	memset(d->csw_valid, 0, sizeof(d->csw_valid));
	/* After DAP_Disconnect the probe's SWD port is off: switch it back on first. */
	if (!d->port_open && (r = dap_setup(d)) != LPA_OK)
		return r;
	if ((r = dap_simple(d, jtag2swd, sizeof(jtag2swd), &st)) != LPA_OK)
		return r;
	/* After a line reset the first transaction must read DPIDR; then clear sticky
	 * flags, request debug power and let the probe poll for the acknowledge (value
	 * match): bring-up in one DAP_Transfer. */
	{
		struct dap_xfer x;

		dap_xfer_init(&x);
		dap_xfer_add(&x, REQ_READ | DP_DPIDR, 0, dpidr);
		dap_xfer_add(&x, DP_ABORT, ABORT_ALL_STICKY, NULL);
		dap_xfer_add(&x, DP_CTRL_STAT, CTRL_PWRUP_REQ, NULL);
		dap_xfer_add(&x, REQ_MATCH_MASK, CTRL_PWRUP_ACK, NULL);
		x.cmd.out[x.cmd.out_len++] = REQ_READ | REQ_MATCH_VALUE | DP_CTRL_STAT;
		memcpy(x.cmd.out + x.cmd.out_len, &(uint32_t){htole32(CTRL_PWRUP_ACK)}, 4);
		x.cmd.out_len += 4;
		x.count++;
		r = dap_xfer_run(d, &x);
		if (r == LPA_OK)
			return LPA_OK;
		if (r != LPA_ERR_PROTOCOL || x.cmd.in_len < 3 || !(x.cmd.in[2] & RESP_MISMATCH))
			return r;
	}
	/* The probe gave up waiting for the power-up acknowledge: poll from here. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if ((r = dap_dp_read(d, DP_CTRL_STAT, &v)) != LPA_OK)
			return r;
		if ((v & CTRL_PWRUP_ACK) == CTRL_PWRUP_ACK)
			return LPA_OK;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    (long)d->timeout_ms) {
			snprintf(d->err, sizeof(d->err), "debug power-up not acknowledged");
			return LPA_ERR_TIMEOUT;
		}
	}
}

static int dap_disconnect(void *ctx)
{
	struct dap *d = ctx;
	uint8_t cmd[1] = {DAP_DISCONNECT}, st;

	d->port_open = false;
	d->select_valid = false;
	memset(d->csw_valid, 0, sizeof(d->csw_valid));
	return dap_simple(d, cmd, sizeof(cmd), &st);
}

static void dap_close(void *ctx)
{
	struct dap *d = ctx;

	if (d == NULL)
		return;
	probe_usb_close(&d->pu);
	if (d->usb != NULL)
		libusb_exit(d->usb);
	free(d);
}

static int dap_open(const struct prog_link_opts *opts, void **ctx, char *serial, size_t serial_len,
		    char *firmware, size_t firmware_len)
{
	struct dap *d;
	int r;

	*ctx = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return LPA_ERR_NOMEM;
	d->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 2000;
	d->clock_hz = (opts->clock_khz ? opts->clock_khz : 1000) * 1000;
	if (libusb_init(&d->usb) != 0) {
		r = LPA_ERR_SYSTEM;
		goto fail;
	}
	if ((r = probe_usb_open(d->usb, opts->serial, &d->pu)) != LPA_OK)
		goto fail;
	/* The probe's own figures, bounded by what this code and USB can carry. */
	d->pkt_size = d->pu.info.packet_size ? d->pu.info.packet_size : d->pu.ep_max_packet;
	if (d->pkt_size < 64 || d->pkt_size > DAP_MAX_PACKET) {
		snprintf(d->err, sizeof(d->err), "unusable packet size %u", d->pkt_size);
		r = LPA_ERR_PROTOCOL;
		goto fail;
	}
	d->pkt_count = d->pu.info.packet_count ? d->pu.info.packet_count : 1;
	if ((r = dap_setup(d)) != LPA_OK)
		goto fail;
	snprintf(serial, serial_len, "%s", d->pu.info.serial);
	snprintf(firmware, firmware_len, "%s", d->pu.info.firmware);
	*ctx = d;
	return LPA_OK;
fail:
	dap_close(d);
	return r;
}

static void dap_counters(void *ctx, struct prog_counters *c)
{
	*c = ((struct dap *)ctx)->ctr;
}

static const char *dap_last_error(void *ctx)
{
	return ((struct dap *)ctx)->err;
}

const struct prog_link_ops prog_cmsis_dap_ops = {
	.name = "cmsis-dap",
	.open = dap_open,
	.close = dap_close,
	.connect = dap_connect,
	.disconnect = dap_disconnect,
	.dp_read = dap_dp_read,
	.dp_write = dap_dp_write,
	.ap_read = dap_ap_read,
	.ap_write = dap_ap_write,
	.mem_read = dap_mem_read,
	.mem_write = dap_mem_write,
	.mem_ops = dap_mem_ops,
	.counters = dap_counters,
	.last_error = dap_last_error,
};
