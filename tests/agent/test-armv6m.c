/*
 * test-agent-armv6m IMAGE.bin — the ARMv6-M build itself, run on an emulated Cortex-M0
 * (Unicorn, UC_MODE_THUMB with the Cortex-M0 model, so ARMv7-M instructions fault):
 *  - every entry point gives the host build's results (which the other tests prove
 *    against OpenSSL);
 *  - constant flow on the shipping code: with different secrets, the sequence of
 *    executed addresses and the sequence of memory addresses read and written are
 *    identical (ECDH, sign, key generation, GCM open, CMAC verify, HKDF);
 *  - the stack: painted before each call, the depth used stays within 1.5 KiB, and
 *    after a P-256 function that handles a secret returns, nothing but zeros is left
 *    below the frame it scrubbed from;
 *  - instruction counts per entry point, printed for docs/agent.md; ECDH within its
 *    budget of 15 million.
 * The image (armv6m-image.c) is a table of entry points at 0x10000000; each takes the
 * mailbox (armv6m-image.h) in r0.
 */
#include <stdio.h>

#include <unicorn/unicorn.h>

#include "agent-test.h"
#include "armv6m-image.h"

#define FLASH_BASE 0x10000000u
#define FLASH_SIZE 0x10000u
#define RAM_BASE 0x08000000u
#define RAM_SIZE 0x4000u
#define BOX_ADDR RAM_BASE
#define STACK_TOP (RAM_BASE + RAM_SIZE)
#define STACK_LOW (RAM_BASE + 0x800u) /* painted from here to the top */
#define PAINT 0xdeadbeefu

#define STACK_BUDGET 1536
#define ECDH_BUDGET 15000000ull

static const char *image_path;
static uint8_t image[FLASH_SIZE];
static size_t image_len;

struct run {
	uint64_t insns;
	uint64_t code_hash, mem_hash; /* with trace */
	uint32_t scrub_sp;            /* sp at the first ct_stack_scrub, 0 if none */
	unsigned stack_used;          /* bytes below STACK_TOP touched */
	unsigned residue;             /* non-zero, non-paint words below scrub_sp */
	int ret;
};

struct emu {
	uc_engine *uc;
	uint32_t entry[ARMV6M_ENTRIES];
	struct run *r;
};

static uint64_t fnv(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ull;
}

static void hook_count(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
	struct emu *e = ud;

	(void)uc;
	(void)size;
	e->r->insns++;
	if (e->r->scrub_sp == 0 && (uint32_t)addr == (e->entry[ARMV6M_SCRUB] & ~1u))
		uc_reg_read(e->uc, UC_ARM_REG_SP, &e->r->scrub_sp);
}

static void hook_code_trace(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
	struct emu *e = ud;

	(void)uc;
	e->r->code_hash = fnv(e->r->code_hash, addr << 8 | size);
}

static void hook_mem_trace(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
			   void *ud)
{
	struct emu *e = ud;

	(void)uc;
	(void)value;
	e->r->mem_hash = fnv(e->r->mem_hash, addr << 16 | (uint64_t)type << 8 | (uint64_t)size);
}

static void image_load(void)
{
	FILE *f = fopen(image_path, "rb");

	ck_assert_msg(f != NULL, "cannot open %s", image_path);
	image_len = fread(image, 1, sizeof(image), f);
	ck_assert(feof(f) && image_len > 4 * ARMV6M_ENTRIES);
	fclose(f);
}

static void emu_open(struct emu *e)
{
	uint32_t model = UC_CPU_ARM_CORTEX_M0;

	if (image_len == 0)
		image_load();
	memset(e, 0, sizeof(*e));
	/* Thumb mode with the Cortex-M0 model: UC_MODE_MCLASS would force a Cortex-M33
	 * and accept ARMv7-M/ARMv8-M instructions (docs in shared/reference). */
	ck_assert_int_eq(uc_open(UC_ARCH_ARM, UC_MODE_THUMB, &e->uc), UC_ERR_OK);
	ck_assert_int_eq(uc_ctl_set_cpu_model(e->uc, (int)model), UC_ERR_OK);
	ck_assert_int_eq(uc_mem_map(e->uc, FLASH_BASE, FLASH_SIZE, UC_PROT_READ | UC_PROT_EXEC),
			 UC_ERR_OK);
	ck_assert_int_eq(uc_mem_write(e->uc, FLASH_BASE, image, image_len), UC_ERR_OK);
	ck_assert_int_eq(uc_mem_map(e->uc, RAM_BASE, RAM_SIZE, UC_PROT_READ | UC_PROT_WRITE),
			 UC_ERR_OK);
	memcpy(e->entry, image, sizeof(e->entry));
}

static void emu_close(struct emu *e)
{
	uc_close(e->uc);
}

/* Runs one entry point on the box; the box is updated with what the image wrote. */
static void emu_call(struct emu *e, enum armv6m_entry which, struct armv6m_box *box, int trace,
		     struct run *r)
{
	static uint32_t stack[(STACK_TOP - STACK_LOW) / 4];
	uint32_t r0 = BOX_ADDR, sp = STACK_TOP, lr = e->entry[ARMV6M_HALT], pc;
	uc_hook hc, ht = 0, hm = 0;
	uc_err err;

	memset(r, 0, sizeof(*r));
	r->code_hash = r->mem_hash = 0xcbf29ce484222325ull;
	e->r = r;
	for (size_t i = 0; i < TU_N(stack); i++)
		stack[i] = PAINT;
	ck_assert_int_eq(uc_mem_write(e->uc, STACK_LOW, stack, sizeof(stack)), UC_ERR_OK);
	ck_assert_int_eq(uc_mem_write(e->uc, BOX_ADDR, box, sizeof(*box)), UC_ERR_OK);
	uc_reg_write(e->uc, UC_ARM_REG_R0, &r0);
	uc_reg_write(e->uc, UC_ARM_REG_SP, &sp);
	uc_reg_write(e->uc, UC_ARM_REG_LR, &lr);
	ck_assert_int_eq(uc_hook_add(e->uc, &hc, UC_HOOK_CODE, hook_count, e, 1, 0), UC_ERR_OK);
	if (trace) {
		ck_assert_int_eq(uc_hook_add(e->uc, &ht, UC_HOOK_CODE, hook_code_trace, e, 1, 0),
				 UC_ERR_OK);
		ck_assert_int_eq(uc_hook_add(e->uc, &hm, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
					     hook_mem_trace, e, 1, 0),
				 UC_ERR_OK);
	}
	err = uc_emu_start(e->uc, e->entry[which], e->entry[ARMV6M_HALT] & ~1u, 0, 0);
	uc_reg_read(e->uc, UC_ARM_REG_PC, &pc);
	ck_assert_msg(err == UC_ERR_OK, "entry %d: %s at pc 0x%08x", which, uc_strerror(err), pc);
	ck_assert_msg(pc == (e->entry[ARMV6M_HALT] & ~1u), "entry %d stopped at 0x%08x", which, pc);
	uc_hook_del(e->uc, hc);
	if (trace) {
		uc_hook_del(e->uc, ht);
		uc_hook_del(e->uc, hm);
	}
	uc_reg_read(e->uc, UC_ARM_REG_R0, &r0);
	r->ret = (int)r0;
	ck_assert_int_eq(uc_mem_read(e->uc, BOX_ADDR, box, sizeof(*box)), UC_ERR_OK);
	ck_assert_int_eq(uc_mem_read(e->uc, STACK_LOW, stack, sizeof(stack)), UC_ERR_OK);
	for (size_t i = 0; i < TU_N(stack); i++) {
		uint32_t addr = STACK_LOW + 4 * (uint32_t)i;

		if (stack[i] != PAINT && r->stack_used == 0)
			r->stack_used = STACK_TOP - addr;
		if (r->scrub_sp != 0 && addr < r->scrub_sp && stack[i] != PAINT && stack[i] != 0)
			r->residue++;
	}
}

/* Random inputs for every entry point, consistent with each other (valid keys, a
 * valid signature, a sealed GCM message, a valid MAC). */
static void box_fill(struct at_rng *rng, struct armv6m_box *b)
{
	uint8_t peer_d[32];

	memset(b, 0, sizeof(*b));
	at_fill(rng, b->priv, 32);
	b->priv[0] &= 0x7f;
	at_fill(rng, peer_d, 32);
	peer_d[0] &= 0x7f;
	ck_assert_int_eq(p256_public_from_private(peer_d, b->pub), CRYPTO_OK);
	at_fill(rng, b->hash, 32);
	ck_assert_int_eq(p256_sign(peer_d, b->hash, NULL, 0, b->sig), CRYPTO_OK);
	at_fill(rng, b->extra, 32);
	b->extra_len = 32;
	at_fill(rng, b->rnd, sizeof(b->rnd));
	b->rnd[0] &= 0x7f; /* the first candidate is taken: the same flow every time */
	b->rnd_len = sizeof(b->rnd);
	at_fill(rng, b->key, 32);
	at_fill(rng, b->iv, 12);
	at_fill(rng, b->aad, 113);
	at_fill(rng, b->data, 45);
	b->data_len = 45;
	ck_assert_int_eq(gcm_seal(b->key, 32, b->iv, b->aad, 113, b->data, 32, b->data, b->tag),
			 CRYPTO_OK);
}

START_TEST(armv6m_results_match_host)
{
	struct at_rng rng = at_rng(0xa6e6);
	struct emu e;

	emu_open(&e);
	for (int i = 0; i < 2; i++) {
		struct armv6m_box b, w;
		struct run r;
		uint8_t mac[16];

		box_fill(&rng, &b);
		w = b;
		emu_call(&e, ARMV6M_ECDH, &b, 0, &r);
		ck_assert_int_eq(r.ret, p256_ecdh(w.priv, w.pub, 65, w.out));
		ck_assert_mem_eq(b.out, w.out, 32);

		emu_call(&e, ARMV6M_SIGN, &b, 0, &r);
		ck_assert_int_eq(r.ret, p256_sign(w.priv, w.hash, w.extra, w.extra_len, w.sig));
		ck_assert_mem_eq(b.sig, w.sig, 64);
		emu_call(&e, ARMV6M_VERIFY, &b, 0, &r);
		ck_assert_int_eq(r.ret, CRYPTO_ERR_SIGNATURE); /* signed by priv, not pub's key */
		b.hash[7] ^= 1;
		emu_call(&e, ARMV6M_VERIFY, &b, 0, &r);
		ck_assert_int_eq(r.ret, CRYPTO_ERR_SIGNATURE);
		b.hash[7] ^= 1;

		emu_call(&e, ARMV6M_PUBLIC, &b, 0, &r);
		ck_assert_int_eq(r.ret, p256_public_from_private(w.priv, w.out));
		ck_assert_mem_eq(b.out, w.out, 65);
		/* the signature just made verifies with that public key */
		memcpy(b.pub, b.out, 65);
		emu_call(&e, ARMV6M_VERIFY, &b, 0, &r);
		ck_assert_int_eq(r.ret, CRYPTO_OK);

		emu_call(&e, ARMV6M_KEYGEN, &b, 0, &r);
		ck_assert_int_eq(r.ret, p256_keygen(w.rnd, w.rnd_len, w.priv, w.out));
		ck_assert_mem_eq(b.priv, w.priv, 32);
		ck_assert_mem_eq(b.out, w.out, 65);

		emu_call(&e, ARMV6M_GCM_OPEN, &b, 0, &r);
		ck_assert_int_eq(r.ret,
				 gcm_open(w.key, 32, w.iv, w.aad, 113, w.data, 32, w.tag, w.out));
		ck_assert_int_eq(r.ret, CRYPTO_OK);
		ck_assert_mem_eq(b.out, w.out, 32);
		b.tag[0] ^= 1;
		emu_call(&e, ARMV6M_GCM_OPEN, &b, 0, &r);
		ck_assert_int_eq(r.ret, CRYPTO_ERR_TAG);
		b.tag[0] ^= 1;

		cmac_aes128(w.key, w.data, w.data_len, mac);
		memcpy(b.tag, mac, 4);
		emu_call(&e, ARMV6M_CMAC_VERIFY, &b, 0, &r);
		ck_assert_int_eq(r.ret, CRYPTO_OK);
		b.tag[3] ^= 0x40;
		emu_call(&e, ARMV6M_CMAC_VERIFY, &b, 0, &r);
		ck_assert_int_eq(r.ret, CRYPTO_ERR_TAG);

		emu_call(&e, ARMV6M_HKDF, &b, 0, &r);
		ck_assert_int_eq(r.ret, hkdf_sha256(w.data, 32, w.hash, 32, w.aad, 61, w.out, 32));
		ck_assert_mem_eq(b.out, w.out, 32);
	}
	emu_close(&e);
}
END_TEST

/* Three different sets of secrets: every traced entry point runs the very same
 * instructions and touches the very same addresses. */
START_TEST(armv6m_constant_flow)
{
	static const struct {
		enum armv6m_entry which;
		const char *name;
	} traced[] = {
		{ARMV6M_ECDH, "p256_ecdh"},     {ARMV6M_SIGN, "p256_sign"},
		{ARMV6M_KEYGEN, "p256_keygen"}, {ARMV6M_PUBLIC, "p256_public_from_private"},
		{ARMV6M_GCM_OPEN, "gcm_open"},  {ARMV6M_CMAC_VERIFY, "cmac_aes128_verify"},
		{ARMV6M_HKDF, "hkdf_sha256"},
	};
	struct at_rng rng = at_rng(0xf10);
	struct armv6m_box boxes[3];
	struct emu e;

	for (int k = 0; k < 3; k++)
		box_fill(&rng, &boxes[k]);
	emu_open(&e);
	for (size_t t = 0; t < TU_N(traced); t++) {
		struct run first, r;

		for (int k = 0; k < 3; k++) {
			struct armv6m_box b = boxes[k];
			uint8_t mac[16];

			if (traced[t].which == ARMV6M_CMAC_VERIFY) {
				cmac_aes128(b.key, b.data, b.data_len, mac);
				memcpy(b.tag, mac, 4);
			}
			emu_call(&e, traced[t].which, &b, 1, k == 0 ? &first : &r);
			ck_assert_int_eq((k == 0 ? first : r).ret, CRYPTO_OK);
			if (k == 0)
				continue;
			ck_assert_msg(r.insns == first.insns, "%s: %llu vs %llu instructions",
				      traced[t].name, (unsigned long long)r.insns,
				      (unsigned long long)first.insns);
			ck_assert_msg(r.code_hash == first.code_hash, "%s: another code path",
				      traced[t].name);
			ck_assert_msg(r.mem_hash == first.mem_hash, "%s: other memory addresses",
				      traced[t].name);
		}
		printf("%s: one code path and one address trace for 3 secrets (%llu "
		       "instructions)\n",
		       traced[t].name, (unsigned long long)first.insns);
	}
	emu_close(&e);
}
END_TEST

START_TEST(armv6m_stack_and_scrub)
{
	static const struct {
		enum armv6m_entry which;
		const char *name;
		int scrubs;
	} entries[] = {
		{ARMV6M_ECDH, "p256_ecdh", 1},
		{ARMV6M_SIGN, "p256_sign", 1},
		{ARMV6M_PUBLIC, "p256_public_from_private", 1},
		{ARMV6M_KEYGEN, "p256_keygen", 1},
		{ARMV6M_VERIFY, "p256_verify", 0},
		{ARMV6M_GCM_OPEN, "gcm_open", 0},
		{ARMV6M_CMAC_VERIFY, "cmac_aes128_verify", 0},
		{ARMV6M_HKDF, "hkdf_sha256", 0},
	};
	struct at_rng rng = at_rng(0x57ac);
	struct armv6m_box box;
	struct emu e;

	box_fill(&rng, &box);
	emu_open(&e);
	for (size_t i = 0; i < TU_N(entries); i++) {
		struct armv6m_box b = box;
		struct run r;

		emu_call(&e, entries[i].which, &b, 0, &r);
		printf("%s: %u bytes of stack (painted)%s\n", entries[i].name, r.stack_used,
		       entries[i].scrubs ? ", nothing left below its scrub" : "");
		ck_assert_msg(r.stack_used <= STACK_BUDGET, "%s: %u bytes of stack",
			      entries[i].name, r.stack_used);
		if (entries[i].scrubs) {
			ck_assert_msg(r.scrub_sp != 0, "%s did not scrub", entries[i].name);
			ck_assert_msg(r.residue == 0, "%s: %u words left on the stack",
				      entries[i].name, r.residue);
		}
	}
	emu_close(&e);
}
END_TEST

START_TEST(armv6m_instruction_counts)
{
	static const struct {
		enum armv6m_entry which;
		const char *name;
	} entries[] = {
		{ARMV6M_ECDH, "p256_ecdh"},
		{ARMV6M_SIGN, "p256_sign (hedged)"},
		{ARMV6M_VERIFY, "p256_verify"},
		{ARMV6M_PUBLIC, "p256_public_from_private"},
		{ARMV6M_KEYGEN, "p256_keygen"},
		{ARMV6M_GCM_OPEN, "gcm_open (AES-256, 32 bytes, 113 AAD)"},
		{ARMV6M_CMAC_VERIFY, "cmac_aes128_verify (45 bytes)"},
		{ARMV6M_HKDF, "hkdf_sha256 (the LPK1 KEK)"},
	};
	struct at_rng rng = at_rng(0xc0);
	struct armv6m_box box;
	struct emu e;
	uint64_t ecdh = 0;

	box_fill(&rng, &box);
	emu_open(&e);
	for (size_t i = 0; i < TU_N(entries); i++) {
		struct armv6m_box b = box;
		struct run r;

		emu_call(&e, entries[i].which, &b, 0, &r);
		printf("instructions: %-40s %10llu\n", entries[i].name,
		       (unsigned long long)r.insns);
		if (entries[i].which == ARMV6M_ECDH)
			ecdh = r.insns;
	}
	emu_close(&e);
	ck_assert_msg(ecdh > 0 && ecdh <= ECDH_BUDGET, "ECDH: %llu instructions",
		      (unsigned long long)ecdh);
}
END_TEST

/* The emulated core really is ARMv6-M: a Thumb-2 UDIV faults. */
START_TEST(armv6m_core_refuses_armv7m)
{
	/* udiv r0, r0, r1 ; bkpt */
	static const uint8_t code[] = {0xb0, 0xfb, 0xf1, 0xf0, 0x00, 0xbe};
	uc_engine *uc;
	uc_err err;

	ck_assert_int_eq(uc_open(UC_ARCH_ARM, UC_MODE_THUMB, &uc), UC_ERR_OK);
	ck_assert_int_eq(uc_ctl_set_cpu_model(uc, UC_CPU_ARM_CORTEX_M0), UC_ERR_OK);
	ck_assert_int_eq(uc_mem_map(uc, FLASH_BASE, 0x1000, UC_PROT_ALL), UC_ERR_OK);
	ck_assert_int_eq(uc_mem_write(uc, FLASH_BASE, code, sizeof(code)), UC_ERR_OK);
	err = uc_emu_start(uc, FLASH_BASE | 1, FLASH_BASE + 4, 0, 1);
	ck_assert_int_eq(err, UC_ERR_INSN_INVALID);
	uc_close(uc);
}
END_TEST

int main(int argc, char **argv)
{
	struct tu_case cases[] = {
		TU_CASE(armv6m_core_refuses_armv7m),
		TU_CASE_SLOW(armv6m_results_match_host, 600),
		TU_CASE_SLOW(armv6m_constant_flow, 600),
		TU_CASE_SLOW(armv6m_stack_and_scrub, 600),
		TU_CASE_SLOW(armv6m_instruction_counts, 600),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s armv6m-image.bin\n", argv[0]);
		return 2;
	}
	image_path = argv[1];
	return tu_main("agent-armv6m", cases, TU_N(cases));
}
