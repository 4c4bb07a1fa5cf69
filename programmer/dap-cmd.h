/*
 * dap-cmd.h — CMSIS-DAP transfer commands: pure builders and pure reply checkers
 * (private to programmer/; the native backend, cmsis-dap.c, sends them).
 *
 * A DAP_Transfer packs many DP/AP accesses into one command; a memory run is a list of
 * commands (per 1 KiB TAR page a DAP_Transfer setting SELECT, CSW and TAR, then
 * DAP_TransferBlock packets of DRW words). Building touches no probe; checking reads a
 * response buffer only: both can be unit-tested and fuzzed without USB.
 *
 * A checker returns LPA_OK, what the target answered (LPA_ERR_WAIT, LPA_ERR_FAULT,
 * LPA_ERR_NO_TARGET, LPA_ERR_MISMATCH for a value-match read the probe gave up on), or
 * LPA_ERR_PROTOCOL for a malformed response, with the reason in *why (enum dap_bad, named
 * by dap_cmd_bad_str).
 */
#ifndef LPA_PROGRAMMER_DAP_CMD_H
#define LPA_PROGRAMMER_DAP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lpa/core/lpa-core.h"

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

/* Transfer request bits. */
#define REQ_AP 0x01
#define REQ_READ 0x02
#define REQ_MATCH_VALUE 0x10
#define REQ_MATCH_MASK 0x20

/* Transfer response bits. */
#define ACK_OK 1
#define ACK_WAIT 2
#define ACK_FAULT 4
#define ACK_NOACK 7
#define RESP_PROTOCOL_ERROR 0x08
#define RESP_MISMATCH 0x10

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

/* TAR auto-increment is only guaranteed within a 1 KiB page (ADIv5). */
#define TAR_PAGE 1024

#define DAP_MAX_PACKET 1024
#define DAP_MAX_READS 64 /* reads one DAP_Transfer may carry (response <= 3 + 256 B) */

/* Why a response is malformed: distinct reasons, one name each (dap_cmd_bad_str). */
enum dap_bad {
	DAP_BAD_NONE = 0,
	DAP_BAD_EMPTY,       /* no bytes at all */
	DAP_BAD_ECHO,        /* the first byte names another command */
	DAP_BAD_HEADER,      /* shorter than its fixed header */
	DAP_BAD_COUNT_OVER,  /* more transfers done than were asked for */
	DAP_BAD_PARITY,      /* the probe saw an SWD parity error in read data */
	DAP_BAD_ACK,         /* an SWD acknowledge that does not exist */
	DAP_BAD_MATCH,       /* "value mismatch" where no value-match read stopped it */
	DAP_BAD_COUNT_SHORT, /* fewer transfers done than asked, yet acknowledged OK */
	DAP_BAD_DATA,        /* less read data than the transfers done carry */
	DAP_BAD_REQUEST,     /* our own command is malformed (never sent) */
	DAP_BAD_LAST
};
const char *dap_cmd_bad_str(enum dap_bad why);

/* One command and its response. */
struct dap_cmd {
	uint8_t out[DAP_MAX_PACKET];
	size_t out_len;
	uint8_t in[DAP_MAX_PACKET];
	size_t in_len;
};

/* What a checked DAP_Transfer / DAP_TransferBlock response says. */
struct dap_reply {
	unsigned asked;      /* transfers the command asked for */
	unsigned done;       /* transfers the probe completed */
	uint8_t resp;        /* its response byte (ACK and flags) */
	const uint8_t *data; /* read data of the transfers done, 4 bytes per read */
	unsigned words;
};

/*
 * Checks c->in against c->out. DAP_Transfer and DAP_TransferBlock: echo, header, counts,
 * acknowledge, and that the data of every completed read is there (bytes after it are
 * ignored: firmware may pad). Any other command: echo and a status byte.
 */
int dap_cmd_check(const struct dap_cmd *c, struct dap_reply *rep, enum dap_bad *why);

/* ADI state the probe keeps for us: what SELECT and each AP's CSW hold, when known. */
struct dap_adi {
	bool select_valid;
	uint32_t select;
	bool csw_valid[256];
	uint32_t csw[256];
};

/* ------------------------------------------------ one DAP_Transfer */
struct dap_xfer {
	struct dap_cmd cmd;
	unsigned count;
	unsigned nreads;
	uint32_t *reads[DAP_MAX_READS]; /* where each read's value goes (NULL: dropped) */
};

void dap_cmd_xfer_init(struct dap_xfer *x);
/* Whether n more DRW accesses fit (request and response within pkt_size). */
bool dap_cmd_xfer_room(const struct dap_xfer *x, uint16_t pkt_size, bool write, unsigned n);
/* A request: req bits with reg; wval for writes (and value-match reads), rval for reads. */
void dap_cmd_xfer_add(struct dap_xfer *x, uint8_t req, uint32_t wval, uint32_t *rval);
/* The SELECT write an access to ap/reg needs, if the cache says it is not there. */
void dap_cmd_xfer_select(struct dap_xfer *x, struct dap_adi *adi, uint8_t ap, uint8_t reg);
/* Sets the count byte: the command is ready to send. */
void dap_cmd_xfer_finish(struct dap_xfer *x);
/* Checks the response (dap_cmd_check) and stores the values of the reads done (all of
 * them on LPA_OK; none of a malformed response). */
int dap_cmd_xfer_check(struct dap_xfer *x, struct dap_reply *rep, enum dap_bad *why);

/* ------------------------------------------------ a memory run */
struct dap_run {
	bool write;
	uint8_t ap;
	unsigned size; /* 1 or 4 */
	uint32_t addr;
	size_t len;
	struct dap_cmd *cmds;
	size_t n, cap;
	uint32_t *first_addr; /* address of each command's first data word */
	uint32_t *nwords;     /* data words each command moves */
};

/*
 * Builds the commands that move len bytes at addr (size 4: any multiple of 4; size 1: at
 * most 8 bytes) with CSW value csw, packets of at most pkt_size bytes. The cache is
 * updated as if every command succeeds (the caller invalidates it when one does not).
 * LPA_ERR_INVAL for arguments no run can have, LPA_ERR_NOMEM.
 */
int dap_cmd_run_build(struct dap_run *run, struct dap_adi *adi, uint16_t pkt_size, bool write,
		      uint8_t ap, uint32_t addr, unsigned size, const uint8_t *buf, size_t len,
		      uint32_t csw);

/*
 * Checks every response in order and, for reads, copies the data into buf (run->len
 * bytes). On failure *fault_addr names the first word not done (the words before it are
 * in buf), *failed the command that failed, and *why the reason when it is malformed.
 */
int dap_cmd_run_check(const struct dap_run *run, uint8_t *buf, uint32_t *fault_addr, size_t *failed,
		      enum dap_bad *why);

void dap_cmd_run_free(struct dap_run *run);

#endif /* LPA_PROGRAMMER_DAP_CMD_H */
