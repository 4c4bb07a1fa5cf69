/*
 * cmsis-dap.c — the native backend: CMSIS-DAP v2 over the probe layer's USB pipeline
 * (probe.c), with the ADIv5 DP/MEM-AP layer on top. Commands are built and their
 * responses checked in dap-cmd.c (pure, fuzzed); here: sending them, recovering after
 * WAIT and FAULT, the SELECT/CSW cache, bring-up and the link ops.
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

#include "dap-cmd.h"
#include "programmer-private.h"

/* How often the probe re-reads a value-match poll before it gives up and the host polls:
 * about 1 s at 1 MHz SWD, inside one USB timeout. */
#define DAP_MATCH_RETRY 20000

#define ABORT_ALL_STICKY 0x1E /* STKCMPCLR | STKERRCLR | WDERRCLR | ORUNERRCLR */
#define CTRL_PWRUP_REQ 0x50000000u
#define CTRL_PWRUP_ACK 0xA0000000u

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
	struct dap_adi adi;
	struct prog_counters ctr;
	char err[160];
};

/* After a failure SELECT is unknown, and so is the CSW of the AP of a memory run
 * (ap < 0: no run). */
static void dap_forget(struct dap *d, int ap)
{
	d->adi.select_valid = false;
	if (ap >= 0)
		d->adi.csw_valid[ap] = false;
}

/* Sends n commands through the probe's pipeline (up to pkt_count in flight). */
static int dap_exchange(struct dap *d, struct dap_cmd *cmds, size_t n)
{
	struct probe_usb_xfer one, *x = n == 1 ? &one : calloc(n, sizeof(*x));
	unsigned window = d->pkt_count ? d->pkt_count : 1;
	int r;

	if (x == NULL)
		return LPA_ERR_NOMEM;
	if (window > DAP_MAX_INFLIGHT)
		window = DAP_MAX_INFLIGHT;
	for (size_t i = 0; i < n; i++)
		x[i] = (struct probe_usb_xfer){.out = cmds[i].out,
					       .out_len = cmds[i].out_len,
					       .in = cmds[i].in,
					       .in_cap = d->pkt_size};
	r = probe_usb_pipeline(&d->pu, x, n, window, d->timeout_ms, &d->ctr, d->err,
			       sizeof(d->err));
	for (size_t i = 0; i < n; i++)
		cmds[i].in_len = x[i].in_len;
	if (x != &one)
		free(x);
	return r;
}

/* The detail of a malformed response, for last_error. */
static int dap_bad_reply(struct dap *d, const struct dap_cmd *c, enum dap_bad why)
{
	snprintf(d->err, sizeof(d->err), "probe's response to command 0x%02x: %s", c->out[0],
		 dap_cmd_bad_str(why));
	return LPA_ERR_PROTOCOL;
}

/* A command other than a transfer; *status its status byte. */
static int dap_simple(struct dap *d, const uint8_t *out, size_t len, uint8_t *status)
{
	struct dap_cmd c;
	struct dap_reply rep;
	enum dap_bad why;
	int r;

	memcpy(c.out, out, len);
	c.out_len = len;
	if ((r = dap_exchange(d, &c, 1)) != LPA_OK)
		return r;
	if (dap_cmd_check(&c, &rep, &why) != LPA_OK)
		return dap_bad_reply(d, &c, why);
	*status = rep.resp;
	return LPA_OK;
}

/* The message of a failed transfer, in last_error. */
static void dap_explain(struct dap *d, int r)
{
	if (r == LPA_ERR_NO_TARGET)
		snprintf(d->err, sizeof(d->err), "no acknowledge from the target");
	else if (r == LPA_ERR_WAIT)
		snprintf(d->err, sizeof(d->err), "the target kept answering WAIT");
	else if (r == LPA_ERR_FAULT)
		snprintf(d->err, sizeof(d->err), "the target answered FAULT");
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

/* What every failed transfer needs: recovery, a cache that is no longer trusted
 * (dap_forget), and a message. */
static int dap_failed(struct dap *d, const struct dap_cmd *c, int r, enum dap_bad why, int ap)
{
	if (r == LPA_ERR_FAULT || r == LPA_ERR_WAIT)
		dap_recover(d, r);
	dap_forget(d, ap);
	if (r == LPA_ERR_PROTOCOL)
		return dap_bad_reply(d, c, why);
	dap_explain(d, r);
	return r;
}

/* One DAP_Transfer, sent and checked; the values read land where x says. */
static int dap_xfer_run(struct dap *d, struct dap_xfer *x)
{
	struct dap_reply rep;
	enum dap_bad why;
	int r;

	dap_cmd_xfer_finish(x);
	if ((r = dap_exchange(d, &x->cmd, 1)) != LPA_OK) {
		dap_forget(d, -1);
		return r;
	}
	r = dap_cmd_xfer_check(x, &rep, &why);
	if (r == LPA_OK || r == LPA_ERR_MISMATCH)
		return r;
	return dap_failed(d, &x->cmd, r, why, -1);
}

static int dap_one(struct dap *d, bool ap, uint8_t apnum, uint8_t reg, bool read, uint32_t *val)
{
	struct dap_xfer x;
	uint8_t req = (uint8_t)((reg & 0x0C) | (read ? REQ_READ : 0) | (ap ? REQ_AP : 0));
	int r;

	dap_cmd_xfer_init(&x);
	if (ap)
		dap_cmd_xfer_select(&x, &d->adi, apnum, reg);
	dap_cmd_xfer_add(&x, req, read ? 0 : *val, val);
	if ((r = dap_xfer_run(d, &x)) != LPA_OK)
		d->adi.select_valid = false; /* unknown whether the SELECT write landed */
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
		d->adi.select_valid = false;
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
		d->adi.csw_valid[ap] = false;
	return dap_one(d, true, ap, reg, false, &val);
}

/* CSW for size-byte accesses with single auto-increment, keeping the AP's other bits
 * (HPROT, master type) as the chip reset them. */
static int dap_csw_for(struct dap *d, uint8_t ap, unsigned size, bool inc, uint32_t *csw)
{
	int r;

	if (!d->adi.csw_valid[ap]) {
		if ((r = dap_one(d, true, ap, AP_CSW, true, &d->adi.csw[ap])) != LPA_OK)
			return r;
		d->adi.csw_valid[ap] = true;
	}
	*csw = (d->adi.csw[ap] & ~(uint32_t)(CSW_SIZE_MASK | CSW_ADDRINC_MASK)) |
	       (size == 4 ? 2u : 0u) | (inc ? CSW_ADDRINC_SINGLE : 0u);
	return LPA_OK;
}

/* A memory run: built (dap_cmd_run_build), pipelined, checked in order. */
static int dap_mem(struct dap *d, bool write, uint8_t ap, uint32_t addr, unsigned size,
		   uint8_t *buf, size_t len, uint32_t *fault_addr)
{
	struct dap_run run;
	enum dap_bad why;
	uint32_t csw;
	size_t failed;
	int r;

	if ((r = dap_csw_for(d, ap, size, true, &csw)) != LPA_OK)
		return r;
	if ((r = dap_cmd_run_build(&run, &d->adi, d->pkt_size, write, ap, addr, size, buf, len,
				   csw)) != LPA_OK)
		return r;
	if ((r = dap_exchange(d, run.cmds, run.n)) != LPA_OK) {
		dap_forget(d, ap);
		goto out;
	}
	/* The first failure names the faulting word; the data before it is in buf. */
	if ((r = dap_cmd_run_check(&run, buf, fault_addr, &failed, &why)) != LPA_OK) {
		r = dap_failed(d, &run.cmds[failed], r, why, ap);
		if (r == LPA_ERR_FAULT)
			snprintf(d->err, sizeof(d->err), "bus fault at 0x%08x", *fault_addr);
	}
out:
	dap_cmd_run_free(&run);
	return r;
}

/* One command of a script: a DAP_Transfer of word accesses, or a block's run. */
struct dap_step {
	bool is_run;
	bool has_poll, has_write;
	size_t op;           /* the script op of a run; the first op of a transfer */
	uint8_t req_op[256]; /* transfer: the op (from .op) each request belongs to */
	struct dap_xfer x;   /* transfer */
	struct dap_run run;  /* run (its commands are sent after each other) */
};

/* Packs word accesses from ops[*i] into one DAP_Transfer (stopping at a READ_BLOCK). A
 * POLL32 becomes a match-mask write and a value-match read: the probe itself re-reads
 * until the value matches; a failure stops the rest of the transfer, so a write after
 * a poll in the same transfer happens only once the poll has matched. */
static void dap_script_xfer(struct dap *d, uint8_t ap, uint32_t csw, const struct prog_op *ops,
			    size_t n, size_t *i, struct dap_step *st)
{
	struct dap_xfer *x = &st->x;
	size_t first = *i;

	st->is_run = false;
	st->op = first;
	st->has_poll = st->has_write = false;
	dap_cmd_xfer_init(x);
	dap_cmd_xfer_select(x, &d->adi, ap, AP_CSW);
	if (!d->adi.csw_valid[ap] || d->adi.csw[ap] != csw) {
		dap_cmd_xfer_add(x, REQ_AP | AP_CSW, csw, NULL);
		d->adi.csw[ap] = csw;
		d->adi.csw_valid[ap] = true;
	}
	for (unsigned k = 0; k < x->count; k++)
		st->req_op[k] = 0;
	for (; *i < n && ops[*i].kind != PROG_OP_READ_BLOCK && ops[*i].kind != PROG_OP_WRITE_BLOCK;
	     (*i)++) {
		const struct prog_op *o = &ops[*i];
		uint8_t idx = (uint8_t)(*i - first);

		/* TAR + at most a match-mask write and a read: 5 + 5 + 5 bytes. */
		if (x->count + 3 > 255 || x->cmd.out_len + 15 > d->pkt_size ||
		    3 + 4 * ((size_t)x->nreads + 1) > d->pkt_size || x->nreads >= DAP_MAX_READS ||
		    *i - first >= 200)
			break;
		st->req_op[x->count] = idx;
		dap_cmd_xfer_add(x, REQ_AP | AP_TAR, o->addr, NULL);
		st->req_op[x->count] = idx;
		switch (o->kind) {
		case PROG_OP_WRITE32:
			dap_cmd_xfer_add(x, REQ_AP | AP_DRW, o->value, NULL);
			st->has_write = true;
			break;
		case PROG_OP_READ32:
			dap_cmd_xfer_add(x, REQ_AP | AP_DRW | REQ_READ, 0, o->out);
			break;
		case PROG_OP_POLL32:
			dap_cmd_xfer_add(x, REQ_MATCH_MASK, o->mask, NULL);
			st->req_op[x->count] = idx;
			/* A value-match read carries the expected value, not a result. */
			dap_cmd_xfer_add(x, REQ_AP | AP_DRW | REQ_READ | REQ_MATCH_VALUE, o->value,
					 NULL);
			st->has_poll = true;
			break;
		case PROG_OP_READ_BLOCK:
		case PROG_OP_WRITE_BLOCK:
			break;
		}
	}
	dap_cmd_xfer_finish(x);
}

static void dap_script_free(struct dap_step *st, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (st[k].is_run)
			dap_cmd_run_free(&st[k].run);
	free(st);
}

/* Checks step k's answer; on failure *done is the op it stopped at. */
static int dap_script_check(struct dap *d, uint8_t ap, const struct prog_op *ops,
			    struct dap_step *st, size_t *done)
{
	struct dap_reply rep;
	enum dap_bad why;
	uint32_t fault_addr = 0;
	size_t failed = 0;
	int r;

	if (st->is_run) {
		if ((r = dap_cmd_run_check(&st->run,
					   ops[st->op].kind == PROG_OP_READ_BLOCK ? ops[st->op].buf
										  : NULL,
					   &fault_addr, &failed, &why)) == LPA_OK)
			return LPA_OK;
		*done = st->op;
		return dap_failed(d, &st->run.cmds[failed], r, why, ap);
	}
	r = dap_cmd_xfer_check(&st->x, &rep, &why);
	if (r == LPA_OK)
		return LPA_OK;
	/* The op of the request that stopped the transfer; the ones before it ran. */
	*done = st->op + st->req_op[rep.done < st->x.count ? rep.done : st->x.count - 1];
	if (r == LPA_ERR_MISMATCH) {
		dap_forget(d, ap); /* commands after it ran, or did not: the cache is unknown */
		return r;          /* the probe gave up polling: link.c polls again */
	}
	return dap_failed(d, &st->x.cmd, r, why, ap);
}

/*
 * A script: word accesses packed into DAP_Transfers, READ_BLOCKs as memory runs, all
 * of it pipelined (dap_exchange: up to the probe's packet count in flight, one host
 * wait per window). The one ordering rule: a transfer that writes is not sent while a
 * transfer with a poll before it is unanswered (what follows a poll may depend on it:
 * after a failed acquire nothing may be written). Answers are checked in order; the
 * first failure ends the script.
 */
static int dap_mem_ops(void *ctx, uint8_t ap, const struct prog_op *ops, size_t n, unsigned poll_ms,
		       size_t *done)
{
	struct dap *d = ctx;
	struct dap_step *st = NULL;
	size_t nst = 0, i = 0, sent = 0;
	uint32_t csw_word, csw_block;
	int r;

	(void)poll_ms;
	*done = 0;
	/* No auto-increment for word accesses: a poll re-reads the same word, it must not
	 * walk away from it. Runs auto-increment. */
	if ((r = dap_csw_for(d, ap, 4, false, &csw_word)) != LPA_OK ||
	    (r = dap_csw_for(d, ap, 4, true, &csw_block)) != LPA_OK)
		return r;
	if ((st = calloc(n, sizeof(*st))) == NULL)
		return LPA_ERR_NOMEM;
	/* Built in order, the SELECT/CSW cache updated as if every command succeeds. */
	while (i < n) {
		struct dap_step *s = &st[nst];

		if (ops[i].kind == PROG_OP_READ_BLOCK || ops[i].kind == PROG_OP_WRITE_BLOCK) {
			bool wr = ops[i].kind == PROG_OP_WRITE_BLOCK;

			s->is_run = true;
			s->has_write = wr;
			s->op = i;
			if ((r = dap_cmd_run_build(&s->run, &d->adi, d->pkt_size, wr, ap,
						   ops[i].addr, 4, wr ? ops[i].buf : NULL,
						   ops[i].len, csw_block)) != LPA_OK)
				goto out;
			nst++;
			i++;
			continue;
		}
		dap_script_xfer(d, ap, csw_word, ops, n, &i, s);
		nst++;
	}
	while (sent < nst) {
		/* The window: this step and the ones after it up to a write behind a poll. */
		size_t end = sent, ncmd = 0, c = 0;
		bool poll = false;

		for (; end < nst; end++) {
			if (end > sent && poll && st[end].has_write)
				break;
			poll = poll || st[end].has_poll;
			ncmd += st[end].is_run ? st[end].run.n : 1;
		}
		{
			struct dap_cmd *flat = calloc(ncmd, sizeof(*flat));

			if (flat == NULL) {
				r = LPA_ERR_NOMEM;
				goto out;
			}
			for (size_t k = sent; k < end; k++) {
				if (st[k].is_run) {
					memcpy(flat + c, st[k].run.cmds,
					       st[k].run.n * sizeof(*flat));
					c += st[k].run.n;
				} else {
					flat[c++] = st[k].x.cmd;
				}
			}
			r = dap_exchange(d, flat, ncmd);
			c = 0;
			for (size_t k = sent; k < end; k++) {
				if (st[k].is_run) {
					memcpy(st[k].run.cmds, flat + c,
					       st[k].run.n * sizeof(*flat));
					c += st[k].run.n;
				} else {
					st[k].x.cmd = flat[c++];
				}
			}
			free(flat);
		}
		if (r != LPA_OK) {
			dap_forget(d, ap);
			*done = st[sent].op;
			goto out;
		}
		for (size_t k = sent; k < end; k++)
			if ((r = dap_script_check(d, ap, ops, &st[k], done)) != LPA_OK)
				goto out;
		sent = end;
	}
	*done = n;
	r = LPA_OK;
out:
	dap_script_free(st, nst);
	return r;
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

	memset(&d->adi, 0, sizeof(d->adi));
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

		dap_cmd_xfer_init(&x);
		dap_cmd_xfer_add(&x, REQ_READ | DP_DPIDR, 0, dpidr);
		dap_cmd_xfer_add(&x, DP_ABORT, ABORT_ALL_STICKY, NULL);
		dap_cmd_xfer_add(&x, DP_CTRL_STAT, CTRL_PWRUP_REQ, NULL);
		dap_cmd_xfer_add(&x, REQ_MATCH_MASK, CTRL_PWRUP_ACK, NULL);
		dap_cmd_xfer_add(&x, REQ_READ | REQ_MATCH_VALUE | DP_CTRL_STAT, CTRL_PWRUP_ACK,
				 NULL);
		/* Powered up: the system AP's CSW too, which the first memory access needs
		 * (one host wait fewer per chip). */
		dap_cmd_xfer_select(&x, &d->adi, 0, AP_CSW);
		dap_cmd_xfer_add(&x, REQ_AP | REQ_READ | AP_CSW, 0, &d->adi.csw[0]);
		r = dap_xfer_run(d, &x);
		if (r == LPA_OK)
			d->adi.csw_valid[0] = true;
		if (r != LPA_ERR_MISMATCH)
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
	memset(&d->adi, 0, sizeof(d->adi));
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
