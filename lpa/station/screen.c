/*
 * screen.c — the operator's screen for `lpa-station run` (see screen.h).
 *
 * The model (one struct per slot, the banner, the counters) is changed by the workers
 * under s->lock; the UI thread alone talks to ncurses: it redraws the whole screen ten
 * times a second (ncurses sends only what changed), reads the keys, and drains the pipe
 * that stands in for stderr while the screen is up, so a warning printed by any thread
 * lands in the message area instead of tearing the tiles.
 */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curses.h>

#include "auth/auth.h"
#include "lpa/core/lpa-core.h"
#include "screen.h"

#define SCREEN_MSGS 4  /* message lines on show */
#define SCREEN_KEEP 64 /* message lines printed again when the screen closes */
#define SCREEN_TILE_MIN_W 34
#define SCREEN_TILE_MIN_H 11
#define SCREEN_TILE_MAX_H 16

enum slot_state { SLOT_WAITING, SLOT_WORKING, SLOT_PASS, SLOT_FAIL, SLOT_GONE };

/* Logging in again: the field being typed, or the KMS being asked. */
enum login_step { LOGIN_OFF, LOGIN_OPERATOR, LOGIN_PASSWORD, LOGIN_TOTP, LOGIN_BUSY };
#define SCREEN_TOTP_MAX 8

struct screen_slot {
	char serial[64];
	enum slot_state state;
	bool need_ack; /* a FAIL not yet acknowledged: the slot takes no chip */
	char step[24];
	unsigned pct;
	uint64_t dev_eui;
	bool recovered;
	char cls[32];
	char reason[200];
	char advice[160];
	unsigned pass, fail;
};

struct screen {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* an acknowledgement */
	pthread_t ui;
	bool quit;
	volatile sig_atomic_t *stop;
	SCREEN *term;
	bool utf8;
	char lot[80];
	char banner[200];
	time_t expires_at;
	double t0; /* lpa_mono_s() at the start */
	unsigned pass, fail;
	int err_pipe; /* read end of what stands in for stderr */
	int saved_err;
	char partial[256]; /* a message line still being written */
	size_t partial_len;
	char keep[SCREEN_KEEP][160];
	size_t n_keep; /* lines ever kept; the last SCREEN_KEEP are in keep[] */
	/* Logging in again (screen_set_login). The secrets are typed into secbufs of their
	 * maximum size; only the KMS call's copies are of their real length. */
	screen_login_fn login_fn;
	void *login_ctx;
	enum login_step login_step;
	char login_op[65];
	size_t login_op_len;
	lpa_secbuf *login_pw, *login_totp;
	size_t login_pw_len, login_totp_len;
	pthread_t login_thread;
	bool login_joinable;
	size_t n;
	struct screen_slot slot[];
};

/* Keys that acknowledge slot 1, 2, ... (lower case accepted too). */
static const char screen_keys[] = "123456789ABCDEFGHIJKLMNOPRSTUVWX";

enum { PAIR_PASS = 1, PAIR_FAIL, PAIR_BANNER, PAIR_WORK, PAIR_GONE, PAIR_ACK };

/* 5x5 glyphs for the words PASS and FAIL: '#' is a block. */
static const char *const *screen_glyph(char c)
{
	static const char *const p[5] = {"#### ", "#   #", "#### ", "#    ", "#    "};
	static const char *const a[5] = {" ### ", "#   #", "#####", "#   #", "#   #"};
	static const char *const s[5] = {" ####", "#    ", " ### ", "    #", "#### "};
	static const char *const f[5] = {"#####", "#    ", "#### ", "#    ", "#    "};
	static const char *const i[5] = {" ### ", "  #  ", "  #  ", "  #  ", " ### "};
	static const char *const l[5] = {"#    ", "#    ", "#    ", "#    ", "#####"};
	static const char *const blank[5] = {"     ", "     ", "     ", "     ", "     "};

	switch (c) {
	case 'P':
		return p;
	case 'A':
		return a;
	case 'S':
		return s;
	case 'F':
		return f;
	case 'I':
		return i;
	case 'L':
		return l;
	default:
		return blank;
	}
}

bool screen_usable(void)
{
	const char *term = getenv("TERM");

	/* A terminal terminfo does not know makes screen_open fail: the plain lines then. */
	return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) && term != NULL && term[0] &&
	       strcmp(term, "dumb") != 0;
}

/* ------------------------------------------------------------ messages */
static void screen_keep_line(struct screen *s, const char *line)
{
	snprintf(s->keep[s->n_keep % SCREEN_KEEP], sizeof(s->keep[0]), "%.*s",
		 (int)sizeof(s->keep[0]) - 1, line);
	s->n_keep++;
}

/* Whatever the other threads wrote to stderr since the last call, split in lines. */
static void screen_drain(struct screen *s)
{
	char buf[1024];
	ssize_t got;

	while ((got = read(s->err_pipe, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] == '\n' || s->partial_len + 1 >= sizeof(s->partial)) {
				s->partial[s->partial_len] = '\0';
				screen_keep_line(s, s->partial);
				s->partial_len = 0;
				if (buf[i] == '\n')
					continue;
			}
			s->partial[s->partial_len++] = buf[i] == '\t' ? ' ' : buf[i];
		}
	}
}

/* ------------------------------------------------------------ drawing */
static double screen_elapsed(const struct screen *s)
{
	return lpa_mono_s() - s->t0;
}

static void screen_word(const struct screen *s, int y, int x, const char *word, int pair)
{
	for (int row = 0; row < 5; row++) {
		move(y + row, x);
		for (const char *c = word; *c; c++) {
			const char *g = screen_glyph(*c)[row];

			for (int col = 0; col < 5; col++) {
				if (g[col] != '#') {
					addch(' ' | COLOR_PAIR(pair));
				} else if (s->utf8) {
					attron(COLOR_PAIR(pair) | A_BOLD);
					addstr("\u2588");
					attroff(COLOR_PAIR(pair) | A_BOLD);
				} else {
					addch(' ' | COLOR_PAIR(pair) | A_REVERSE);
				}
			}
			if (c[1])
				addch(' ' | COLOR_PAIR(pair));
		}
	}
}

/* One line of text at (y, x), cut to w columns, in an attribute. */
static void screen_text(int y, int x, int w, attr_t attr, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void screen_text(int y, int x, int w, attr_t attr, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (w <= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	attron(attr);
	mvaddnstr(y, x, line, w);
	attroff(attr);
}

static void screen_fill(int y, int x, int w, int pair)
{
	move(y, x);
	for (int i = 0; i < w; i++)
		addch(' ' | COLOR_PAIR(pair));
}

/* Text from (y, x) in lines of at most w columns, broken at spaces, at most max lines;
 * returns the lines used. */
static int screen_wrap(int y, int x, int w, int max, attr_t attr, const char *lead,
		       const char *text)
{
	char buf[512];
	const char *p = buf;
	int used = 0;

	snprintf(buf, sizeof(buf), "%s%s", lead, text);
	while (*p && used < max && w > 0) {
		size_t len = strlen(p), cut = len;

		if ((int)len > w) {
			cut = (size_t)w;
			while (cut > 0 && p[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = (size_t)w;
		}
		attron(attr);
		mvaddnstr(y + used, x, p, (int)cut);
		attroff(attr);
		used++;
		p += cut;
		while (*p == ' ')
			p++;
	}
	return used;
}

static void screen_yield(char *buf, size_t len, unsigned pass, unsigned fail)
{
	if (pass + fail == 0)
		snprintf(buf, len, "yield -");
	else
		snprintf(buf, len, "yield %.0f%%", 100.0 * pass / (pass + fail));
}

static void screen_tile(const struct screen *s, size_t i, int y, int x, int h, int w)
{
	const struct screen_slot *sl = &s->slot[i];
	char yield[32];
	int inner = w - 4;

	attron(A_BOLD);
	mvaddch(y, x, ACS_ULCORNER);
	for (int k = 1; k < w - 1; k++)
		addch(ACS_HLINE);
	addch(ACS_URCORNER);
	for (int k = 1; k < h - 1; k++) {
		mvaddch(y + k, x, ACS_VLINE);
		mvaddch(y + k, x + w - 1, ACS_VLINE);
	}
	mvaddch(y + h - 1, x, ACS_LLCORNER);
	for (int k = 1; k < w - 1; k++)
		addch(ACS_HLINE);
	addch(ACS_LRCORNER);
	mvprintw(y, x + 2, " [%c] %.40s ", screen_keys[i], sl->serial);
	attroff(A_BOLD);

	switch (sl->state) {
	case SLOT_WAITING:
		screen_text(y + 1, x + 2, inner, A_NORMAL, "insert a chip");
		break;
	case SLOT_WORKING: {
		int bar = inner - 18 > 0 ? inner - 18 : 0;

		screen_text(y + 1, x + 2, inner, COLOR_PAIR(PAIR_WORK) | A_BOLD, "%-10s %3u%%",
			    sl->step, sl->pct);
		move(y + 1, x + 2 + 16);
		for (int k = 0; k < bar; k++)
			addch(k < (int)(sl->pct * (unsigned)bar / 100) ? ACS_CKBOARD : '.');
		break;
	}
	case SLOT_GONE:
		screen_text(y + 1, x + 2, inner, COLOR_PAIR(PAIR_GONE) | A_BOLD,
			    "DISCONNECTED: plug the probe in again");
		break;
	default:
		break;
	}
	if (sl->state == SLOT_PASS || sl->state == SLOT_FAIL ||
	    (sl->state != SLOT_WORKING && sl->cls[0])) {
		bool pass = strcmp(sl->cls, "pass") == 0;
		int pair = pass ? PAIR_PASS : PAIR_FAIL;
		int wx = x + 2 + (inner - 23) / 2;

		for (int k = 2; k < 9 && k < h - 1; k++)
			screen_fill(y + k, x + 2, inner, pair);
		if (h >= SCREEN_TILE_MIN_H)
			screen_word(s, y + 3, wx > x + 2 ? wx : x + 2, pass ? "PASS" : "FAIL",
				    pair);
		if (pass) {
			screen_text(y + 9, x + 2, inner, A_BOLD, "PASS  DevEUI %016llx%s",
				    (unsigned long long)sl->dev_eui,
				    sl->recovered ? " (recovered)" : "");
		} else {
			int row = y + 10;

			screen_text(y + 9, x + 2, inner, COLOR_PAIR(PAIR_GONE) | A_BOLD, "FAIL  %s",
				    sl->cls);
			row += screen_wrap(row, x + 2, inner, y + h - 2 - row, A_NORMAL, "",
					   sl->reason);
			if (sl->need_ack)
				screen_wrap(row, x + 2, inner, y + h - 2 - row, A_BOLD,
					    "do: ", sl->advice);
		}
	}
	if (sl->need_ack)
		screen_text(y + 1, x + 2, inner, COLOR_PAIR(PAIR_ACK) | A_BOLD | A_BLINK,
			    "press %c to acknowledge", screen_keys[i]);
	screen_yield(yield, sizeof(yield), sl->pass, sl->fail);
	screen_text(y + h - 2, x + 2, inner, A_NORMAL, "pass %u  fail %u  %s", sl->pass, sl->fail,
		    yield);
}

/* Terminals too small for tiles: one line per slot. */
static void screen_row(const struct screen *s, size_t i, int y)
{
	const struct screen_slot *sl = &s->slot[i];
	char yield[32];
	int pair = strcmp(sl->cls, "pass") == 0 ? PAIR_PASS : PAIR_FAIL;

	screen_yield(yield, sizeof(yield), sl->pass, sl->fail);
	screen_text(y, 0, COLS, A_BOLD, "[%c] %-12.12s", screen_keys[i], sl->serial);
	if (sl->state == SLOT_WORKING)
		screen_text(y, 17, COLS - 17, COLOR_PAIR(PAIR_WORK), "%-10s %3u%%", sl->step,
			    sl->pct);
	else if (sl->state == SLOT_GONE)
		screen_text(y, 17, COLS - 17, COLOR_PAIR(PAIR_GONE) | A_BOLD, "DISCONNECTED");
	else if (sl->cls[0])
		screen_text(y, 17, COLS - 17, COLOR_PAIR(pair) | A_BOLD, " %s ",
			    pair == PAIR_PASS ? "PASS" : "FAIL");
	else
		screen_text(y, 17, COLS - 17, A_NORMAL, "insert a chip");
	if (sl->need_ack)
		screen_text(y, 33, COLS - 33, COLOR_PAIR(PAIR_ACK) | A_BOLD,
			    "press %c to acknowledge: %s", screen_keys[i], sl->advice);
	else if (pair == PAIR_PASS && sl->cls[0])
		screen_text(y, 33, COLS - 33, A_NORMAL, "DevEUI %016llx  %s",
			    (unsigned long long)sl->dev_eui, yield);
	else
		screen_text(y, 33, COLS - 33, A_NORMAL, "pass %u  fail %u  %s", sl->pass, sl->fail,
			    yield);
}

static void screen_draw(struct screen *s)
{
	char yield[32], rate[48] = "";
	double secs = screen_elapsed(s);
	unsigned in_flight = 0;
	int top = 2, bottom = SCREEN_MSGS + 1;
	time_t now = time(NULL);

	erase();
	for (size_t i = 0; i < s->n; i++)
		in_flight += s->slot[i].state == SLOT_WORKING;
	screen_yield(yield, sizeof(yield), s->pass, s->fail);
	/* A rate over a handful of devices or a few seconds says nothing. */
	if (s->pass + s->fail >= 5 && secs >= 60)
		snprintf(rate, sizeof(rate), "  %.1f good devices/min", 60.0 * s->pass / secs);
	screen_text(0, 0, COLS, A_BOLD,
		    "lpa-station run   lot %s   %zu probe%s   pass %u  fail %u  %s%s", s->lot, s->n,
		    s->n == 1 ? "" : "s", s->pass, s->fail, yield, rate);
	if (*s->stop) {
		screen_fill(1, 0, COLS, PAIR_BANNER);
		screen_text(1, 1, COLS - 1, COLOR_PAIR(PAIR_BANNER) | A_BOLD,
			    "Ctrl-C: finishing %u device%s in flight, then the shift ends",
			    in_flight, in_flight == 1 ? "" : "s");
	} else if (s->login_step != LOGIN_OFF) {
		static const char *const prompt[] = {"", "operator", "password (not shown)",
						     "TOTP code (not shown)", ""};

		screen_fill(1, 0, COLS, PAIR_BANNER);
		if (s->login_step == LOGIN_BUSY)
			screen_text(1, 1, COLS - 1, COLOR_PAIR(PAIR_BANNER) | A_BOLD,
				    "logging in again as %s ...", s->login_op);
		else
			screen_text(1, 1, COLS - 1, COLOR_PAIR(PAIR_BANNER) | A_BOLD,
				    "log in again   %s: %s   (Enter: next, Esc: cancel)",
				    prompt[s->login_step],
				    s->login_step == LOGIN_OPERATOR ? s->login_op : "");
	} else if (s->banner[0]) {
		screen_fill(1, 0, COLS, PAIR_BANNER);
		screen_text(1, 1, COLS - 1, COLOR_PAIR(PAIR_BANNER) | A_BOLD, "%s", s->banner);
	} else if (s->expires_at != 0 && s->expires_at - now <= 600) {
		long mins = (long)(s->expires_at - now + 59) / 60;

		screen_fill(1, 0, COLS, PAIR_BANNER);
		if (mins > 0)
			screen_text(
				1, 1, COLS - 1, COLOR_PAIR(PAIR_BANNER) | A_BOLD,
				"the operator session ends in %ld min: press %s to log in again "
				"and keep the line going",
				mins, SCREEN_LOGIN_KEY_NAME);
		else
			screen_text(1, 1, COLS - 1, COLOR_PAIR(PAIR_BANNER) | A_BOLD,
				    "the operator session has ended: press %s to log in again",
				    SCREEN_LOGIN_KEY_NAME);
	}

	int avail_h = LINES - top - bottom;
	int cols = COLS / SCREEN_TILE_MIN_W > 0 ? COLS / SCREEN_TILE_MIN_W : 1;

	if ((size_t)cols > s->n)
		cols = (int)s->n;
	int rows = (int)((s->n + (size_t)cols - 1) / (size_t)cols);
	int th = rows > 0 ? avail_h / rows : 0, tw = COLS / cols;

	if (th >= SCREEN_TILE_MIN_H && tw >= SCREEN_TILE_MIN_W) {
		if (th > SCREEN_TILE_MAX_H)
			th = SCREEN_TILE_MAX_H;
		for (size_t i = 0; i < s->n; i++)
			screen_tile(s, i, top + (int)(i / (size_t)cols) * th,
				    (int)(i % (size_t)cols) * tw, th, tw);
	} else {
		for (size_t i = 0; i < s->n && top + (int)i < LINES - bottom; i++)
			screen_row(s, i, top + (int)i);
	}
	for (int k = 0; k < SCREEN_MSGS; k++) {
		size_t back = (size_t)(SCREEN_MSGS - k);

		if (s->n_keep >= back)
			screen_text(LINES - bottom + k, 0, COLS, A_DIM, "%s",
				    s->keep[(s->n_keep - back) % SCREEN_KEEP]);
	}
	screen_text(LINES - 1, 0, COLS, A_REVERSE,
		    " keys %c-%c: acknowledge a FAIL on that slot   %s%s  Ctrl-C: end the shift ",
		    screen_keys[0], screen_keys[s->n > 1 ? s->n - 1 : 0],
		    s->login_fn != NULL ? SCREEN_LOGIN_KEY_NAME : "",
		    s->login_fn != NULL ? ": log in again " : "");
	refresh();
}

/* ------------------------------------------------------------ logging in again */
struct screen_login_job {
	struct screen *s;
	char op[65];
	lpa_secbuf *password, *totp;
};

static void screen_login_wipe(struct screen *s)
{
	lpa_secbuf_free(&s->login_pw);
	lpa_secbuf_free(&s->login_totp);
	s->login_pw_len = s->login_totp_len = 0;
}

/* The KMS call, off the UI thread: the screen goes on while the KMS answers. */
static void *screen_login_main(void *arg)
{
	struct screen_login_job *j = arg;
	struct screen *s = j->s;
	char msg[120] = "", line[sizeof(s->keep[0])];
	int r = s->login_fn(s->login_ctx, j->op, j->password, j->totp, msg, sizeof(msg));

	lpa_secbuf_free(&j->password);
	lpa_secbuf_free(&j->totp);
	if (r == LPA_OK)
		snprintf(line, sizeof(line), "logged in again as %s%s%s: the shift goes on", j->op,
			 msg[0] ? ", " : "", msg);
	else
		snprintf(line, sizeof(line), "login as %s failed: %s (%s: try again)", j->op,
			 msg[0] ? msg : lpa_strerror(r), SCREEN_LOGIN_KEY_NAME);
	pthread_mutex_lock(&s->lock);
	screen_keep_line(s, line);
	s->login_step = LOGIN_OFF;
	pthread_mutex_unlock(&s->lock);
	free(j);
	return NULL;
}

/* Copies of the typed secrets of their real length, for the call; then wipes the fields. */
static void screen_login_submit(struct screen *s)
{
	struct screen_login_job *j = calloc(1, sizeof(*j));

	if (j != NULL) {
		j->s = s;
		memcpy(j->op, s->login_op, sizeof(j->op));
		j->password = lpa_secbuf_new(s->login_pw_len);
		j->totp = lpa_secbuf_new(s->login_totp_len);
	}
	if (j == NULL || j->password == NULL || j->totp == NULL) {
		screen_keep_line(s, "login: out of memory");
		goto fail;
	}
	memcpy(lpa_secbuf_data(j->password), lpa_secbuf_cdata(s->login_pw), s->login_pw_len);
	memcpy(lpa_secbuf_data(j->totp), lpa_secbuf_cdata(s->login_totp), s->login_totp_len);
	screen_login_wipe(s);
	if (s->login_joinable)
		pthread_join(s->login_thread, NULL); /* the last one: it has ended */
	s->login_joinable = false;
	s->login_step = LOGIN_BUSY;
	if (pthread_create(&s->login_thread, NULL, screen_login_main, j) == 0) {
		s->login_joinable = true;
		return;
	}
	screen_keep_line(s, "login: cannot start a thread");
fail:
	if (j != NULL) {
		lpa_secbuf_free(&j->password);
		lpa_secbuf_free(&j->totp);
		free(j);
	}
	screen_login_wipe(s);
	s->login_step = LOGIN_OFF;
}

/* A key while a login field is typed: printable characters, Backspace, Enter, Esc. */
static void screen_login_key(struct screen *s, int ch)
{
	lpa_secbuf *field = s->login_step == LOGIN_PASSWORD ? s->login_pw : s->login_totp;
	size_t *len = s->login_step == LOGIN_PASSWORD ? &s->login_pw_len : &s->login_totp_len;
	size_t cap = s->login_step == LOGIN_PASSWORD ? AUTH_SECRET_MAX : SCREEN_TOTP_MAX;

	if (s->login_step == LOGIN_OPERATOR) {
		len = &s->login_op_len;
		cap = sizeof(s->login_op) - 1;
	}
	if (ch == 27) { /* Esc */
		screen_login_wipe(s);
		s->login_step = LOGIN_OFF;
		screen_keep_line(s, "login cancelled");
	} else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		if (*len == 0)
			return; /* nothing typed yet: an empty field is never sent */
		if (s->login_step == LOGIN_TOTP)
			screen_login_submit(s);
		else
			s->login_step++;
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (*len > 0)
			(*len)--;
		if (s->login_step == LOGIN_OPERATOR)
			s->login_op[*len] = '\0';
	} else if (ch >= 0x20 && ch < 0x7f && *len < cap) {
		if (s->login_step == LOGIN_OPERATOR) {
			s->login_op[(*len)++] = (char)ch;
			s->login_op[*len] = '\0';
		} else {
			lpa_secbuf_data(field)[(*len)++] = (uint8_t)ch;
		}
	}
}

static void screen_login_start(struct screen *s)
{
	s->login_pw = lpa_secbuf_new(AUTH_SECRET_MAX);
	s->login_totp = lpa_secbuf_new(SCREEN_TOTP_MAX);
	if (s->login_pw == NULL || s->login_totp == NULL) {
		screen_login_wipe(s);
		screen_keep_line(s, "login: out of memory");
		return;
	}
	s->login_op_len = strlen(s->login_op);
	s->login_step = LOGIN_OPERATOR;
}

/* ------------------------------------------------------------ the UI thread */
static void screen_key(struct screen *s, int ch)
{
	size_t waiting = 0, only = 0;

	if (s->login_step == LOGIN_BUSY)
		return;
	if (s->login_step != LOGIN_OFF) {
		screen_login_key(s, ch);
		return;
	}
	if (ch == KEY_F(2) && s->login_fn != NULL) {
		screen_login_start(s);
		return;
	}

	if (ch >= 'a' && ch <= 'z')
		ch = ch - 'a' + 'A';
	for (size_t i = 0; i < s->n; i++) {
		if (s->slot[i].need_ack) {
			waiting++;
			only = i;
		}
		if (screen_keys[i] == ch && s->slot[i].need_ack) {
			s->slot[i].need_ack = false;
			pthread_cond_broadcast(&s->cond);
			return;
		}
	}
	/* Enter or space acknowledges when a single slot waits: a one-probe line. */
	if ((ch == '\n' || ch == ' ' || ch == KEY_ENTER) && waiting == 1) {
		s->slot[only].need_ack = false;
		pthread_cond_broadcast(&s->cond);
	}
}

static void *screen_main(void *arg)
{
	struct screen *s = arg;
	sigset_t block;

	/* Signals go to the other threads: the handler only sets the stop flag. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	for (;;) {
		int ch;

		pthread_mutex_lock(&s->lock);
		if (s->quit) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		screen_drain(s);
		screen_draw(s);
		pthread_mutex_unlock(&s->lock);
		ch = getch(); /* at most 100 ms (timeout below) */
		if (ch != ERR) {
			pthread_mutex_lock(&s->lock);
			screen_key(s, ch);
			pthread_mutex_unlock(&s->lock);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ the API */
int screen_open(struct screen **out, const char *lot, const char *const *serials, size_t n,
		volatile sig_atomic_t *stop)
{
	struct screen *s;
	int p[2] = {-1, -1};

	*out = NULL;
	if (n == 0 || n > sizeof(screen_keys) - 1)
		return LPA_ERR_INVAL;
	if ((s = calloc(1, sizeof(*s) + n * sizeof(s->slot[0]))) == NULL)
		return LPA_ERR_NOMEM;
	s->n = n;
	s->stop = stop;
	s->saved_err = -1;
	snprintf(s->lot, sizeof(s->lot), "%s", lot);
	for (size_t i = 0; i < n; i++)
		snprintf(s->slot[i].serial, sizeof(s->slot[i].serial), "%s", serials[i]);
	s->t0 = lpa_mono_s();
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	setlocale(LC_CTYPE, "");
	s->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	if ((s->term = newterm(NULL, stdout, stdin)) == NULL)
		goto fail;
	set_term(s->term);
	cbreak(); /* Ctrl-C stays a signal */
	noecho();
	keypad(stdscr, TRUE);
	set_escdelay(100); /* Esc cancels a login at once, not after a second */
	timeout(100);
	curs_set(0);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(PAIR_PASS, COLOR_WHITE, COLOR_GREEN);
		init_pair(PAIR_FAIL, COLOR_WHITE, COLOR_RED);
		init_pair(PAIR_BANNER, COLOR_BLACK, COLOR_YELLOW);
		init_pair(PAIR_WORK, COLOR_CYAN, -1);
		init_pair(PAIR_GONE, COLOR_RED, -1);
		init_pair(PAIR_ACK, COLOR_YELLOW, -1);
	}
	/* From here on stderr is the message area. */
	if (pipe2(p, O_CLOEXEC) != 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) != 0 ||
	    (s->saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) < 0 ||
	    dup2(p[1], STDERR_FILENO) < 0)
		goto fail_term;
	close(p[1]);
	p[1] = -1;
	s->err_pipe = p[0];
	if (pthread_create(&s->ui, NULL, screen_main, s) != 0)
		goto fail_term;
	*out = s;
	return LPA_OK;
fail_term:
	if (s->saved_err >= 0) {
		dup2(s->saved_err, STDERR_FILENO);
		close(s->saved_err);
	}
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	endwin();
	delscreen(s->term);
fail:
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return LPA_ERR_SYSTEM;
}

void screen_close(struct screen **sp)
{
	struct screen *s = *sp;
	size_t first;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->quit = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->ui, NULL);
	if (s->login_joinable)
		pthread_join(s->login_thread, NULL);
	screen_login_wipe(s);
	fflush(stderr);
	screen_drain(s);
	if (s->partial_len) {
		s->partial[s->partial_len] = '\0';
		screen_keep_line(s, s->partial);
	}
	endwin();
	delscreen(s->term);
	dup2(s->saved_err, STDERR_FILENO);
	close(s->saved_err);
	close(s->err_pipe);
	/* What scrolled through the message area stays readable after the shift. */
	first = s->n_keep > SCREEN_KEEP ? s->n_keep - SCREEN_KEEP : 0;
	for (size_t k = first; k < s->n_keep; k++)
		fprintf(stderr, "%s\n", s->keep[k % SCREEN_KEEP]);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
	*sp = NULL;
}

void screen_progress(struct screen *s, size_t slot, const char *step, unsigned pct)
{
	if (slot >= s->n)
		return;
	pthread_mutex_lock(&s->lock);
	s->slot[slot].state = SLOT_WORKING;
	s->slot[slot].cls[0] = '\0';
	snprintf(s->slot[slot].step, sizeof(s->slot[slot].step), "%s", step);
	s->slot[slot].pct = pct;
	pthread_mutex_unlock(&s->lock);
}

void screen_result(struct screen *s, size_t slot, const struct pipeline_result *r)
{
	bool pass = r->cls == PC_PASS;

	pthread_mutex_lock(&s->lock);
	if (pass)
		s->pass++;
	else
		s->fail++;
	if (slot >= s->n) {
		char line[sizeof(s->keep[0])];

		snprintf(line, sizeof(line), "%s: DevEUI %016llx %.120s",
			 pass ? "recovered" : "FAIL", (unsigned long long)r->dev_eui,
			 pass ? "" : r->reason);
		screen_keep_line(s, line);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	struct screen_slot *sl = &s->slot[slot];

	sl->state = pass ? SLOT_PASS : SLOT_FAIL;
	sl->dev_eui = r->dev_eui;
	sl->recovered = r->recovered;
	snprintf(sl->cls, sizeof(sl->cls), "%s", pass ? "pass" : pipeline_class_name(r->cls));
	snprintf(sl->reason, sizeof(sl->reason), "%.*s", (int)sizeof(sl->reason) - 1, r->reason);
	snprintf(sl->advice, sizeof(sl->advice), "%s", pipeline_class_advice(r->cls));
	sl->need_ack = !pass;
	if (pass)
		sl->pass++;
	else
		sl->fail++;
	pthread_mutex_unlock(&s->lock);
}

void screen_waiting(struct screen *s, size_t slot)
{
	if (slot >= s->n)
		return;
	pthread_mutex_lock(&s->lock);
	s->slot[slot].state = SLOT_WAITING;
	pthread_mutex_unlock(&s->lock);
}

void screen_disconnected(struct screen *s, size_t slot, bool gone)
{
	if (slot >= s->n)
		return;
	pthread_mutex_lock(&s->lock);
	s->slot[slot].state = gone ? SLOT_GONE : SLOT_WAITING;
	if (!gone)
		s->slot[slot].cls[0] = '\0';
	pthread_mutex_unlock(&s->lock);
}

bool screen_acknowledge(struct screen *s, size_t slot)
{
	bool acked;

	if (slot >= s->n)
		return true;
	pthread_mutex_lock(&s->lock);
	while (s->slot[slot].need_ack && !*s->stop && !s->quit) {
		struct timespec t;

		/* The stop flag comes from a signal handler: look at it now and then. */
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 200 * 1000000L;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cond, &s->lock, &t);
	}
	acked = !s->slot[slot].need_ack;
	pthread_mutex_unlock(&s->lock);
	return acked;
}

void screen_banner(struct screen *s, const char *msg)
{
	pthread_mutex_lock(&s->lock);
	snprintf(s->banner, sizeof(s->banner), "%s", msg != NULL ? msg : "");
	pthread_mutex_unlock(&s->lock);
}

void screen_session_expiry(struct screen *s, time_t expires_at)
{
	pthread_mutex_lock(&s->lock);
	s->expires_at = expires_at;
	pthread_mutex_unlock(&s->lock);
}

unsigned screen_in_flight(struct screen *s)
{
	unsigned n = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++)
		n += s->slot[i].state == SLOT_WORKING;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void screen_set_login(struct screen *s, screen_login_fn fn, void *ctx, const char *operator_name)
{
	pthread_mutex_lock(&s->lock);
	s->login_fn = fn;
	s->login_ctx = ctx;
	snprintf(s->login_op, sizeof(s->login_op), "%s",
		 operator_name != NULL ? operator_name : "");
	pthread_mutex_unlock(&s->lock);
}
