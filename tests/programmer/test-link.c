/*
 * test-link — the programmer's link, PSoC 6 layer and agent calls against simulated
 * chips, through the real stack (libusb -> virtual KitProg3, or real OpenOCD). Runs under
 * lpa-sim; meson starts one lpa-sim per scenario:
 *
 *   test-link BACKEND SCENARIO     BACKEND cmsis-dap|openocd
 *
 * LPA_TEST_PKI names the fixture PKI directory (the test plays the KMS with its key).
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "programmer/programmer.h"
#include "testutil.h"

static enum prog_backend backend;

static prog_link *open_link(const char *serial)
{
	struct prog_link_opts o = {.backend = backend, .serial = serial, .timeout_ms = 3000};
	prog_link *l = NULL;
	int r = prog_link_open(&o, &l);

	ck_assert_msg(r == LPA_OK, "open %s: %s", serial ? serial : "(any)", lpa_strerror(r));
	return l;
}

static prog_link *connect_link(const char *serial)
{
	prog_link *l = open_link(serial);
	uint32_t dpidr = 0;
	int r = LPA_ERR_NO_TARGET;

	/* Closing a link hands the chip on (the probe is released); the next chip is in
	 * the socket after the handling time. Wait for it, as a station would. */
	for (int i = 0; i < 100 && r == LPA_ERR_NO_TARGET; i++) {
		if (i > 0)
			usleep(50000);
		r = prog_link_connect(l, &dpidr);
	}

	ck_assert_msg(r == LPA_OK, "connect: %s (%s)", lpa_strerror(r), prog_link_last_error(l));
	ck_assert_uint_eq(dpidr, 0x6BA02477);
	return l;
}

static psoc6 *attach(prog_link *l)
{
	psoc6 *c = NULL;

	ck_assert_int_eq(psoc6_attach(l, &c), LPA_OK);
	return c;
}

static EVP_PKEY *kms_key(void)
{
	char path[512];
	FILE *f;
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/kms-package.key", getenv("LPA_TEST_PKI"));
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(k);
	return k;
}

START_TEST(discovery_lists_virtual_kitprog3)
{
	struct prog_probe_info *list = NULL;
	size_t n = 0;

	ck_assert_int_eq(prog_probe_list(&list, &n), LPA_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(list[0].vid, 0x04b4);
	ck_assert_uint_eq(list[0].pid, 0xf155);
	ck_assert_str_eq(list[0].serial, "SIM0000001");
	ck_assert(list[0].v2_bulk);
	ck_assert_uint_eq(list[0].packet_size, 64);
	ck_assert_uint_ge(list[0].packet_count, 1);
	ck_assert(list[0].capabilities & 1); /* SWD */
	ck_assert_str_ne(list[0].firmware, "");
	free(list);
}
END_TEST

START_TEST(unknown_serial_not_found)
{
	struct prog_link_opts o = {.backend = backend, .serial = "NOPE0001", .timeout_ms = 3000};
	prog_link *l = NULL;

	ck_assert_int_ne(prog_link_open(&o, &l), LPA_OK);
	ck_assert_ptr_null(l);
}
END_TEST

START_TEST(ap_idr_and_rom_table_family)
{
	prog_link *l = connect_link(NULL);
	psoc6 *c = NULL;
	uint32_t idr = 0;

	ck_assert_int_eq(prog_ap_read(l, 0, 0xFC, &idr), LPA_OK);
	ck_assert_uint_eq(idr, 0x84770001);
	c = attach(l);
	ck_assert_uint_eq(psoc6_get_family(c)->id, PSOC6_FAMILY_BLE2);
	psoc6_detach(&c);
	prog_link_close(&l);
}
END_TEST

START_TEST(sram_round_trip_across_pages)
{
	prog_link *l = connect_link(NULL);
	uint8_t out[2048], in[2048];
	uint8_t b = 0;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	/* Starts 256 bytes before a 1 KiB page: TAR must be re-set at each page. */
	ck_assert_int_eq(prog_mem_write(l, 0, 0x08010300, out, sizeof(out)), LPA_OK);
	ck_assert_int_eq(prog_mem_read(l, 0, 0x08010300, in, sizeof(in)), LPA_OK);
	ck_assert_mem_eq(in, out, sizeof(out));
	/* 15 words: a response that fills a 64-byte packet exactly. */
	memset(in, 0, sizeof(in));
	ck_assert_int_eq(prog_mem_read(l, 0, 0x08010300, in, 60), LPA_OK);
	ck_assert_mem_eq(in, out, 60);
	ck_assert_int_eq(prog_mem_write8(l, 0, 0x08010303, 0xA5), LPA_OK);
	ck_assert_int_eq(prog_mem_read8(l, 0, 0x08010303, &b), LPA_OK);
	ck_assert_uint_eq(b, 0xA5);
	ck_assert_int_eq(prog_mem_read8(l, 0, 0x08010302, &b), LPA_OK);
	ck_assert_uint_eq(b, out[2]); /* the neighbour byte is untouched */
	prog_link_close(&l);
}
END_TEST

START_TEST(silicon_id_and_unique_id)
{
	prog_link *l = connect_link(NULL);
	psoc6 *c = attach(l);
	struct lpa_lpi1 id;
	uint32_t siid = 0;
	uint8_t prot = 0;
	uint64_t uid = 0;

	ck_assert_int_eq(psoc6_silicon_id(c, &siid, &prot), LPA_OK);
	ck_assert_uint_eq(prot, LPA_PROT_NORMAL);
	ck_assert_int_eq(psoc6_unique_id(c, &uid), LPA_OK);
	ck_assert_int_eq(psoc6_get_identity(c, &id, NULL, 0, NULL), LPA_OK);
	/* Two independent paths agree: SFlash die fields vs the agent's record. */
	ck_assert_uint_eq(uid, id.chip_uid);
	ck_assert_uint_eq(siid, id.silicon_id);
	ck_assert_uint_eq(id.protection, LPA_PROT_NORMAL);
	psoc6_detach(&c);
	prog_link_close(&l);
}
END_TEST

START_TEST(entrance_exam_passes_fresh_chip)
{
	prog_link *l = connect_link(NULL);
	psoc6 *c = attach(l);
	struct psoc6_exam_policy p;
	struct psoc6_exam_result res;

	psoc6_exam_policy_default(&p);
	ck_assert_int_eq(psoc6_entrance_exam(c, &p, &res), LPA_OK);
	ck_assert_str_eq(res.reason, "");
	ck_assert(!res.status.provisioned);
	p.allowed_protection = 1u << LPA_PROT_SECURE;
	ck_assert_int_eq(psoc6_entrance_exam(c, &p, &res), LPA_ERR_STATE);
	ck_assert_ptr_nonnull(strstr(res.reason, "NORMAL"));
	psoc6_detach(&c);
	prog_link_close(&l);
}
END_TEST

/* The test plays the KMS: a package for this chip, installed over SWD, whose receipt
 * verifies; then the same package again (stale) and a package for another UID. */
START_TEST(install_package_and_refusals)
{
	prog_link *l = connect_link(NULL);
	psoc6 *c = attach(l);
	EVP_PKEY *kms = kms_key(), *dik = NULL;
	struct lpa_lpi1 id;
	struct lpa_lpk1_hdr h = {.lorawan = LPA_LORAWAN_11,
				 .dev_eui = 0x70b3d57ed0000042ULL,
				 .join_eui = 0x70b3d57ed0000000ULL,
				 .key_id = 1};
	lpa_secbuf *keys = lpa_secbuf_new(32);
	uint8_t pkg[LPA_LPK1_LEN], rcpt[LPA_LPR1_LEN];
	struct lpa_lpr1 rc;
	struct lpa_agent_status st;
	struct psoc6_exam_policy p;
	struct psoc6_exam_result res;

	ck_assert_int_eq(psoc6_get_identity(c, &id, NULL, 0, NULL), LPA_OK);
	ck_assert_int_eq(lpa_p256_from_public(id.dik_pub, &dik), LPA_OK);
	ck_assert_int_eq(lpa_random(lpa_secbuf_data(keys), 32), LPA_OK);
	h.chip_uid = id.chip_uid;
	h.counter = id.last_counter + 1;
	ck_assert_int_eq(lpa_lpk1_build(&h, keys, dik, kms, NULL, NULL, pkg), LPA_OK);
	ck_assert_int_eq(psoc6_install_package(c, pkg, rcpt), LPA_OK);
	ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt), dik, pkg, keys, &rc), LPA_OK);
	ck_assert_int_eq(psoc6_get_status(c, &st), LPA_OK);
	ck_assert(st.provisioned);
	ck_assert_uint_eq(st.dev_eui, h.dev_eui);
	ck_assert_uint_eq(st.counter, h.counter);
	/* The exam now refuses the chip unless re-provisioning is asked for. */
	psoc6_exam_policy_default(&p);
	ck_assert_int_eq(psoc6_entrance_exam(c, &p, &res), LPA_ERR_MISMATCH);
	p.allow_reprovision = true;
	ck_assert_int_eq(psoc6_entrance_exam(c, &p, &res), LPA_OK);
	/* Replay: the agent's counter check. */
	ck_assert_int_eq(psoc6_install_package(c, pkg, rcpt), LPA_ERR_STALE);
	/* Another chip's package. */
	h.chip_uid ^= 1;
	h.counter++;
	ck_assert_int_eq(lpa_lpk1_build(&h, keys, dik, kms, NULL, NULL, pkg), LPA_OK);
	ck_assert_int_eq(psoc6_install_package(c, pkg, rcpt), LPA_ERR_WRONG_CHIP);
	/* Signed by someone else. */
	h.chip_uid ^= 1;
	lpa_pkey_free(&kms);
	ck_assert_int_eq(lpa_p256_generate(&kms), LPA_OK);
	ck_assert_int_eq(lpa_lpk1_build(&h, keys, dik, kms, NULL, NULL, pkg), LPA_OK);
	ck_assert_int_eq(psoc6_install_package(c, pkg, rcpt), LPA_ERR_SIGNATURE);
	lpa_secbuf_free(&keys);
	lpa_pkey_free(&kms);
	lpa_pkey_free(&dik);
	psoc6_detach(&c);
	prog_link_close(&l);
}
END_TEST

START_TEST(keystore_read_faults)
{
	prog_link *l = connect_link(NULL);
	uint32_t v = 0;

	ck_assert_int_eq(prog_mem_read32(l, 0, 0x14007400, &v), LPA_ERR_FAULT);
	ck_assert_uint_eq(prog_link_fault_addr(l), 0x14007400);
	/* The link recovers: ordinary memory reads work again. */
	ck_assert_int_eq(prog_mem_read32(l, 0, 0x16000600, &v), LPA_OK);
	prog_link_close(&l);
}
END_TEST

START_TEST(disconnect_moves_to_next_chip)
{
	prog_link *l = connect_link(NULL);
	psoc6 *c = attach(l);
	uint64_t uid1 = 0, uid2 = 0;
	bool saw_empty = false;

	ck_assert_int_eq(psoc6_unique_id(c, &uid1), LPA_OK);
	psoc6_detach(&c);
	ck_assert_int_eq(prog_link_disconnect(l), LPA_OK);
	/* The simulated handler takes the chip away when no reconnect follows within 50 ms;
	 * the slot is empty for the handling time (NO_ACK, never a hang), then the next chip
	 * is in. OpenOCD's restart can take longer than the empty slot lasts, so only the
	 * native backend must see it empty. */
	for (int i = 0; i < 100 && uid2 == 0; i++) {
		int r;

		usleep(50000);
		r = prog_link_target_present(l);
		if (r == LPA_ERR_NO_TARGET) {
			saw_empty = true;
			continue;
		}
		ck_assert_int_eq(r, LPA_OK);
		c = attach(l);
		ck_assert_int_eq(psoc6_unique_id(c, &uid2), LPA_OK);
		psoc6_detach(&c);
		if (uid2 == uid1)
			uid2 = 0; /* still the first chip: keep polling */
	}
	ck_assert_uint_ne(uid2, 0);
	ck_assert_uint_ne(uid1, uid2);
	if (backend == PROG_BACKEND_CMSIS_DAP)
		ck_assert(saw_empty);
	prog_link_close(&l);
}
END_TEST

/*
 * What one device costs on the wire, as the station does it (connect, family, entrance
 * exam, identity, INSTALL_PACKAGE): host waits counted by the probe layer (one per
 * window of pipelined commands the host blocks on), deterministic whatever the latency.
 * The native backend's budget is 12; the figures go to stderr for docs/benchmarks.md.
 */
static double link_ms(uint64_t a_ns, uint64_t b_ns)
{
	return (double)(b_ns - a_ns) / 1e6;
}

START_TEST(device_host_waits_within_budget)
{
	prog_link *l = open_link(NULL);
	EVP_PKEY *kms = kms_key(), *dik = NULL;
	struct lpa_lpk1_hdr h = {.lorawan = LPA_LORAWAN_11,
				 .dev_eui = 0x70b3d57ed0000077ULL,
				 .join_eui = 0x70b3d57ed0000000ULL,
				 .key_id = 1};
	lpa_secbuf *keys = lpa_secbuf_new(32);
	uint8_t pkg[LPA_LPK1_LEN], rcpt[LPA_LPR1_LEN], raw[LPA_LPI1_MAX_LEN];
	struct psoc6_exam_policy p;
	struct psoc6_exam_result res;
	struct prog_counters c0, c1, c2, c3;
	uint64_t t1, t_build0, t2, t3;
	struct lpa_lpi1 id;
	struct lpa_lpr1 rc;
	size_t raw_len = 0;
	psoc6 *c = NULL;
	int r = LPA_ERR_NO_TARGET;

	psoc6_exam_policy_default(&p);
	/* The chip is there from the start: one connect, as a station's first device. */
	for (int i = 0; i < 100 && r == LPA_ERR_NO_TARGET; i++) {
		if (i > 0)
			usleep(50000);
		prog_link_counters(l, &c0);
		r = prog_link_connect(l, NULL);
	}
	ck_assert_int_eq(r, LPA_OK);
	prog_link_counters(l, &c1);
	t1 = lpa_mono_ns();
	ck_assert_int_eq(psoc6_attach(l, &c), LPA_OK);
	ck_assert_int_eq(psoc6_entrance_exam(c, &p, &res), LPA_OK);
	ck_assert_int_eq(psoc6_get_identity(c, &id, raw, sizeof(raw), &raw_len), LPA_OK);
	ck_assert_uint_eq(id.chip_uid, res.uid);
	prog_link_counters(l, &c2);
	t_build0 = lpa_mono_ns();
	ck_assert_int_eq(lpa_p256_from_public(id.dik_pub, &dik), LPA_OK);
	ck_assert_int_eq(lpa_random(lpa_secbuf_data(keys), 32), LPA_OK);
	h.chip_uid = id.chip_uid;
	h.counter = id.last_counter + 1;
	ck_assert_int_eq(lpa_lpk1_build(&h, keys, dik, kms, NULL, NULL, pkg), LPA_OK);
	t2 = lpa_mono_ns();
	ck_assert_int_eq(psoc6_install_package(c, pkg, rcpt), LPA_OK);
	t3 = lpa_mono_ns();
	ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt), dik, pkg, keys, &rc), LPA_OK);
	prog_link_counters(l, &c3);
	fprintf(stderr,
		"host waits (DAP commands): connect %llu (%llu), exam + identity %llu (%llu), "
		"install %llu (%llu), device %llu (%llu); device %.1f ms on the link\n",
		(unsigned long long)(c1.round_trips - c0.round_trips),
		(unsigned long long)(c1.commands - c0.commands),
		(unsigned long long)(c2.round_trips - c1.round_trips),
		(unsigned long long)(c2.commands - c1.commands),
		(unsigned long long)(c3.round_trips - c2.round_trips),
		(unsigned long long)(c3.commands - c2.commands),
		(unsigned long long)(c3.round_trips - c1.round_trips),
		(unsigned long long)(c3.commands - c1.commands),
		/* the package's building (the KMS's work) between t1..t2 and t2 excluded */
		link_ms(t1, t3) - link_ms(t_build0, t2));
	if (backend == PROG_BACKEND_CMSIS_DAP)
		ck_assert_uint_le(c3.round_trips - c1.round_trips, 12);
	lpa_secbuf_free(&keys);
	lpa_pkey_free(&kms);
	lpa_pkey_free(&dik);
	psoc6_detach(&c);
	prog_link_close(&l);
}
END_TEST

/* ---- fault scenarios (each under its own lpa-sim --faults) ---- */
START_TEST(wait_storm_recovers)
{
	prog_link *l = connect_link(NULL);
	psoc6 *c = attach(l);
	struct lpa_lpi1 id;
	uint8_t out[2048], in[2048];

	memset(out, 0x3c, sizeof(out));
	for (int i = 0; i < 5; i++) {
		int r = prog_mem_write(l, 0, 0x08020000, out, sizeof(out));

		ck_assert_msg(r == LPA_OK, "write: %s (%s)", lpa_strerror(r),
			      prog_link_last_error(l));
		r = prog_mem_read(l, 0, 0x08020000, in, sizeof(in));
		ck_assert_msg(r == LPA_OK, "read: %s (%s)", lpa_strerror(r),
			      prog_link_last_error(l));
		ck_assert_mem_eq(in, out, sizeof(in));
		ck_assert_int_eq(psoc6_get_identity(c, &id, NULL, 0, NULL), LPA_OK);
	}
	psoc6_detach(&c);
	prog_link_close(&l);
}
END_TEST

START_TEST(noack_reports_no_target)
{
	prog_link *l = connect_link(NULL);
	uint8_t buf[1024];
	int r = LPA_OK;

	for (int i = 0; i < 50 && r == LPA_OK; i++)
		r = prog_mem_read(l, 0, 0x08002000, buf, sizeof(buf));
	ck_assert_int_eq(r, LPA_ERR_NO_TARGET);
	ck_assert_int_eq(prog_link_target_present(l), LPA_ERR_NO_TARGET);
	prog_link_close(&l);
}
END_TEST

START_TEST(fault_range_names_address)
{
	prog_link *l = connect_link(NULL);
	uint8_t buf[512];

	ck_assert_int_eq(prog_mem_read(l, 0, 0x08030000, buf, sizeof(buf)), LPA_OK);
	ck_assert_int_eq(prog_mem_read(l, 0, 0x08010000, buf, sizeof(buf)), LPA_ERR_FAULT);
	ck_assert_uint_eq(prog_link_fault_addr(l), 0x08010080);
	prog_link_close(&l);
}
END_TEST

START_TEST(unplug_reports_probe_gone)
{
	prog_link *l = open_link(NULL);
	uint8_t buf[256];
	uint32_t dpidr;
	int r = prog_link_connect(l, &dpidr);

	for (int i = 0; i < 200 && r == LPA_OK; i++)
		r = prog_mem_read(l, 0, 0x08002000, buf, sizeof(buf));
	ck_assert_int_eq(r, LPA_ERR_PROBE_GONE);
	prog_link_close(&l);
}
END_TEST

struct parallel_job {
	const char *serial;
	int r; /* the first failure, LPA_OK when none */
	char why[200];
};

static void *parallel_worker(void *arg)
{
	struct parallel_job *j = arg;
	struct prog_link_opts o = {.backend = backend, .serial = j->serial, .timeout_ms = 5000};
	prog_link *l = NULL;
	psoc6 *c = NULL;
	struct lpa_lpi1 id;
	uint8_t out[2048], in[2048];
	const char *step = "open";

	memset(out, j->serial[9], sizeof(out));
	if ((j->r = prog_link_open(&o, &l)) == LPA_OK && (step = "connect") &&
	    (j->r = prog_link_connect(l, NULL)) == LPA_OK && (step = "attach") &&
	    (j->r = psoc6_attach(l, &c)) == LPA_OK && (step = "identity") &&
	    (j->r = psoc6_get_identity(c, &id, NULL, 0, NULL)) == LPA_OK && (step = "write") &&
	    (j->r = prog_mem_write(l, 0, 0x08020000, out, sizeof(out))) == LPA_OK &&
	    (step = "read") && (j->r = prog_mem_read(l, 0, 0x08020000, in, sizeof(in))) == LPA_OK) {
		step = "compare";
		if (memcmp(in, out, sizeof(in)) != 0 || strcmp(prog_link_serial(l), j->serial) != 0)
			j->r = LPA_ERR_MISMATCH;
	}
	if (j->r != LPA_OK)
		snprintf(j->why, sizeof(j->why), "%s: %s (%s)", step, lpa_strerror(j->r),
			 l != NULL ? prog_link_last_error(l) : "no link");
	psoc6_detach(&c);
	prog_link_close(&l);
	return NULL;
}

START_TEST(four_probes_in_parallel)
{
	static const char *serials[] = {"SIM0000001", "SIM0000002", "SIM0000003", "SIM0000004"};
	struct parallel_job jobs[4];
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct parallel_job){.serial = serials[i]};
		ck_assert_int_eq(pthread_create(&t[i], NULL, parallel_worker, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(jobs[i].r == LPA_OK, "probe %s failed at %s", serials[i],
			      jobs[i].why);
}
END_TEST

int main(int argc, char **argv)
{
	const struct tu_case basic[] = {
		TU_CASE(discovery_lists_virtual_kitprog3), TU_CASE(unknown_serial_not_found),
		TU_CASE(ap_idr_and_rom_table_family),      TU_CASE(sram_round_trip_across_pages),
		TU_CASE(silicon_id_and_unique_id),         TU_CASE(entrance_exam_passes_fresh_chip),
		TU_CASE(install_package_and_refusals),     TU_CASE(keystore_read_faults),
		TU_CASE(disconnect_moves_to_next_chip),
	};
	const struct tu_case wait_storm[] = {TU_CASE(wait_storm_recovers)};
	const struct tu_case noack[] = {TU_CASE(noack_reports_no_target)};
	const struct tu_case fault[] = {TU_CASE(fault_range_names_address)};
	const struct tu_case unplug[] = {TU_CASE(unplug_reports_probe_gone)};
	const struct tu_case parallel[] = {TU_CASE(four_probes_in_parallel)};
	const struct tu_case round_trips[] = {TU_CASE(device_host_waits_within_budget)};
	/* With the datasheet's flash and agent latencies: polls must wait for real. */
	const struct tu_case realistic[] = {
		TU_CASE(silicon_id_and_unique_id),
		TU_CASE(install_package_and_refusals),
	};

	if (argc != 3 || getenv("LPA_TEST_PKI") == NULL) {
		fprintf(stderr, "usage: LPA_TEST_PKI=DIR test-link cmsis-dap|openocd SCENARIO\n");
		return 2;
	}
	backend = strcmp(argv[1], "openocd") == 0 ? PROG_BACKEND_OPENOCD : PROG_BACKEND_CMSIS_DAP;
	/* Check's fork per test keeps each on a fresh link, as a station command would be. */
	if (strcmp(argv[2], "basic") == 0)
		return tu_main("link-basic", basic, TU_N(basic));
	if (strcmp(argv[2], "wait-storm") == 0)
		return tu_main("link-wait-storm", wait_storm, 1);
	if (strcmp(argv[2], "noack") == 0)
		return tu_main("link-noack", noack, 1);
	if (strcmp(argv[2], "fault") == 0)
		return tu_main("link-fault", fault, 1);
	if (strcmp(argv[2], "unplug") == 0)
		return tu_main("link-unplug", unplug, 1);
	if (strcmp(argv[2], "realistic") == 0)
		return tu_main("link-realistic", realistic, TU_N(realistic));
	if (strcmp(argv[2], "round-trips") == 0)
		return tu_main("link-round-trips", round_trips, 1);
	if (strcmp(argv[2], "parallel") == 0)
		return tu_main("link-parallel", parallel, 1);
	fprintf(stderr, "test-link: unknown scenario '%s'\n", argv[2]);
	return 2;
}
