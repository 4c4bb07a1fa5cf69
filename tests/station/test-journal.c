/* The journal: replay after a restart, carried-forward fields, torn and corrupt lines. */
#include <stdio.h>
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
	unlink(path);
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

START_TEST(replay_finds_unfinished_devices)
{
	journal *j = NULL;
	const struct journal_entry *u;
	size_t rec, ab, un;

	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
	/* Device 1 done, device 2 stopped mid-install, device 3 abandoned, device 4
	 * confirmed but not recorded. */
	step(j, J_BEGIN, 1, 0, 0);
	step(j, J_ISSUED, 1, 0xE1, 5);
	step(j, J_INSTALLED, 1, 0, 0);
	step(j, J_CONFIRMED, 1, 0, 0);
	step(j, J_RECORDED, 1, 0, 0);
	step(j, J_BEGIN, 2, 0, 0);
	step(j, J_ISSUED, 2, 0xE2, 7);
	step(j, J_INSTALLING, 2, 0, 0);
	step(j, J_BEGIN, 3, 0, 0);
	step(j, J_ABANDONED, 3, 0, 0);
	step(j, J_BEGIN, 4, 0, 0);
	step(j, J_ISSUED, 4, 0xE4, 1);
	step(j, J_INSTALLED, 4, 0, 0);
	step(j, J_CONFIRMED, 4, 0, 0);
	journal_close(&j);

	ck_assert_int_eq(journal_open(path, &j), LPA_OK);
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
	FILE *f = fopen(path, "w");

	fputs("{\"t\":1,\"step\":\"teleported\",\"uid\":\"0000000000000001\"}\n", f);
	fclose(f);
	ck_assert_int_eq(journal_open(path, &j), LPA_ERR_ENCODING);
	ck_assert_ptr_null(j);
	f = fopen(path, "w");
	fputs("{\"t\":1,\"step\":\"begin\",\"uid\":\"xyz\"}\n", f);
	fclose(f);
	ck_assert_int_eq(journal_open(path, &j), LPA_ERR_ENCODING);
	f = fopen(path, "w");
	fputs("{\"t\":1,\"step\":\"begin\"}\n", f);
	fclose(f);
	ck_assert_int_eq(journal_open(path, &j), LPA_ERR_ENCODING);
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
	step(j, J_BEGIN, 5, 0, 0);
	step(j, J_ISSUED, 5, 0xE5, 1);
	step(j, J_INSTALLING, 5, 0xE5, 1);
	step(j, J_BEGIN, 5, 0, 0);
	step(j, J_ISSUED, 5, 0xE5, 2);
	step(j, J_INSTALLING, 5, 0xE5, 2);
	step(j, J_ABANDONED, 5, 0xE5, 2);
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

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(replay_finds_unfinished_devices),
		TU_CASE(torn_line_cut_and_appending_continues),
		TU_CASE(corrupt_line_refused),
		TU_CASE(new_attempt_after_abandon),
		TU_CASE(every_unrecorded_attempt_is_remembered),
		TU_CASE(abandoned_attempt_inherits_nothing),
	};

	return tu_main_fixture("journal", cases, TU_N(cases), setup, teardown);
}
