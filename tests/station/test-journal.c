/* The journal: replay after a restart, carried-forward fields, torn and corrupt lines. */
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal.h"
#include "testutil.h"

static char path[64];

static void setup(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/lpa-journal-XXXXXX");
	ck_assert_int_ge(fd = mkstemp(path), 0);
	close(fd);
}

static void teardown(void)
{
	char p[128];

	unlink(path);
	/* What archiving would have left beside it. */
	snprintf(p, sizeof(p), "%s.snap", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s.d/000001.jsonl", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s.d", path);
	rmdir(p);
}

static void step(journal *j, enum journal_step s, uint64_t uid, uint64_t eui, uint32_t ctr)
{
	struct journal_entry e = {.step = s, .chip_uid = uid, .dev_eui = eui, .counter = ctr};

	snprintf(e.probe, sizeof(e.probe), "SIM0000001");
	if (s == J_INSTALLED)
		snprintf(e.receipt, sizeof(e.receipt), "TFBSMQ-receipt");
	if (s == J_CONFIRMED)
		snprintf(e.record, sizeof(e.record), "eyJhbGciOiJFUzI1NiJ9.e30.sig");
	if (s == J_ABANDONED)
		snprintf(e.reason, sizeof(e.reason), "no target");
	ck_assert_int_eq(journal_log(j, &e), LPA_OK);
}

/* Histories the tests replay: chip 2 stopped mid-install, chip 3 abandoned, chip 4
 * confirmed but not recorded; chip 5's attempt 1 reached the chip (receipt lost), its
 * attempt 2 was journaled at `installing`, then abandoned. */
static const struct {
	enum journal_step s;
	uint64_t uid, eui;
	uint32_t ctr;
} history[] = {
	{J_BEGIN, 2, 0, 0},        {J_ISSUED, 2, 0xE2, 7}, {J_INSTALLING, 2, 0, 0},
	{J_BEGIN, 3, 0, 0},        {J_ABANDONED, 3, 0, 0}, {J_BEGIN, 4, 0, 0},
	{J_ISSUED, 4, 0xE4, 1},    {J_INSTALLED, 4, 0, 0}, {J_CONFIRMED, 4, 0, 0},
	{J_BEGIN, 5, 0, 0},        {J_ISSUED, 5, 0xE5, 1}, {J_INSTALLING, 5, 0xE5, 1},
	{J_BEGIN, 5, 0, 0},        {J_ISSUED, 5, 0xE5, 2}, {J_INSTALLING, 5, 0xE5, 2},
	{J_ABANDONED, 5, 0xE5, 2},
};

/* Logs the history of chips first..last, in its order. */
static void history_chips(journal *j, uint64_t first, uint64_t last)
{
	for (size_t i = 0; i < TU_N(history); i++)
		if (history[i].uid >= first && history[i].uid <= last)
			step(j, history[i].s, history[i].uid, history[i].eui, history[i].ctr);
}

/* What chips 2 to 4's history leaves unfinished, read back. */
static void assert_unfinished_2_and_4(journal *j)
{
	const struct journal_entry *u;

	ck_assert_uint_eq(journal_unfinished(j, &u), 2);
	ck_assert_uint_eq(u[0].chip_uid, 2);
	ck_assert_int_eq(u[0].step, J_INSTALLING);
	ck_assert_uint_eq(u[0].dev_eui, 0xE2); /* learned at J_ISSUED, still known */
	ck_assert_uint_eq(u[0].counter, 7);
	ck_assert_str_eq(u[0].probe, "SIM0000001");
	ck_assert_uint_eq(u[1].chip_uid, 4);
	ck_assert_int_eq(u[1].step, J_CONFIRMED);
	ck_assert_str_eq(u[1].record, "eyJhbGciOiJFUzI1NiJ9.e30.sig");
	ck_assert_str_eq(u[1].receipt, "TFBSMQ-receipt");
}

START_TEST(replay_finds_unfinished_devices)
{
	journal *j = NULL;
	size_t rec, ab, un;

	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	/* Device 1 done, device 2 stopped mid-install, device 3 abandoned, device 4
	 * confirmed but not recorded. */
	step(j, J_BEGIN, 1, 0, 0);
	step(j, J_ISSUED, 1, 0xE1, 5);
	step(j, J_INSTALLED, 1, 0, 0);
	step(j, J_CONFIRMED, 1, 0, 0);
	step(j, J_RECORDED, 1, 0, 0);
	history_chips(j, 2, 4);
	journal_close(&j);

	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	assert_unfinished_2_and_4(j);
	journal_totals(j, &rec, &ab, &un);
	ck_assert_uint_eq(rec, 1);
	ck_assert_uint_eq(ab, 1);
	ck_assert_uint_eq(un, 2);
	ck_assert_str_eq(journal_last(j, 3)->reason, "no target");
	journal_close(&j);
}
END_TEST

START_TEST(torn_line_cut_and_appending_continues)
{
	journal *j = NULL;
	const struct journal_entry *u;
	FILE *f;

	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	step(j, J_BEGIN, 9, 0, 0);
	journal_close(&j);
	ck_assert_ptr_nonnull(f = fopen(path, "a"));
	fputs("{\"t\":1,\"step\":\"issu", f);
	fclose(f);
	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	ck_assert_uint_eq(journal_unfinished(j, &u), 1);
	ck_assert_int_eq(u[0].step, J_BEGIN);
	step(j, J_ABANDONED, 9, 0, 0);
	journal_close(&j);
	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	ck_assert_uint_eq(journal_unfinished(j, &u), 0);
	journal_close(&j);
}
END_TEST

START_TEST(corrupt_line_refused)
{
	journal *j = NULL;
	const char *bad[] = {
		"{\"t\":1,\"step\":\"teleported\",\"uid\":\"0000000000000001\"}\n",
		"{\"t\":1,\"step\":\"begin\",\"uid\":\"xyz\"}\n",
		"{\"t\":1,\"step\":\"begin\"}\n",
	};

	for (size_t i = 0; i < TU_N(bad); i++) {
		tu_spill(path, bad[i], strlen(bad[i]));
		ck_assert_int_eq(journal_open(path, &j), LPA_ERR_ENCODING);
		ck_assert_ptr_null(j);
	}
}
END_TEST

START_TEST(new_attempt_after_abandon)
{
	journal *j = NULL;
	const struct journal_entry *u;

	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	step(j, J_BEGIN, 5, 0, 0);
	step(j, J_ABANDONED, 5, 0, 0);
	step(j, J_BEGIN, 5, 0, 0);
	ck_assert_uint_eq(journal_unfinished(j, &u), 1);
	ck_assert_int_eq(u[0].step, J_BEGIN);
	ck_assert_str_eq(u[0].reason, "");
	journal_close(&j);
}
END_TEST

/* Issue 14: an attempt abandoned before its issue returned (no DevEUI, no counter of its
 * own) inherited the previous attempt's counter and DevEUI — in memory and on replay. */
START_TEST(abandoned_attempt_inherits_nothing)
{
	journal *j = NULL;

	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	step(j, J_BEGIN, 8, 0, 0);
	step(j, J_ISSUED, 8, 0xE8, 4);
	step(j, J_INSTALLING, 8, 0, 0);
	step(j, J_ABANDONED, 8, 0xE8, 4);
	step(j, J_BEGIN, 8, 0, 0);
	step(j, J_ISSUING, 8, 0, 0);
	step(j, J_ABANDONED, 8, 0, 0); /* the issue failed */
	ck_assert_int_eq(journal_last(j, 8)->step, J_ABANDONED);
	ck_assert_uint_eq(journal_last(j, 8)->counter, 0);
	ck_assert_uint_eq(journal_last(j, 8)->dev_eui, 0);
	journal_close(&j);
	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	ck_assert_uint_eq(journal_last(j, 8)->counter, 0);
	ck_assert_uint_eq(journal_last(j, 8)->dev_eui, 0);
	/* Within one attempt the fields still carry forward. */
	ck_assert(journal_unrecorded_attempt(j, 8, 0xE8, 4));
	step(j, J_BEGIN, 8, 0, 0);
	step(j, J_ISSUED, 8, 0xE8, 5);
	step(j, J_INSTALLING, 8, 0, 0);
	ck_assert_uint_eq(journal_last(j, 8)->counter, 5);
	ck_assert_uint_eq(journal_last(j, 8)->dev_eui, 0xE8);
	journal_close(&j);
}
END_TEST

/*
 * The crash of issue 9: attempt 1 reached the chip (receipt lost), attempt 2 was
 * journaled at `installing` but never reached it, then abandoned. The chip's keys are
 * still known as ours, and stay known after a restart; a recorded attempt is not.
 */
START_TEST(every_unrecorded_attempt_is_remembered)
{
	journal *j = NULL;

	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	history_chips(j, 5, 5);
	/* Issued but never installing: the chip cannot hold attempt 3. */
	step(j, J_BEGIN, 6, 0, 0);
	step(j, J_ISSUED, 6, 0xE6, 3);
	step(j, J_ABANDONED, 6, 0xE6, 3);
	journal_close(&j);

	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	ck_assert(journal_unrecorded_attempt(j, 5, 0xE5, 1));
	ck_assert(journal_unrecorded_attempt(j, 5, 0xE5, 2));
	ck_assert(!journal_unrecorded_attempt(j, 5, 0xE5, 3));
	ck_assert(!journal_unrecorded_attempt(j, 5, 0xE6, 1)); /* another DevEUI */
	ck_assert(!journal_unrecorded_attempt(j, 6, 0xE6, 3));
	ck_assert(!journal_unrecorded_attempt(j, 7, 0xE5, 1)); /* unknown chip */
	ck_assert(!journal_unrecorded_attempt(j, 5, 0xE5, 0));
	ck_assert_uint_eq(journal_last(j, 5)->counter, 2);

	step(j, J_BEGIN, 5, 0, 0);
	step(j, J_ISSUED, 5, 0xE5, 3);
	step(j, J_INSTALLING, 5, 0xE5, 3);
	step(j, J_INSTALLED, 5, 0xE5, 3);
	step(j, J_CONFIRMED, 5, 0xE5, 3);
	step(j, J_RECORDED, 5, 0xE5, 3);
	journal_close(&j);
	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	ck_assert(!journal_unrecorded_attempt(j, 5, 0xE5, 3)); /* recorded: provisioned */
	ck_assert(journal_unrecorded_attempt(j, 5, 0xE5, 1));
	journal_close(&j);
}
END_TEST

/* ------------------------------------------------- archive and snapshot */
/* A state directory of its own: the journal, its archive and its snapshot. */
static char dir[64], jpath[128];

static void snap_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/lpa-journal-snap-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(jpath, sizeof(jpath), "%s/journal.jsonl", dir);
}

static void snap_dir_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Appends head, 1.1 MiB of fill and tail to the journal: one line long enough to close
 * the live segment. */
static void append_long_line(const char *head, char fill, const char *tail)
{
	FILE *f;

	ck_assert_ptr_nonnull(f = fopen(jpath, "a"));
	fputs(head, f);
	for (int i = 0; i < 1100 * 1024; i++)
		fputc(fill, f);
	fputs(tail, f);
	fclose(f);
}

/* Chips in every state, then a line long enough to close the live segment. */
static void snap_history(void)
{
	journal *j = NULL;

	ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
	step(j, J_BEGIN, 1, 0, 0);
	step(j, J_ISSUED, 1, 0xE1, 5);
	step(j, J_INSTALLING, 1, 0, 0);
	step(j, J_INSTALLED, 1, 0, 0);
	step(j, J_CONFIRMED, 1, 0, 0);
	step(j, J_RECORDED, 1, 0, 0);
	history_chips(j, 2, 4);
	history_chips(j, 5, 5);
	journal_close(&j);
	/* Members the journal does not know are ignored: 1.1 MiB in one line. */
	append_long_line("{\"t\":1,\"step\":\"begin\",\"uid\":\"0000000000000006\",\"pad\":\"", 'x',
			 "\"}\n{\"t\":2,\"step\":\"abandoned\",\"uid\":\"0000000000000006\"}\n");
}

/* A state directory with snap_history's journal opened and closed once: its snapshot's
 * path into snap and its bytes (n of them), returned. */
static char *snap_made(char snap[160], size_t *n)
{
	journal *j = NULL;

	snap_dir();
	snap_history();
	ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
	journal_close(&j);
	snprintf(snap, 160, "%s/journal.snap", dir);
	return tu_slurp(snap, n);
}

/* What snap_history wrote, whatever files it is read from. */
static void snap_assert_state(journal *j)
{
	const struct journal_entry *e;
	size_t rec, ab, un;

	journal_totals(j, &rec, &ab, &un);
	ck_assert_uint_eq(rec, 1);
	ck_assert_uint_eq(ab, 3);
	ck_assert_uint_eq(un, 2);
	assert_unfinished_2_and_4(j);
	ck_assert_ptr_nonnull(e = journal_last(j, 1));
	ck_assert_int_eq(e->step, J_RECORDED);
	ck_assert_uint_eq(e->dev_eui, 0xE1);
	ck_assert_uint_eq(e->counter, 5);
	ck_assert_str_eq(e->probe, "SIM0000001");
	ck_assert_str_eq(journal_last(j, 3)->reason, "no target");
	ck_assert_int_eq(journal_last(j, 6)->step, J_ABANDONED);
	ck_assert_ptr_null(journal_last(j, 7));
	ck_assert(!journal_unrecorded_attempt(j, 1, 0xE1, 5));
	ck_assert(journal_unrecorded_attempt(j, 2, 0xE2, 7));
	ck_assert(journal_unrecorded_attempt(j, 5, 0xE5, 1));
	ck_assert(journal_unrecorded_attempt(j, 5, 0xE5, 2));
	ck_assert(!journal_unrecorded_attempt(j, 5, 0xE5, 3));
}

/* A live segment past its size is archived (byte for byte, never deleted) and the state
 * is read back from the snapshot alone. */
START_TEST(grown_segment_archived_and_snapshot_read)
{
	char arch[160], snap[160], *before, *after;
	size_t n_before, n_after;
	journal *j = NULL;
	struct stat st;

	snap_dir();
	snap_history();
	before = tu_slurp(jpath, &n_before);
	ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
	snap_assert_state(j);
	journal_close(&j);
	snprintf(arch, sizeof(arch), "%s/journal.d/000001.jsonl", dir);
	snprintf(snap, sizeof(snap), "%s/journal.snap", dir);
	after = tu_slurp(arch, &n_after);
	ck_assert_uint_eq(n_after, n_before);
	ck_assert(memcmp(before, after, n_before) == 0);
	ck_assert_int_eq(stat(jpath, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(stat(snap, &st), 0);
	ck_assert_int_lt(st.st_size, 1024); /* the 1.1 MiB line is not in it */
	/* The archive is not read when the snapshot covers it. */
	ck_assert_int_eq(chmod(arch, 0), 0);
	ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
	snap_assert_state(j);
	/* Appending goes on in the new live segment, and survives a restart. */
	step(j, J_INSTALLED, 2, 0, 0);
	journal_close(&j);
	ck_assert_int_eq(chmod(arch, 0600), 0);
	ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
	ck_assert_int_eq(journal_last(j, 2)->step, J_INSTALLED);
	ck_assert_uint_eq(journal_last(j, 2)->counter, 7);
	journal_close(&j);
	free(before);
	free(after);
	snap_dir_remove();
}
END_TEST

/* The snapshot cut at every byte, or one byte changed: the station starts, from the
 * archive, and loses nothing. */
START_TEST(torn_snapshot_loses_nothing)
{
	char snap[160], *good;
	size_t n;
	journal *j = NULL;

	good = snap_made(snap, &n);
	/* The same history without its 1.1 MiB line, for a quick replay at every cut. */
	{
		char arch[160], *all, *pad;
		size_t n_all;
		static const char six[] =
			"{\"t\":1,\"step\":\"begin\",\"uid\":\"0000000000000006\"}\n"
			"{\"t\":2,\"step\":\"abandoned\",\"uid\":"
			"\"0000000000000006\"}\n";

		snprintf(arch, sizeof(arch), "%s/journal.d/000001.jsonl", dir);
		all = tu_slurp(arch, &n_all);
		ck_assert_ptr_nonnull(
			pad = strstr(all,
				     "{\"t\":1,\"step\":\"begin\",\"uid\":\"0000000000000006\""));
		memcpy(pad, six, sizeof(six));
		tu_spill(arch, all, strlen(all));
		free(all);
	}
	for (size_t cut = 0; cut <= n + 1; cut++) {
		char *bad = malloc(n + 1);

		ck_assert_ptr_nonnull(bad);
		memcpy(bad, good, n);
		if (cut < n) {
			tu_spill(snap, bad, cut); /* torn */
		} else {
			bad[n == 0 ? 0 : (cut - n) * (n / 2)] ^= 0x40; /* flipped */
			tu_spill(snap, bad, n);
		}
		ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
		snap_assert_state(j);
		journal_close(&j);
		free(bad);
	}
	/* The open that found it torn wrote a good one again. */
	{
		size_t n2;
		char *again = tu_slurp(snap, &n2);

		ck_assert_uint_eq(n2, n);
		free(again);
	}
	free(good);
	snap_dir_remove();
}
END_TEST

/* A crash between archiving a segment and writing the snapshot that covers it: the
 * older snapshot is read, then the segment it does not cover. */
START_TEST(segment_archived_before_its_snapshot)
{
	char snap[160], *old;
	size_t n;
	journal *j = NULL;

	old = snap_made(snap, &n);
	/* A second segment: chip 2 recorded, chip 7 begun, then a long line. */
	ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
	step(j, J_RECORDED, 2, 0, 0);
	step(j, J_BEGIN, 7, 0, 0);
	journal_close(&j);
	append_long_line("{\"t\":1,\"step\":\"begin\",\"uid\":\"0000000000000008\",\"pad\":\"", 'y',
			 "\"}\n");
	ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
	journal_close(&j);
	tu_spill(snap, old, n); /* as if the crash came before the rename of the new one */
	ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
	ck_assert_int_eq(journal_last(j, 2)->step, J_RECORDED);
	ck_assert_uint_eq(journal_last(j, 2)->counter, 7);
	ck_assert_int_eq(journal_last(j, 7)->step, J_BEGIN);
	ck_assert_int_eq(journal_last(j, 8)->step, J_BEGIN);
	ck_assert(journal_unrecorded_attempt(j, 5, 0xE5, 1));
	ck_assert(!journal_unrecorded_attempt(j, 2, 0xE2, 7));
	journal_close(&j);
	free(old);
	snap_dir_remove();
}
END_TEST

/* Archiving on the hot path writes a delta of what changed, not the whole state. Set-up:
 * snap_history's journal closed (one snapshot covering segment 1), then a station that
 * archives segment 2 and dies without closing: segment 2 is chip 2 recorded (a 1.1 MiB
 * line), the live segment chip 9 begun. */
static char *delta_setup(size_t *snap_len)
{
	char snap[160], *base;
	journal *j = NULL;
	pid_t pid;
	int st = -1;

	base = snap_made(snap, snap_len);
	append_long_line("{\"t\":3,\"step\":\"recorded\",\"uid\":\"0000000000000002\",\"pad\":\"",
			 'z', "\"}\n");
	if ((pid = fork()) == 0) {
		if (journal_open(jpath, &j) != LPA_OK)
			_exit(1);
		step(j, J_BEGIN, 9, 0, 0);
		_exit(0); /* no journal_close: a crash */
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return base;
}

static void delta_assert_state(journal *j)
{
	size_t rec, ab, un;

	journal_totals(j, &rec, &ab, &un);
	ck_assert_uint_eq(rec, 2);
	ck_assert_uint_eq(ab, 3);
	ck_assert_uint_eq(un, 2); /* chips 4 and 9 */
	ck_assert_int_eq(journal_last(j, 2)->step, J_RECORDED);
	ck_assert_uint_eq(journal_last(j, 2)->dev_eui, 0xE2);
	ck_assert_uint_eq(journal_last(j, 2)->counter, 7);
	ck_assert(!journal_unrecorded_attempt(j, 2, 0xE2, 7));
	ck_assert(journal_unrecorded_attempt(j, 5, 0xE5, 1));
	ck_assert_int_eq(journal_last(j, 9)->step, J_BEGIN);
	ck_assert_str_eq(journal_last(j, 4)->record, "eyJhbGciOiJFUzI1NiJ9.e30.sig");
	ck_assert_str_eq(journal_last(j, 3)->reason, "no target");
}

START_TEST(archiving_writes_a_delta_merged_at_close)
{
	char snap[160], delta[160], arch[160], *base, *now;
	size_t n_base, n_now;
	journal *j = NULL;
	struct stat st;

	base = delta_setup(&n_base);
	snprintf(snap, sizeof(snap), "%s/journal.snap", dir);
	snprintf(delta, sizeof(delta), "%s/journal.snap.d/000002", dir);
	/* The snapshot was not rewritten; the delta holds one chip. */
	now = tu_slurp(snap, &n_now);
	ck_assert_uint_eq(n_now, n_base);
	ck_assert(memcmp(now, base, n_base) == 0);
	free(now);
	ck_assert_int_eq(stat(delta, &st), 0);
	ck_assert_int_lt(st.st_size, 200);
	snprintf(arch, sizeof(arch), "%s/journal.d/000002.jsonl", dir);
	ck_assert_int_eq(stat(arch, &st), 0);
	/* Start-up: the snapshot, its delta, the live segment; segment 2 is not read. */
	ck_assert_int_eq(chmod(arch, 0), 0);
	ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
	delta_assert_state(j);
	ck_assert_int_eq(chmod(arch, 0600), 0);
	/* Closing merges: the live segment archived, one snapshot, the delta gone. */
	journal_close(&j);
	ck_assert_int_ne(stat(delta, &st), 0);
	snprintf(arch, sizeof(arch), "%s/journal.d/000003.jsonl", dir);
	ck_assert_int_eq(stat(arch, &st), 0);
	ck_assert_int_gt(st.st_size, 0);
	ck_assert_int_eq(stat(jpath, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(chmod(arch, 0), 0); /* covered by the snapshot now */
	ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
	delta_assert_state(j);
	journal_close(&j);
	ck_assert_int_eq(chmod(arch, 0600), 0);
	free(base);
	snap_dir_remove();
}
END_TEST

/* A delta cut short (or changed) is only a cache: the archive is replayed, nothing lost. */
START_TEST(torn_delta_loses_nothing)
{
	char delta[160], *good, *bad;
	size_t n_base, n;
	journal *j = NULL;

	free(delta_setup(&n_base));
	snprintf(delta, sizeof(delta), "%s/journal.snap.d/000002", dir);
	good = tu_slurp(delta, &n);
	ck_assert_ptr_nonnull(bad = malloc(n));
	memcpy(bad, good, n);
	bad[n / 2] ^= 0x10;
	tu_spill(delta, bad, n);
	ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
	delta_assert_state(j);
	journal_close(&j);
	free(bad);
	free(good);
	snap_dir_remove();
	free(delta_setup(&n_base)); /* a directory of its own again */
	snprintf(delta, sizeof(delta), "%s/journal.snap.d/000002", dir);
	good = tu_slurp(delta, &n);
	tu_spill(delta, good, n - 1);
	ck_assert_int_eq(journal_open(jpath, &j), LPA_OK);
	delta_assert_state(j);
	journal_close(&j);
	free(good);
	snap_dir_remove();
}
END_TEST

/* Many chips: each found by its UID (the index), finished ones summarised. */
START_TEST(many_chips_found_by_uid)
{
	journal *j = NULL;
	FILE *f = fopen(path, "w");
	size_t rec, ab, un;

	ck_assert_ptr_nonnull(f);
	for (unsigned i = 1; i <= 5000; i++) {
		fprintf(f, "{\"t\":1,\"step\":\"begin\",\"uid\":\"%016x\"}\n", i * 7919u);
		fprintf(f,
			"{\"t\":1,\"step\":\"installing\",\"uid\":\"%016x\",\"dev_eui\":\"%016x\","
			"\"counter\":%u,\"lot\":\"lot-%u\"}\n",
			i * 7919u, i, i, i % 3);
		if (i % 10 != 0)
			fprintf(f, "{\"t\":1,\"step\":\"recorded\",\"uid\":\"%016x\"}\n",
				i * 7919u);
	}
	fclose(f);
	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	journal_totals(j, &rec, &ab, &un);
	ck_assert_uint_eq(rec, 4500);
	ck_assert_uint_eq(un, 500);
	for (unsigned i = 1; i <= 5000; i++) {
		const struct journal_entry *e = journal_last(j, i * 7919u);
		char lot[16];

		ck_assert_ptr_nonnull(e);
		ck_assert_int_eq(e->step, i % 10 ? J_RECORDED : J_INSTALLING);
		ck_assert_uint_eq(e->dev_eui, i);
		ck_assert_uint_eq(e->counter, i);
		snprintf(lot, sizeof(lot), "lot-%u", i % 3);
		ck_assert_str_eq(e->lot, lot);
		ck_assert(journal_unrecorded_attempt(j, i * 7919u, i, i) == (i % 10 == 0));
	}
	ck_assert_ptr_null(journal_last(j, 7918));
	journal_close(&j);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(replay_finds_unfinished_devices),
		TU_CASE(torn_line_cut_and_appending_continues),
		TU_CASE(corrupt_line_refused),
		TU_CASE(new_attempt_after_abandon),
		TU_CASE(every_unrecorded_attempt_is_remembered),
		TU_CASE(abandoned_attempt_inherits_nothing),
		TU_CASE(grown_segment_archived_and_snapshot_read),
		TU_CASE_SLOW(torn_snapshot_loses_nothing, 60), /* ~870 fsyncs: 3-4 s idle */
		TU_CASE(segment_archived_before_its_snapshot),
		TU_CASE(archiving_writes_a_delta_merged_at_close),
		TU_CASE(torn_delta_loses_nothing),
		TU_CASE(many_chips_found_by_uid),
	};

	return tu_main_fixture("journal", cases, TU_N(cases), setup, teardown);
}
