/* simtest.c — see simtest.h. */
#include <stdio.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "simtest.h"

uint64_t test_clock;

uint64_t test_now(void *ctx)
{
	(void)ctx;
	return test_clock;
}

EVP_PKEY *test_kms_key(void)
{
	EVP_PKEY *k = NULL;

	ck_assert_int_eq(lpa_p256_generate(&k), LPA_OK);
	return k;
}

struct sim_chip *test_chip(enum sim_family fam, EVP_PKEY *kms)
{
	return test_chip_ex(fam, kms, false);
}

struct sim_chip *test_chip_ex(enum sim_family fam, EVP_PKEY *kms, bool no_agent)
{
	static EVP_PKEY *ca_key;
	static uint8_t *ca_der;
	static int ca_len;
	static unsigned serial;
	static uint8_t image[2][0x8000];
	static size_t image_len[2];
	unsigned part = fam == SIM_FAMILY_V2;
	struct sim_chip_config cfg;
	struct sim_chip *c = NULL;
	uint8_t pub[65];

	if (!ca_key) {
		const char *dir = getenv("PKI_DIR");
		char path[1024];
		FILE *f;
		X509 *x;

		ck_assert_ptr_nonnull(dir);
		snprintf(path, sizeof(path), "%s/device-ca.pem", dir);
		ck_assert_ptr_nonnull(f = fopen(path, "r"));
		ck_assert_ptr_nonnull(x = PEM_read_X509(f, NULL, NULL, NULL));
		fclose(f);
		ca_len = i2d_X509(x, &ca_der);
		X509_free(x);
		snprintf(path, sizeof(path), "%s/device-ca.key", dir);
		ck_assert_ptr_nonnull(f = fopen(path, "r"));
		ck_assert_ptr_nonnull(ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL));
		fclose(f);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.family = fam;
	cfg.seed = 42;
	cfg.chip_index = serial++;
	sim_latency_zero(&cfg.latency);
	cfg.ca_key = ca_key;
	cfg.ca_cert_der = ca_der;
	cfg.ca_cert_der_len = (size_t)ca_len;
	if (kms) {
		ck_assert_int_eq(lpa_p256_public_bytes(kms, pub), LPA_OK);
		cfg.kms_pub = pub;
	}
	cfg.hooks.now_ns = test_now;
	if (!no_agent) {
		if (!image_len[part]) {
			/* The agent firmware the build made (lpa/agent), as a factory flashes it.
			 */
			const char *dir = getenv("AGENT_DIR");
			char path[1024];
			FILE *f;

			ck_assert_ptr_nonnull(dir);
			snprintf(path, sizeof(path), "%s/lpa-agent-%s.bin", dir,
				 part ? "cy8c6xxa" : "cy8c6xx7");
			ck_assert_ptr_nonnull(f = fopen(path, "rb"));
			image_len[part] = fread(image[part], 1, sizeof(image[part]), f);
			fclose(f);
			ck_assert_uint_gt(image_len[part], 64);
		}
		cfg.agent_image = image[part];
		cfg.agent_image_len = image_len[part];
	}
	ck_assert_int_eq(sim_chip_new(&cfg, &c), SIM_OK);
	return c;
}

void swd_connect(struct sim_chip *c)
{
	static const uint8_t jtag_to_swd[17] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						0xff, 0x9e, 0xe7, 0xff, 0xff, 0xff,
						0xff, 0xff, 0xff, 0xff, 0x00};
	uint32_t v = 0;

	sim_chip_swj_sequence(c, jtag_to_swd, 136);
	ck_assert_int_eq(dp_rd(c, 0x0, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v, 0x6BA02477u);
	ck_assert_int_eq(dp_wr(c, 0x0, 0x1E), SIM_ACK_OK);
	ck_assert_int_eq(dp_wr(c, 0x8, 0), SIM_ACK_OK);
	ck_assert_int_eq(dp_wr(c, 0x4, 0x50000000u), SIM_ACK_OK);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(dp_rd(c, 0x4, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0xA0000000u, 0xA0000000u);
}

enum sim_ack dp_rd(struct sim_chip *c, unsigned a, uint32_t *v)
{
	return sim_chip_swd_transfer(c, DP_R(a), v);
}

enum sim_ack dp_wr(struct sim_chip *c, unsigned a, uint32_t v)
{
	return sim_chip_swd_transfer(c, DP_W(a), &v);
}

enum sim_ack ap_rd(struct sim_chip *c, unsigned ap, unsigned reg, uint32_t *v)
{
	enum sim_ack a = dp_wr(c, 0x8, ap << 24 | (reg & 0xF0));

	return a == SIM_ACK_OK ? sim_chip_swd_transfer(c, AP_R(reg), v) : a;
}

enum sim_ack ap_wr(struct sim_chip *c, unsigned ap, unsigned reg, uint32_t v)
{
	enum sim_ack a = dp_wr(c, 0x8, ap << 24 | (reg & 0xF0));

	return a == SIM_ACK_OK ? sim_chip_swd_transfer(c, AP_W(reg), &v) : a;
}

enum sim_ack mem_rd(struct sim_chip *c, unsigned ap, uint32_t addr, uint32_t *v)
{
	enum sim_ack a;

	if ((a = ap_wr(c, ap, 0x00, 0x23000002u)) != SIM_ACK_OK ||
	    (a = ap_wr(c, ap, 0x04, addr)) != SIM_ACK_OK)
		return a;
	return ap_rd(c, ap, 0x0C, v);
}

enum sim_ack mem_wr(struct sim_chip *c, unsigned ap, uint32_t addr, uint32_t v)
{
	enum sim_ack a;

	if ((a = ap_wr(c, ap, 0x00, 0x23000002u)) != SIM_ACK_OK ||
	    (a = ap_wr(c, ap, 0x04, addr)) != SIM_ACK_OK)
		return a;
	return ap_wr(c, ap, 0x0C, v);
}

void clear_sticky(struct sim_chip *c)
{
	ck_assert_int_eq(dp_wr(c, 0x0, 0x1E), SIM_ACK_OK);
}

void cm_halt(struct sim_chip *c, unsigned core)
{
	ck_assert_int_eq(mem_wr(c, 1 + core, 0xE000EDF0, 0xA05F0003u), SIM_ACK_OK);
}

void cm_resume(struct sim_chip *c, unsigned core)
{
	ck_assert_int_eq(mem_wr(c, 1 + core, 0xE000EDF0, 0xA05F0001u), SIM_ACK_OK);
}

bool ipc_call(struct sim_chip *c, unsigned n, uint32_t data, unsigned polls)
{
	const struct sim_map *m = sim_map_get(sim_chip_family(c));
	uint32_t base = m->ipc + n * 0x20, v;

	ck_assert_int_eq(mem_rd(c, 0, base + 0x00, &v), SIM_ACK_OK);
	ck_assert_uint_eq(v & 0x80000000u, 0x80000000u);
	ck_assert_int_eq(mem_wr(c, 0, base + 0x0C, data), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(c, 0, m->ipc_intr + 0x08, 1u << (16 + n)), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(c, 0, base + 0x08, 1), SIM_ACK_OK);
	for (unsigned i = 0; i < polls; i++) {
		if (mem_rd(c, 0, base + m->ipc_lock_off, &v) != SIM_ACK_OK)
			return false; /* the chip went silent (brownout) */
		if (!(v & 0x80000000u))
			return true;
	}
	return false;
}

uint32_t agent_call(struct sim_chip *c, uint8_t op, const uint8_t *in, size_t in_len, uint8_t *out,
		    size_t *out_len)
{
	uint32_t blk = sim_map_get(sim_chip_family(c))->agent_block, v;

	ck_assert_int_eq(mem_wr(c, 0, blk, (uint32_t)op << 24), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(c, 0, blk + 4, 0), SIM_ACK_OK);
	ck_assert_int_eq(mem_wr(c, 0, blk + 8, (uint32_t)in_len), SIM_ACK_OK);
	for (size_t i = 0; i < in_len; i += 4) {
		uint8_t w[4] = {0};

		memcpy(w, in + i, in_len - i < 4 ? in_len - i : 4);
		ck_assert_int_eq(mem_wr(c, 0, blk + 16 + (uint32_t)i, sim_le32(w)), SIM_ACK_OK);
	}
	/* The firmware runs between polls (P-256 on a CM0+: tens of millions of
	 * instructions, a few million per poll in the unthrottled unit-test chips). */
	if (!ipc_call(c, IPC_AGENT, blk, 200))
		return 0; /* never answered */
	ck_assert_int_eq(mem_rd(c, 0, blk + 12, &v), SIM_ACK_OK);
	*out_len = v;
	ck_assert_uint_le(v, 2032);
	for (size_t i = 0; i < v; i += 4) {
		uint32_t w;

		ck_assert_int_eq(mem_rd(c, 0, blk + 16 + (uint32_t)i, &w), SIM_ACK_OK);
		sim_put_le32(out + i, w);
	}
	ck_assert_int_eq(mem_rd(c, 0, blk + 4, &v), SIM_ACK_OK);
	return v;
}
