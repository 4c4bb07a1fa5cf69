/*
 * tcl-rpc.c — OpenOCD's Tcl RPC protocol: 0x1a-terminated scripts and replies over a
 * loopback TCP connection, and strict parsers for the replies (tcl-rpc.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcl-rpc.h"

void tcl_rpc_init(struct tcl_rpc *t)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->aux_fd = -1;
}

int tcl_rpc_connect(struct tcl_rpc *t, uint16_t port, unsigned timeout_ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd, one = 1;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};

	tcl_rpc_close(t);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* CLOEXEC: another link's OpenOCD, forked later by another thread, must not
	 * inherit this socket (it would keep the connection open after we close it). */
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(t->err, sizeof(t->err), "socket: %s", strerror(errno));
		return LPA_ERR_SYSTEM;
	}
	/* A loopback connect either completes or is refused at once; the send timeout
	 * bounds it anyway. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		snprintf(t->err, sizeof(t->err), "connect to 127.0.0.1:%u: %s", port, strerror(e));
		close(fd);
		errno = e;
		return LPA_ERR_SYSTEM;
	}
	/* Small request/response exchanges: do not let Nagle hold the next script back. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	t->fd = fd;
	return LPA_OK;
}

void tcl_rpc_close(struct tcl_rpc *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

static int tcl_rpc_reserve(struct tcl_rpc *t, size_t need)
{
	char *p;
	size_t cap;

	if (need <= t->reply_cap)
		return LPA_OK;
	cap = t->reply_cap ? t->reply_cap : 4096;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(t->reply, cap)) == NULL)
		return LPA_ERR_NOMEM;
	t->reply = p;
	t->reply_cap = cap;
	return LPA_OK;
}

/* Writes all of buf before the deadline. */
static int tcl_rpc_send_all(struct tcl_rpc *t, const char *buf, size_t len, uint64_t deadline)
{
	size_t off = 0;

	while (off < len) {
		struct pollfd p = {.fd = t->fd, .events = POLLOUT};
		int64_t left = lpa_mono_left_ms(deadline);
		ssize_t n;

		if (left <= 0) {
			snprintf(t->err, sizeof(t->err),
				 "OpenOCD did not take the request in time");
			return LPA_ERR_TIMEOUT;
		}
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(t->err, sizeof(t->err), "poll: %s", strerror(errno));
			return LPA_ERR_SYSTEM;
		}
		/* MSG_NOSIGNAL: an OpenOCD that died must give an error, not SIGPIPE. */
		n = send(t->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			snprintf(t->err, sizeof(t->err), "OpenOCD connection: %s", strerror(errno));
			return errno == EPIPE || errno == ECONNRESET ? LPA_ERR_PROBE_GONE
								     : LPA_ERR_SYSTEM;
		}
		off += (size_t)n;
		t->bytes_out += (uint64_t)n;
	}
	return LPA_OK;
}

int tcl_rpc_call(struct tcl_rpc *t, const char *script, unsigned timeout_ms)
{
	uint64_t deadline = lpa_mono_ms() + timeout_ms;
	size_t len = strlen(script);
	char eom = TCL_RPC_EOM;
	int r;

	t->reply_len = 0;
	if (t->fd < 0) {
		snprintf(t->err, sizeof(t->err), "not connected to OpenOCD");
		return LPA_ERR_PROBE_GONE;
	}
	if (memchr(script, TCL_RPC_EOM, len) != NULL)
		return LPA_ERR_INVAL; /* it would end the request early */
	if ((r = tcl_rpc_reserve(t, 4096)) != LPA_OK)
		return r;
	t->reply[0] = '\0';
	if ((r = tcl_rpc_send_all(t, script, len, deadline)) != LPA_OK ||
	    (r = tcl_rpc_send_all(t, &eom, 1, deadline)) != LPA_OK)
		return r;
	t->requests++;
	for (;;) {
		struct pollfd p[2] = {{.fd = t->fd, .events = POLLIN},
				      {.fd = t->aux_fd, .events = POLLIN}};
		int64_t left = lpa_mono_left_ms(deadline);
		char *eom_at;
		ssize_t n;

		if (left <= 0) {
			snprintf(t->err, sizeof(t->err), "no reply from OpenOCD within %u ms",
				 timeout_ms);
			return LPA_ERR_TIMEOUT;
		}
		if (poll(p, t->aux_fd >= 0 ? 2 : 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(t->err, sizeof(t->err), "poll: %s", strerror(errno));
			return LPA_ERR_SYSTEM;
		}
		if (t->aux_fd >= 0 && p[1].revents != 0 && t->aux_cb != NULL)
			t->aux_cb(t->aux_ctx);
		if (p[0].revents == 0)
			continue;
		if ((r = tcl_rpc_reserve(t, t->reply_len + 4096 + 1)) != LPA_OK)
			return r;
		n = recv(t->fd, t->reply + t->reply_len, t->reply_cap - t->reply_len - 1,
			 MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			snprintf(t->err, sizeof(t->err), "OpenOCD connection: %s", strerror(errno));
			return LPA_ERR_PROBE_GONE;
		}
		if (n == 0) {
			snprintf(t->err, sizeof(t->err), "OpenOCD closed the connection");
			return LPA_ERR_PROBE_GONE;
		}
		t->bytes_in += (uint64_t)n;
		eom_at = memchr(t->reply + t->reply_len, TCL_RPC_EOM, (size_t)n);
		t->reply_len += (size_t)n;
		t->reply[t->reply_len] = '\0';
		if (eom_at != NULL) {
			size_t at = (size_t)(eom_at - t->reply);

			/* One request, one reply: anything after it was not asked for. */
			if (at + 1 != t->reply_len) {
				snprintf(t->err, sizeof(t->err),
					 "OpenOCD sent %zu bytes after its reply",
					 t->reply_len - at - 1);
				return LPA_ERR_PROTOCOL;
			}
			t->reply_len = at;
			t->reply[at] = '\0';
			t->answers++;
			return LPA_OK;
		}
		if (t->reply_len > TCL_RPC_MAX_REPLY) {
			snprintf(t->err, sizeof(t->err), "reply from OpenOCD over %u bytes",
				 TCL_RPC_MAX_REPLY);
			return LPA_ERR_PROTOCOL;
		}
	}
}

int tcl_rpc_wrap(const char *cmd, char *out, size_t out_len)
{
	/* Braces keep the command unevaluated until catch runs it; catch's code tells
	 * success (0) from a Tcl error (1) or an OpenOCD error code (negative). */
	int n = snprintf(out, out_len,
			 "set lpa_rc [catch {%s} lpa_res]; set lpa_out \"$lpa_rc $lpa_res\"", cmd);

	return n >= 0 && (size_t)n < out_len ? LPA_OK : LPA_ERR_LENGTH;
}

static bool tcl_rpc_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

int tcl_rpc_parse_reply(const char *reply, size_t len, int *rc, const char **text, size_t *text_len)
{
	size_t i = 0, digits;
	bool neg = false;
	int64_t v = 0;

	if (len > 0 && reply[0] == '-') {
		neg = true;
		i++;
	}
	for (digits = 0; i < len && tcl_rpc_isdigit(reply[i]); i++, digits++) {
		if (digits == 10)
			return LPA_ERR_PROTOCOL;
		v = v * 10 + (reply[i] - '0');
	}
	if (digits == 0 || (digits > 1 && reply[i - digits] == '0') || (neg && v == 0))
		return LPA_ERR_PROTOCOL;
	if (v > (neg ? 2147483648LL : 2147483647LL))
		return LPA_ERR_PROTOCOL;
	if (i >= len || reply[i] != ' ')
		return LPA_ERR_PROTOCOL;
	i++;
	if (memchr(reply + i, '\0', len - i) != NULL ||
	    memchr(reply + i, TCL_RPC_EOM, len - i) != NULL)
		return LPA_ERR_PROTOCOL;
	*rc = (int)(neg ? -v : v);
	*text = reply + i;
	*text_len = len - i;
	return LPA_OK;
}

static bool tcl_rpc_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* One number at text[*i..]; advances *i past it. */
static int tcl_rpc_parse_one(const char *text, size_t len, size_t *i, uint32_t max, uint32_t *val)
{
	uint64_t v = 0;
	size_t n = 0, p = *i;

	if (p + 1 < len && text[p] == '0' && (text[p + 1] == 'x' || text[p + 1] == 'X')) {
		int h;

		for (p += 2; p < len && (h = lpa_hex_digit(text[p])) >= 0; p++, n++) {
			if (n == 8)
				return LPA_ERR_PROTOCOL;
			v = v << 4 | (uint64_t)h;
		}
	} else {
		for (; p < len && tcl_rpc_isdigit(text[p]); p++, n++) {
			if (n == 10)
				return LPA_ERR_PROTOCOL;
			v = v * 10 + (uint64_t)(text[p] - '0');
		}
	}
	/* A number ends at a separator or the end: "12ab" and "0x" are not numbers. */
	if (n == 0 || v > max || (p < len && !tcl_rpc_isspace(text[p])))
		return LPA_ERR_PROTOCOL;
	*val = (uint32_t)v;
	*i = p;
	return LPA_OK;
}

int tcl_rpc_parse_u32s(const char *text, size_t len, uint32_t max, uint32_t *vals, size_t count)
{
	size_t i = 0, got = 0;

	for (;;) {
		while (i < len && tcl_rpc_isspace(text[i]))
			i++;
		if (i == len)
			break;
		if (got == count)
			return LPA_ERR_PROTOCOL; /* more values than asked for */
		if (tcl_rpc_parse_one(text, len, &i, max, &vals[got]) != LPA_OK)
			return LPA_ERR_PROTOCOL;
		got++;
	}
	return got == count ? LPA_OK : LPA_ERR_PROTOCOL;
}

void tcl_rpc_quote(const char *text, size_t len, char *out, size_t out_len)
{
	size_t o = 0;

	if (out_len == 0)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		char tmp[5];
		size_t n;

		if (c >= 0x20 && c < 0x7f) {
			tmp[0] = (char)c;
			n = 1;
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			n = 4;
		}
		if (o + n + 4 > out_len) {
			if (o + 4 <= out_len) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
}
