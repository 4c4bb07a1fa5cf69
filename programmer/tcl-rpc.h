/*
 * tcl-rpc.h — a client for OpenOCD's Tcl RPC server (private to programmer/).
 *
 * The protocol: the client sends a Tcl script terminated by one 0x1a byte; the server
 * evaluates it and answers with the script's result, also terminated by 0x1a. There is
 * no status in the frame itself, so callers wrap their commands so that the result says
 * whether they failed (tcl_rpc_wrap) and parse it strictly (tcl_rpc_parse_*).
 *
 * The parsers are pure functions over a buffer so that they can be unit-tested and fuzzed
 * without an OpenOCD.
 */
#ifndef LPA_PROGRAMMER_TCL_RPC_H
#define LPA_PROGRAMMER_TCL_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lpa/core/lpa-core.h"

#define TCL_RPC_EOM 0x1a
/* A larger reply is not an answer to anything this client asks: a protocol error. */
#define TCL_RPC_MAX_REPLY (1u << 20)

struct tcl_rpc {
	int fd; /* -1 when not connected */
	/* Called whenever aux_fd is readable while waiting for a reply (OpenOCD's stderr
	 * must be drained or OpenOCD blocks on it). aux_fd -1: none. */
	int aux_fd;
	void (*aux_cb)(void *ctx);
	void *aux_ctx;
	char *reply; /* the last reply, NUL-terminated (no 0x1a) */
	size_t reply_len, reply_cap;
	uint64_t requests, answers, bytes_out, bytes_in;
	char err[160];
};

void tcl_rpc_init(struct tcl_rpc *t);
/* Connects to 127.0.0.1:port (one attempt). LPA_ERR_SYSTEM with errno when refused. */
int tcl_rpc_connect(struct tcl_rpc *t, uint16_t port, unsigned timeout_ms);
void tcl_rpc_close(struct tcl_rpc *t);

/*
 * Sends script (which must not contain 0x1a) and waits at most timeout_ms for the whole
 * reply; on LPA_OK t->reply holds it. LPA_ERR_PROBE_GONE when the server closed the
 * connection, LPA_ERR_TIMEOUT when the reply did not come in time (the stream is then out
 * of step: close the connection), LPA_ERR_PROTOCOL for data after the terminator or an
 * oversized reply.
 */
int tcl_rpc_call(struct tcl_rpc *t, const char *script, unsigned timeout_ms);

/*
 * Wraps cmd so that its reply is "<rc> <result>": rc is catch's code (0 success, 1 Tcl
 * error, or OpenOCD's own negative error code), result the value or the error message.
 * LPA_ERR_LENGTH when out is too small.
 */
int tcl_rpc_wrap(const char *cmd, char *out, size_t out_len);

/*
 * Splits a reply "<rc> <text>": rc a decimal integer (optional '-', at most 10 digits,
 * no leading zeros), exactly one space, then the text (possibly empty, never containing
 * NUL or 0x1a). LPA_ERR_PROTOCOL otherwise.
 */
int tcl_rpc_parse_reply(const char *reply, size_t len, int *rc, const char **text,
			size_t *text_len);

/*
 * Parses exactly count unsigned numbers, each "0x" followed by 1..8 hex digits or 1..10
 * decimal digits, no larger than max, separated by runs of space, tab or newline (leading
 * and trailing runs allowed; nothing else). LPA_ERR_PROTOCOL on anything else, on fewer
 * or more numbers.
 */
int tcl_rpc_parse_u32s(const char *text, size_t len, uint32_t max, uint32_t *vals, size_t count);

/* Copies text into out for an error message: printable ASCII kept, the rest as "\xNN",
 * truncated with "..." when it does not fit. */
void tcl_rpc_quote(const char *text, size_t len, char *out, size_t out_len);

#endif /* LPA_PROGRAMMER_TCL_RPC_H */
