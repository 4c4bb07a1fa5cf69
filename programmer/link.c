/*
 * link.c — the backend-independent link: argument checks, dispatch through the ops
 * table, WAIT recovery, and the memory helpers built on the backends' block calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "programmer-private.h"

/* A WAIT that outlasts the probe's own retries is retried this often before giving up:
 * WAIT storms are transient (a busy bus), a dead target answers NO_ACK instead. */
#define LINK_WAIT_RETRIES 8

struct prog_link {
	const struct prog_link_ops *ops;
	void *ctx;
	char serial[64];
	char firmware[32];
	uint32_t fault_addr;
};

int prog_link_open(const struct prog_link_opts *opts, prog_link **out)
{
	prog_link *l;
	int r;

	*out = NULL;
	if (opts == NULL)
		return LPA_ERR_INVAL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return LPA_ERR_NOMEM;
	switch (opts->backend) {
	case PROG_BACKEND_CMSIS_DAP:
		l->ops = &prog_cmsis_dap_ops;
		break;
	case PROG_BACKEND_OPENOCD:
		l->ops = &prog_openocd_ops;
		break;
	default:
		free(l);
		return LPA_ERR_INVAL;
	}
	if ((r = l->ops->open(opts, &l->ctx, l->serial, sizeof(l->serial), l->firmware,
			      sizeof(l->firmware))) != LPA_OK) {
		free(l);
		return r;
	}
	*out = l;
	return LPA_OK;
}

void prog_link_close(prog_link **lp)
{
	if (lp == NULL || *lp == NULL)
		return;
	(*lp)->ops->close((*lp)->ctx);
	free(*lp);
	*lp = NULL;
}

const char *prog_link_backend_name(const prog_link *l)
{
	return l->ops->name;
}

const char *prog_link_serial(const prog_link *l)
{
	return l->serial;
}

const char *prog_link_probe_firmware(const prog_link *l)
{
	return l->firmware;
}

int prog_link_connect(prog_link *l, uint32_t *dpidr)
{
	uint32_t dummy;

	return l->ops->connect(l->ctx, dpidr != NULL ? dpidr : &dummy);
}

int prog_link_disconnect(prog_link *l)
{
	return l->ops->disconnect(l->ctx);
}

int prog_link_target_present(prog_link *l)
{
	uint32_t dpidr;

	return l->ops->connect(l->ctx, &dpidr);
}

/* Runs op until it stops answering WAIT (bounded). */
#define LINK_RETRY_WAIT(expr)                                                                      \
	do {                                                                                       \
		int r_ = LPA_ERR_WAIT;                                                             \
		for (int try_ = 0; try_ < LINK_WAIT_RETRIES && r_ == LPA_ERR_WAIT; try_++)         \
			r_ = (expr);                                                               \
		return r_;                                                                         \
	} while (0)

static int link_check_dp(uint8_t reg)
{
	return (reg & 3) == 0 && reg <= 0xC ? LPA_OK : LPA_ERR_INVAL;
}

int prog_dp_read(prog_link *l, uint8_t reg, uint32_t *val)
{
	if (link_check_dp(reg) != LPA_OK)
		return LPA_ERR_INVAL;
	LINK_RETRY_WAIT(l->ops->dp_read(l->ctx, reg, val));
}

int prog_dp_write(prog_link *l, uint8_t reg, uint32_t val)
{
	if (link_check_dp(reg) != LPA_OK)
		return LPA_ERR_INVAL;
	LINK_RETRY_WAIT(l->ops->dp_write(l->ctx, reg, val));
}

int prog_ap_read(prog_link *l, uint8_t ap, uint8_t reg, uint32_t *val)
{
	if ((reg & 3) != 0)
		return LPA_ERR_INVAL;
	LINK_RETRY_WAIT(l->ops->ap_read(l->ctx, ap, reg, val));
}

int prog_ap_write(prog_link *l, uint8_t ap, uint8_t reg, uint32_t val)
{
	if ((reg & 3) != 0)
		return LPA_ERR_INVAL;
	LINK_RETRY_WAIT(l->ops->ap_write(l->ctx, ap, reg, val));
}

static int link_mem(prog_link *l, bool write, uint8_t ap, uint32_t addr, unsigned size, void *buf,
		    size_t len)
{
	size_t off = 0;
	int r = LPA_ERR_WAIT, stuck = 0;

	if (len == 0)
		return LPA_OK;
	if ((size == 4 && ((addr | len) & 3) != 0) || (uint64_t)addr + len > 0x100000000ULL)
		return LPA_ERR_INVAL;
	/* After a WAIT the backend says how far it got (fault_addr); resume there, so a WAIT
	 * storm costs the words it hit, not the whole run. Give up only when retries stop
	 * making progress. */
	while (r == LPA_ERR_WAIT && stuck < LINK_WAIT_RETRIES) {
		uint32_t a = addr + (uint32_t)off;
		uint8_t *p = (uint8_t *)buf + off;

		l->fault_addr = a;
		r = write ? l->ops->mem_write(l->ctx, ap, a, size, p, len - off, &l->fault_addr)
			  : l->ops->mem_read(l->ctx, ap, a, size, p, len - off, &l->fault_addr);
		if (r == LPA_ERR_WAIT && l->fault_addr > a && l->fault_addr <= addr + len) {
			off = (l->fault_addr - addr) & ~(size_t)(size - 1);
			stuck = 0;
		} else {
			stuck++;
		}
	}
	return r;
}

int prog_mem_read32(prog_link *l, uint8_t ap, uint32_t addr, uint32_t *val)
{
	uint8_t b[4];
	int r;

	if ((r = link_mem(l, false, ap, addr, 4, b, 4)) == LPA_OK)
		*val = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
		       (uint32_t)b[3] << 24;
	return r;
}

int prog_mem_write32(prog_link *l, uint8_t ap, uint32_t addr, uint32_t val)
{
	uint8_t b[4] = {(uint8_t)val, (uint8_t)(val >> 8), (uint8_t)(val >> 16),
			(uint8_t)(val >> 24)};

	return link_mem(l, true, ap, addr, 4, b, 4);
}

int prog_mem_read8(prog_link *l, uint8_t ap, uint32_t addr, uint8_t *val)
{
	return link_mem(l, false, ap, addr, 1, val, 1);
}

int prog_mem_write8(prog_link *l, uint8_t ap, uint32_t addr, uint8_t val)
{
	return link_mem(l, true, ap, addr, 1, &val, 1);
}

int prog_mem_read(prog_link *l, uint8_t ap, uint32_t addr, void *buf, size_t len)
{
	return link_mem(l, false, ap, addr, 4, buf, len);
}

int prog_mem_write(prog_link *l, uint8_t ap, uint32_t addr, const void *buf, size_t len)
{
	return link_mem(l, true, ap, addr, 4, (void *)(uintptr_t)buf, len);
}

/* One op from the host: what backends without a script facility get, and the fallback
 * for a poll the probe gave up on. */
static int link_op(prog_link *l, uint8_t ap, const struct prog_op *op, uint64_t deadline)
{
	unsigned us = 50;
	uint32_t v = 0;
	int r;

	switch (op->kind) {
	case PROG_OP_WRITE32:
		return prog_mem_write32(l, ap, op->addr, op->value);
	case PROG_OP_READ32:
		return prog_mem_read32(l, ap, op->addr, op->out);
	case PROG_OP_READ_BLOCK:
		return prog_mem_read(l, ap, op->addr, op->buf, op->len);
	case PROG_OP_WRITE_BLOCK:
		return prog_mem_write(l, ap, op->addr, op->buf, op->len);
	case PROG_OP_POLL32:
		for (;;) {
			if ((r = prog_mem_read32(l, ap, op->addr, &v)) != LPA_OK)
				return r;
			if ((v & op->mask) == op->value)
				return LPA_OK;
			if (lpa_mono_ms() > deadline)
				return LPA_ERR_TIMEOUT;
			usleep(us);
			if (us < 5000)
				us *= 2;
		}
	}
	return LPA_ERR_INVAL;
}

int prog_mem_ops(prog_link *l, uint8_t ap, const struct prog_op *ops, size_t n, unsigned timeout_ms)
{
	uint64_t now = lpa_mono_ms(), deadline = now + timeout_ms;
	size_t i = 0, done = 0;
	int r, stuck = 0;

	for (size_t k = 0; k < n; k++)
		if ((ops[k].kind == PROG_OP_READ_BLOCK || ops[k].kind == PROG_OP_WRITE_BLOCK) &&
		    ((ops[k].len | ops[k].addr) & 3) != 0)
			return LPA_ERR_INVAL;
	if (l->ops->mem_ops == NULL) {
		for (; i < n; i++)
			if ((r = link_op(l, ap, &ops[i], deadline)) != LPA_OK)
				return r;
		return LPA_OK;
	}
	while (i < n) {
		/* Each probe-side poll may take what is left of the deadline. */
		now = lpa_mono_ms();
		r = l->ops->mem_ops(l->ctx, ap, ops + i, n - i,
				    deadline > now ? (unsigned)(deadline - now) : 1, &done);
		if (r == LPA_OK)
			return LPA_OK;
		if (r == LPA_ERR_WAIT && i + done < n && ops[i + done].kind == PROG_OP_POLL32) {
			/* A busy bus while the probe polled: the poll is not over, only its
			 * probe-side part. */
			r = LPA_ERR_MISMATCH;
		} else if (r == LPA_ERR_WAIT && stuck < LINK_WAIT_RETRIES) {
			/* ops[i + done] was not accepted: run the rest again from it. */
			stuck = done > 0 ? 0 : stuck + 1;
			i += done;
			continue;
		}
		if (r != LPA_ERR_MISMATCH)
			return r;
		/* The probe gave up polling ops[i + done]: send the script again from that
		 * poll (the probe polls again, one host wait) while the deadline allows. */
		i += done;
		if (lpa_mono_ms() > deadline)
			return LPA_ERR_TIMEOUT;
	}
	return LPA_OK;
}

int prog_link_reset(prog_link *l)
{
	/* SYSRESETREQ through the CM0+ AIRCR resets the whole chip. The write itself may
	 * come back without an answer while the chip goes down; the reconnect tells. */
	if (l->ops->reset != NULL)
		return l->ops->reset(l->ctx);
	(void)prog_mem_write32(l, 1, 0xE000ED0C, 0x05FA0004);
	return l->ops->connect(l->ctx, &(uint32_t){0});
}

void prog_link_counters(const prog_link *l, struct prog_counters *c)
{
	memset(c, 0, sizeof(*c));
	l->ops->counters(l->ctx, c);
}

uint32_t prog_link_fault_addr(const prog_link *l)
{
	return l->fault_addr;
}

const char *prog_link_last_error(const prog_link *l)
{
	return l->ops->last_error(l->ctx);
}

int prog_link_flash_write(prog_link *l, uint32_t addr, const void *data, size_t len)
{
	if (l->ops->flash_write == NULL)
		return LPA_ERR_UNSUPPORTED;
	return l->ops->flash_write(l->ctx, addr, data, len);
}
