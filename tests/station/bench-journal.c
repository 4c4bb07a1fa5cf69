/*
 * bench-journal — the station's journal and manifest against a long history
 * (docs/benchmarks.md). For each N given: writes a synthetic history of N devices (each
 * device's full step sequence as pipeline.c journals it, and its record in the lot
 * manifest, hash-chained as manifest.c writes it), then measures in a fresh process:
 *   start-up    journal_open + manifest_open
 *   record      one more device: manifest_contains + manifest_append_record +
 *               journal_log(recorded), the record step under the shared lock (two
 *               fsyncs: mostly the disk's)
 *   look-ups    journal_last of a chip of the history + manifest_contains: the part
 *               the history could make slow
 *   device      the whole journal sequence of that device (8 fsync'd entries) and the
 *               journal_last / journal_unrecorded_attempt look-ups the pipeline makes
 *   RSS         VmHWM of the measuring process (before the archiving below)
 *   archiving   devices on until the live segment passes its size: the journal_log
 *               that archives it and writes its delta (-1: the journal never did)
 *   close       journal_close at the end of the batch: the deltas merged into one
 *               snapshot (the live segment archived first)
 * The history is generated without fsync (the files are the same bytes). A first
 * process opens it once (timed as "first open": the page cache, and the one-off
 * archiving of a journal grown past a segment), a second one measures.
 *
 * Usage: bench-journal [N...]   (default 1000 10000 100000)
 *        bench-journal --generate|--prepare|--measure DIR N   (one step)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "manifest.h"

#define BENCH_EXTRA 20 /* devices measured after the history */

static long bench_hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kb;
}

/* A record-sized JWS unique to the device (the shape of a real one: ~500 characters). */
static void bench_record(uint64_t uid, char *out, size_t cap)
{
	int n = snprintf(out, cap, "eyJhbGciOiJFUzI1NiIsImtpZCI6InJlY29yZC0xIn0.%016llx",
			 (unsigned long long)uid);

	for (; n < 400 && (size_t)n + 1 < cap; n++)
		out[n] = (char)('A' + (n * 7 + (int)uid) % 26);
	out[n] = '\0';
	snprintf(out + n, cap - (size_t)n, ".%086d", 0);
}

static void bench_receipt(uint64_t uid, char *out, size_t cap)
{
	int n = snprintf(out, cap, "TFBSMQ%016llx", (unsigned long long)uid);

	for (; n < 160 && (size_t)n + 1 < cap; n++)
		out[n] = (char)('a' + (n + (int)uid) % 26);
	out[n] = '\0';
}

static const char *const bench_steps[] = {"begin",     "issuing",    "issued",    "installing",
					  "installed", "confirming", "confirmed", "recorded"};

/* The journal lines pipeline.c writes for one device, as journal_log formats them. */
static void bench_journal_device(FILE *f, uint64_t uid, uint64_t eui, uint32_t ctr)
{
	char rec[JOURNAL_RECORD_MAX], rcpt[JOURNAL_RECEIPT_B64];

	bench_record(uid, rec, sizeof(rec));
	bench_receipt(uid, rcpt, sizeof(rcpt));
	for (int s = J_BEGIN; s <= J_RECORDED; s++) {
		fprintf(f, "{\"t\":%lld,\"step\":\"%s\",\"uid\":\"%016llx\"", 1700000000LL + s,
			bench_steps[s], (unsigned long long)uid);
		if (s >= J_ISSUED)
			fprintf(f, ",\"dev_eui\":\"%016llx\",\"counter\":%u",
				(unsigned long long)eui, ctr);
		fprintf(f, ",\"probe\":\"SIM000000%d\",\"lot\":\"bench\"", (int)(uid % 4));
		if (s == J_INSTALLED)
			fprintf(f, ",\"receipt\":\"%s\"", rcpt);
		if (s == J_CONFIRMED)
			fprintf(f, ",\"record\":\"%s\"", rec);
		fputs("}\n", f);
	}
}

static int bench_generate(const char *dir, size_t n)
{
	char path[512], line[8192], rec[JOURNAL_RECORD_MAX];
	char prev[MANIFEST_HASH_HEX] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	FILE *j, *m;

	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	if ((j = fopen(path, "w")) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/bench.jsonl", dir);
	if ((m = fopen(path, "w")) == NULL) {
		fclose(j);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t uid = 0x1000000000ULL + i;
		int len;

		bench_journal_device(j, uid, 0x70B3D57ED0000000ULL + i, (uint32_t)i + 1);
		bench_record(uid, rec, sizeof(rec));
		len = snprintf(line, sizeof(line),
			       "{\"seq\":%zu,\"record\":\"%s\",\"prev\":\"%s\"}", i + 1, rec, prev);
		manifest_line_hash(line, (size_t)len, prev);
		fprintf(m, "%s\n", line);
	}
	/* On disk before measuring: otherwise the first fsync of the measured record step
	 * writes the whole generated file. */
	if (fflush(j) != 0 || fsync(fileno(j)) != 0 || fflush(m) != 0 || fsync(fileno(m)) != 0) {
		fclose(j);
		fclose(m);
		return -1;
	}
	fclose(j);
	return fclose(m) == 0 ? 0 : -1;
}

static int bench_open(const char *dir, journal **j, manifest **m, double *t_journal);

/* The first start on the history (page cache, and whatever one-off work the first
 * open of a grown journal does): timed apart, in its own process. */
static int bench_prepare(const char *dir, double *secs)
{
	journal *j = NULL;
	manifest *m = NULL;
	double t0 = lpa_mono_s();
	double tj;
	int r = bench_open(dir, &j, &m, &tj);

	journal_close(&j);
	manifest_close(&m);
	*secs = lpa_mono_s() - t0;
	sync(); /* what the first open wrote (an archived segment, a snapshot) */
	if (r != LPA_OK)
		fprintf(stderr, "bench-journal: open: %s\n", lpa_strerror(r));
	return r == LPA_OK ? 0 : 1;
}

static int bench_open(const char *dir, journal **j, manifest **m, double *t_journal)
{
	char path[512];
	double t0 = lpa_mono_s();
	int r;

	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	r = journal_open(path, j);
	*t_journal = lpa_mono_s() - t0;
	if (r != LPA_OK)
		return r;
	snprintf(path, sizeof(path), "%s/bench.jsonl", dir);
	return manifest_open(path, m);
}

static int bench_log(journal *j, enum journal_step s, uint64_t uid, uint64_t eui, uint32_t ctr)
{
	static struct journal_entry e;

	memset(&e, 0, sizeof(e));
	e.step = s;
	e.chip_uid = uid;
	e.dev_eui = eui;
	e.counter = ctr;
	snprintf(e.probe, sizeof(e.probe), "SIM0000000");
	snprintf(e.lot, sizeof(e.lot), "bench");
	if (s == J_INSTALLED)
		bench_receipt(uid, e.receipt, sizeof(e.receipt));
	if (s == J_CONFIRMED)
		bench_record(uid, e.record, sizeof(e.record));
	return journal_log(j, &e);
}

/* The measuring process: prints one result line. */
static int bench_measure(const char *dir, size_t n)
{
	journal *j = NULL;
	manifest *m = NULL;
	double t0, startup, t_journal, rec_sum = 0, rec_max = 0, dev_sum = 0, look_sum = 0;
	double arch_ms = -1, close_ms;
	off_t live_size = 0;
	long hwm;
	char live[512];
	char record[JOURNAL_RECORD_MAX];
	int r;

	t0 = lpa_mono_s();
	if ((r = bench_open(dir, &j, &m, &t_journal)) != LPA_OK) {
		fprintf(stderr, "bench-journal: open: %s\n", lpa_strerror(r));
		return 1;
	}
	startup = lpa_mono_s() - t0;
	snprintf(live, sizeof(live), "%s/journal.jsonl", dir);
	for (size_t i = 0; i < BENCH_EXTRA; i++) {
		uint64_t uid = 0x2000000000ULL + i, eui = 0x70B3D57EE0000000ULL + i;
		uint32_t ctr = (uint32_t)(n + i + 1);
		bool there = true;
		double t1, t2;

		double t3 = lpa_mono_s();

		r = journal_last(j, uid) == NULL ? LPA_OK : LPA_ERR_STATE;
		for (int s = J_BEGIN; r == LPA_OK && s < J_RECORDED; s++)
			r = bench_log(j, (enum journal_step)s, uid, s >= J_ISSUED ? eui : 0,
				      s >= J_ISSUED ? ctr : 0);
		if (r == LPA_OK && journal_unrecorded_attempt(j, uid, eui, ctr) != true)
			r = LPA_ERR_STATE;
		bench_record(uid, record, sizeof(record));
		t2 = lpa_mono_s();
		t1 = lpa_mono_s();
		if (r == LPA_OK && journal_last(j, 0x1000000000ULL + i) == NULL && n > i)
			r = LPA_ERR_STATE;
		if (r == LPA_OK)
			r = manifest_contains(m, record, &there);
		look_sum += lpa_mono_s() - t1;
		if (r == LPA_OK && there)
			r = LPA_ERR_STATE;
		if (r == LPA_OK)
			r = manifest_append_record(m, record);
		if (r == LPA_OK)
			r = bench_log(j, J_RECORDED, uid, eui, ctr);
		if (r != LPA_OK) {
			fprintf(stderr, "bench-journal: device %zu: %s\n", i, lpa_strerror(r));
			return 1;
		}
		rec_sum += lpa_mono_s() - t2;
		rec_max = lpa_mono_s() - t2 > rec_max ? lpa_mono_s() - t2 : rec_max;
		dev_sum += lpa_mono_s() - t3;
	}
	/* A chip from the history is found as recorded. */
	{
		const struct journal_entry *e = journal_last(j, 0x1000000000ULL + n - 1);

		if (n > 0 && (e == NULL || e->step != J_RECORDED || e->counter != n)) {
			fprintf(stderr, "bench-journal: history chip not found as recorded\n");
			return 1;
		}
	}
	hwm = bench_hwm_kb();
	/* Devices on until the live segment is archived: the one journal_log that archives
	 * it and writes the snapshot (once per ~500 devices) is the step's worst case. */
	for (size_t i = 0; i < 5000 && arch_ms < 0; i++) {
		uint64_t uid = 0x3000000000ULL + i;

		for (int s = J_BEGIN; s <= J_RECORDED; s++) {
			struct stat st;
			double t1 = lpa_mono_s();

			if (bench_log(j, (enum journal_step)s, uid, 0x70B3D57EF0000000ULL + i,
				      (uint32_t)(i + 1)) != LPA_OK) {
				fprintf(stderr, "bench-journal: journal_log failed\n");
				return 1;
			}
			t1 = lpa_mono_s() - t1;
			if (stat(live, &st) == 0 && st.st_size < live_size)
				arch_ms = t1 * 1e3;
			live_size = st.st_size;
		}
	}
	/* The end of the batch: the deltas merged into one snapshot, off the hot path. */
	close_ms = lpa_mono_s();
	journal_close(&j);
	close_ms = (lpa_mono_s() - close_ms) * 1e3;
	printf(" %.1f (%.1f + %.1f) | %.1f | %.2f | %.2f | %.4f | %.2f | %.1f | %.0f |\n",
	       startup * 1e3, t_journal * 1e3, (startup - t_journal) * 1e3, (double)hwm / 1024.0,
	       rec_sum / BENCH_EXTRA * 1e3, rec_max * 1e3, look_sum / BENCH_EXTRA * 1e3,
	       dev_sum / BENCH_EXTRA * 1e3, arch_ms, close_ms);
	fflush(stdout);
	manifest_close(&m);
	return 0;
}

/* The history directory is the benchmark's own (mkdtemp). */
static void bench_rmdir(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench-journal: cannot remove %s\n", dir);
}

int main(int argc, char **argv)
{
	static const char *const defaults[] = {"1000", "10000", "100000"};
	const char *const *ns = argc > 1 ? (const char *const *)argv + 1 : defaults;
	int count = argc > 1 ? argc - 1 : 3, bad = 0;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	/* The steps apart, to look at one state with other tools. */
	if (argc == 4 && strcmp(argv[1], "--generate") == 0)
		return bench_generate(argv[2], strtoul(argv[3], NULL, 10)) == 0 ? 0 : 1;
	if (argc == 4 && strcmp(argv[1], "--measure") == 0)
		return bench_measure(argv[2], strtoul(argv[3], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "--prepare") == 0) {
		double secs = 0;
		int r = bench_prepare(argv[2], &secs);

		printf("| %s | %.0f |", argv[3], secs * 1e3);
		fflush(stdout);
		return r;
	}
	printf("| devices of history | first open ms | start-up ms (journal + manifest) | RSS MB "
	       "| record step ms (mean) | record step ms (max) | look-ups ms | device ms (8 "
	       "journal entries + record) | archiving ms | close ms "
	       "|\n|---|---|---|---|---|---|---|---|---|---|\n");
	fflush(stdout);
	for (int i = 0; i < count; i++) {
		char dir[512];
		size_t n = strtoul(ns[i], NULL, 10);
		pid_t pid;
		int st = 0;

		snprintf(dir, sizeof(dir), "%s/lpa-bench-journal-XXXXXX", tmp);
		if (mkdtemp(dir) == NULL || bench_generate(dir, n) != 0) {
			fprintf(stderr, "bench-journal: cannot write %s: %s\n", dir,
				strerror(errno));
			return 1;
		}
		/* Fresh processes: the RSS is the station's, not the generator's. */
		for (int k = 0; k < 2 && !bad; k++) {
			if ((pid = fork()) == 0) {
				if (k == 0)
					execl("/proc/self/exe", argv[0], "--prepare", dir, ns[i],
					      (char *)NULL);
				else
					execl("/proc/self/exe", argv[0], "--measure", dir, ns[i],
					      (char *)NULL);
				_exit(127);
			}
			if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
			    WEXITSTATUS(st) != 0)
				bad = 1;
		}
		bench_rmdir(dir);
	}
	return bad;
}
