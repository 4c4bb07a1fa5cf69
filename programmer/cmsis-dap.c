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

/* How long the probe's polls last as set up and at connect (the power-up acknowledge):
 * the agent's longest deadline (INSTALL_PACKAGE, psoc6.c), in as many retries as fit
 * (65535: 3 s at 1 MHz SWD), so that the scripts after it rarely need another
 * DAP_TransferConfigure (dap_poll_cfg, dap_poll_match). Exchanges with a poll wait for the probe
 * that long beyond the USB timeout. */
#define DAP_SESSION_POLL_MS 10000u
#define DAP_WAIT_RETRY 128
/* SWD clock cycles of one value-match retry without idle cycles: 8 request bits,
 * turnaround, 3 acknowledge bits, 32 data bits, parity, turnaround. A lower bound of
 * what a probe spends per retry (its firmware adds to it, never takes away). */
#define DAP_RETRY_CYCLES 46u

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
	/* What DAP_TransferConfigure last set (cfg_valid: the probe acknowledged it). */
	bool cfg_valid;
	uint8_t cfg_idle;
	uint16_t cfg_match;
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

/* Sends n commands through the probe's pipeline (up to pkt_count in flight), each
 * response awaited at most timeout_ms. */
static int dap_exchange_for(struct dap *d, struct dap_cmd *cmds, size_t n, unsigned timeout_ms)
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
	r = probe_usb_pipeline(&d->pu, x, n, window, timeout_ms, &d->ctr, d->err, sizeof(d->err));
	for (size_t i = 0; i < n; i++)
		cmds[i].in_len = x[i].in_len;
	if (x != &one)
		free(x);
	return r;
}

static int dap_exchange(struct dap *d, struct dap_cmd *cmds, size_t n)
{
	return dap_exchange_for(d, cmds, n, d->timeout_ms);
}

/* A DAP_TransferConfigure command. */
static void dap_cfg_cmd(struct dap_cmd *c, uint8_t idle, uint16_t match)
{
	c->out[0] = DAP_TRANSFER_CONFIGURE;
	c->out[1] = idle;
	c->out[2] = DAP_WAIT_RETRY & 0xFF;
	c->out[3] = DAP_WAIT_RETRY >> 8;
	c->out[4] = (uint8_t)match;
	c->out[5] = (uint8_t)(match >> 8);
	c->out_len = 6;
}

/* The wire time of one value-match retry with idle cycles, in ns (a lower bound). */
static uint64_t dap_retry_ns(const struct dap *d, unsigned idle)
{
	return (DAP_RETRY_CYCLES + idle) * 1000000000ull / d->clock_hz;
}

/*
 * Sizes a probe-side poll to last poll_ms: MatchRetry retries of the read's wire time,
 * at most 65535 (3 s at 1 MHz, which covers the agent's longest call, INSTALL_PACKAGE:
 * ~59 M instructions, under 1 s at 100 MHz, docs/agent.md). A longer deadline is served
 * by link.c sending the poll again when the probe gives up. A probe that already polls
 * long enough is left as it is (one DAP_TransferConfigure fewer).
 */
static uint16_t dap_poll_match(const struct dap *d, unsigned poll_ms)
{
	uint64_t n = (uint64_t)poll_ms * 1000000u / dap_retry_ns(d, 0) + 1;

	return n > 0xFFFF ? 0xFFFF : (uint16_t)n;
}

static uint16_t dap_poll_cfg(const struct dap *d, unsigned poll_ms)
{
	uint16_t n = dap_poll_match(d, poll_ms);

	if (d->cfg_valid && d->cfg_idle == 0 && d->cfg_match >= n)
		return d->cfg_match;
	return n;
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
	/* Idle cycles a poll asked for would slow every word of a run: none (after a failed
	 * script the probe's setting is unknown). */
	if (!d->cfg_valid || d->cfg_idle != 0) {
		uint8_t st;
		struct dap_cmd c;

		dap_cfg_cmd(&c, 0, d->cfg_match);
		if ((r = dap_simple(d, c.out, c.out_len, &st)) != LPA_OK)
			return r;
		d->cfg_valid = st == 0;
		d->cfg_idle = 0;
	}
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
	bool is_cfg; /* a DAP_TransferConfigure (in x.cmd) sizing the polls */
	uint16_t cfg_match;
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

	if (st->is_cfg) {
		if (dap_cmd_check(&st->x.cmd, &rep, &why) != LPA_OK) {
			*done = st->op;
			return dap_bad_reply(d, &st->x.cmd, why);
		}
		if (rep.resp != 0) {
			*done = st->op;
			snprintf(d->err, sizeof(d->err), "probe refused DAP_TransferConfigure");
			return LPA_ERR_PROTOCOL;
		}
		d->cfg_valid = true;
		d->cfg_idle = 0;
		d->cfg_match = st->cfg_match;
		return LPA_OK;
	}
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

	bool any_poll = false;
	uint16_t match = 0;
	unsigned poll_wait_ms = 0;

	*done = 0;
	for (size_t k = 0; k < n; k++)
		any_poll = any_poll || ops[k].kind == PROG_OP_POLL32;
	/* No auto-increment for word accesses: a poll re-reads the same word, it must not
	 * walk away from it. Runs auto-increment. */
	if ((r = dap_csw_for(d, ap, 4, false, &csw_word)) != LPA_OK ||
	    (r = dap_csw_for(d, ap, 4, true, &csw_block)) != LPA_OK)
		return r;
	if ((st = calloc(n + 1, sizeof(*st))) == NULL)
		return LPA_ERR_NOMEM;
	if (any_poll) {
		match = dap_poll_cfg(d, poll_ms);
		/* What the probe may spend polling, beyond the usual USB timeout. */
		poll_wait_ms = (unsigned)(2 * (uint64_t)match * dap_retry_ns(d, 0) / 1000000u);
		if (!d->cfg_valid || d->cfg_idle != 0 || d->cfg_match != match) {
			st[0].is_cfg = true;
			st[0].cfg_match = match;
			dap_cfg_cmd(&st[0].x.cmd, 0, match);
			nst++;
		}
	}
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
			r = dap_exchange_for(d, flat, ncmd,
					     d->timeout_ms + (poll ? poll_wait_ms : 0));
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
			d->cfg_valid = false;
			*done = st[sent].op;
			goto out;
		}
		for (size_t k = sent; k < end; k++)
			if ((r = dap_script_check(d, ap, ops, &st[k], done)) != LPA_OK) {
				d->cfg_valid = false; /* what the probe holds now is unknown */
				goto out;
			}
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
#define DAP_SETUP_CMDS 5

/* The probe's set-up, as commands: DAP_Connect(SWD), SWJ_Clock, TransferConfigure (idle
 * 0, WAIT retry 128, match retry for the probe-side polls), SWD_Configure, and the
 * "connected" LED. */
static void dap_setup_cmds(struct dap *d, struct dap_cmd *c)
{
	static const uint8_t connect[2] = {DAP_CONNECT, 1}, swd_cfg[2] = {DAP_SWD_CONFIGURE, 0},
			     host[3] = {DAP_HOST_STATUS, 0, 1};
	uint32_t hz = htole32(d->clock_hz);

	memcpy(c[0].out, connect, sizeof(connect));
	c[0].out_len = sizeof(connect);
	c[1].out[0] = DAP_SWJ_CLOCK;
	memcpy(c[1].out + 1, &hz, 4);
	c[1].out_len = 5;
	dap_cfg_cmd(&c[2], 0, dap_poll_match(d, DAP_SESSION_POLL_MS));
	memcpy(c[3].out, swd_cfg, sizeof(swd_cfg));
	c[3].out_len = sizeof(swd_cfg);
	memcpy(c[4].out, host, sizeof(host));
	c[4].out_len = sizeof(host);
}

/* Checks the set-up's answers (sent in one pipeline with what follows them). */
static int dap_setup_check(struct dap *d, const struct dap_cmd *c)
{
	struct dap_reply rep;
	enum dap_bad why;

	for (int i = 0; i < DAP_SETUP_CMDS; i++)
		if (dap_cmd_check(&c[i], &rep, &why) != LPA_OK)
			return dap_bad_reply(d, &c[i], why);
	/* DAP_Connect answers the port it switched to; the others a status (the LED's
	 * is not checked: a probe without one may say so). */
	if (c[0].in[1] != 1) {
		snprintf(d->err, sizeof(d->err), "probe refused SWD mode");
		return LPA_ERR_UNSUPPORTED;
	}
	for (int i = 1; i < 4; i++)
		if (c[i].in[1] != 0) {
			snprintf(d->err, sizeof(d->err), "probe refused command 0x%02x",
				 c[i].out[0]);
			return LPA_ERR_PROTOCOL;
		}
	d->cfg_valid = true;
	d->cfg_idle = 0;
	d->cfg_match = dap_poll_match(d, DAP_SESSION_POLL_MS);
	d->port_open = true;
	return LPA_OK;
}

static int dap_setup(struct dap *d)
{
	struct dap_cmd c[DAP_SETUP_CMDS];
	int r;

	dap_setup_cmds(d, c);
	if ((r = dap_exchange(d, c, DAP_SETUP_CMDS)) != LPA_OK)
		return r;
	return dap_setup_check(d, c);
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
	struct dap_cmd c[DAP_SETUP_CMDS + 3];
	struct dap_xfer x;
	struct dap_reply rep;
	enum dap_bad why;
	size_t n = 0, setup = 0, cfg = 0;
	uint32_t v = 0;
	uint64_t t0;
	int r;

	memset(&d->adi, 0, sizeof(d->adi));
	/* One pipeline: after DAP_Disconnect the probe's SWD port is off, so the set-up
	 * first; the poll settings connect expects (a script may have left others); the
	 * line reset; then the bring-up transfer. */
	if (!d->port_open) {
		dap_setup_cmds(d, c);
		n = setup = DAP_SETUP_CMDS;
	} else if (!d->cfg_valid || d->cfg_idle != 0 ||
		   d->cfg_match != dap_poll_match(d, DAP_SESSION_POLL_MS)) {
		dap_cfg_cmd(&c[n++], 0, dap_poll_match(d, DAP_SESSION_POLL_MS));
		cfg = 1;
	}
	memcpy(c[n].out, jtag2swd, sizeof(jtag2swd));
	c[n++].out_len = sizeof(jtag2swd);
	/* After a line reset the first transaction must read DPIDR; then clear sticky
	 * flags, request debug power and let the probe poll for the acknowledge (value
	 * match); powered up, the system AP's CSW, which the first memory access needs. */
	dap_cmd_xfer_init(&x);
	dap_cmd_xfer_add(&x, REQ_READ | DP_DPIDR, 0, dpidr);
	dap_cmd_xfer_add(&x, DP_ABORT, ABORT_ALL_STICKY, NULL);
	dap_cmd_xfer_add(&x, DP_CTRL_STAT, CTRL_PWRUP_REQ, NULL);
	dap_cmd_xfer_add(&x, REQ_MATCH_MASK, CTRL_PWRUP_ACK, NULL);
	dap_cmd_xfer_add(&x, REQ_READ | REQ_MATCH_VALUE | DP_CTRL_STAT, CTRL_PWRUP_ACK, NULL);
	dap_cmd_xfer_select(&x, &d->adi, 0, AP_CSW);
	dap_cmd_xfer_add(&x, REQ_AP | REQ_READ | AP_CSW, 0, &d->adi.csw[0]);
	dap_cmd_xfer_finish(&x);
	c[n++] = x.cmd;
	if ((r = dap_exchange_for(
		     d, c, n,
		     d->timeout_ms +
			     (unsigned)(2 * (uint64_t)dap_poll_match(d, DAP_SESSION_POLL_MS) *
					dap_retry_ns(d, 0) / 1000000u))) != LPA_OK) {
		dap_forget(d, -1);
		return r;
	}
	if (setup && (r = dap_setup_check(d, c)) != LPA_OK)
		return r;
	for (size_t i = setup; i < n - 1; i++) {
		if (dap_cmd_check(&c[i], &rep, &why) != LPA_OK)
			return dap_bad_reply(d, &c[i], why);
		if (c[i].in[1] != 0) {
			snprintf(d->err, sizeof(d->err), "probe refused command 0x%02x",
				 c[i].out[0]);
			return LPA_ERR_PROTOCOL;
		}
	}
	if (cfg) {
		d->cfg_valid = true;
		d->cfg_idle = 0;
		d->cfg_match = dap_poll_match(d, DAP_SESSION_POLL_MS);
	}
	x.cmd = c[n - 1];
	r = dap_cmd_xfer_check(&x, &rep, &why);
	if (r == LPA_OK) {
		d->adi.csw_valid[0] = true;
		return LPA_OK;
	}
	if (r == LPA_ERR_FAULT && rep.done == x.count - 1) {
		/* Up, but the system AP refuses (a SECURE or DEAD chip closes it): the
		 * connect stands; the family read says what the chip is. */
		dap_recover(d, r);
		dap_forget(d, 0);
		return LPA_OK;
	}
	if (r != LPA_ERR_MISMATCH)
		return dap_failed(d, &x.cmd, r, why, -1);
	/* The probe gave up waiting for the power-up acknowledge: poll from here. */
	t0 = lpa_mono_ns();
	for (;;) {
		if ((r = dap_dp_read(d, DP_CTRL_STAT, &v)) != LPA_OK)
			return r;
		if ((v & CTRL_PWRUP_ACK) == CTRL_PWRUP_ACK)
			return LPA_OK;
		if ((lpa_mono_ns() - t0) / 1000000u > d->timeout_ms) {
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
