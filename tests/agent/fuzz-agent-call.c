/*
 * Fuzz the firmware's mailbox and calls (lpa/agent mailbox.c, calls.c, package.c: the
 * very sources that ship, on the RAM-backed HAL, whose every access outside the span
 * the agent may touch aborts). The chip is the one of docs/protocols.md's worked
 * vectors (its UID, DIK and KMS key), so the vector LPK1 is a package it accepts.
 *
 * Input: byte 0 — bits 0-1 where the block goes (0 the station's 0x08046000, 1 the
 * last words below the SROM's reserve, 2 the address in bytes 1-4, little-endian),
 * bit 7 a chip that has installed the vector package already, bit 6 with bit 7 one that
 * has also joined (LoRaWAN 1.1, OptNeg, JoinNonce 1, DevAddr 26011234, DevNonce 0) and has
 * a second JoinRequest (DevNonce 1) pending, bit 6 without bit 7 a chip whose vector DIK
 * has no certificate yet (to be enrolled); then the block's bytes.
 * Checked: the status is a documented one, a failure answers no output, a success has
 * the call's output length, a proof verifies with the vector keys, an enrolment request
 * verifies and names the vector DIK, a stored certificate is the input, for the vector
 * DIK, and reported by GET_STATUS and GET_IDENTITY afterwards, and a JoinRequest's MIC
 * and an uplink's MIC verify with the keys lpa/core derives (the network's view).
 * The LoRaWAN seeds (corpus/agent-call/lw-*) were made with the network-side formulas
 * of tests/agent/lw-net.c for this chip.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "agent.h"
#include "hal-host.h"
#include "lpa/core/keystore.h"

#define BLOCK 0x08046000u
#define SROM_RESERVE 0x08047800u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LW_JOIN_EUI 0x70b3d57ed0000000ull
#define LW_DEV_EUI 0x70b3d57ed0001234ull

static struct host_chip fresh, installed, uncert, joined;
static struct agent a_fresh, a_installed, a_uncert, a_joined;
static struct lpa_lorawan11_skeys lw_keys; /* the joined chip's session, as the network has it */
static EVP_PKEY *dik_pub;
static lpa_secbuf *vec_keys;

static void fuzz_check(int ok)
{
	if (!ok)
		abort();
}

static EVP_PKEY *fuzz_key(const char *label)
{
	uint8_t d[32];
	EVP_PKEY *k = NULL;

	fuzz_check(lpa_sha256(label, strlen(label), d) == LPA_OK);
	fuzz_check(lpa_p256_from_private(d, &k) == LPA_OK);
	return k;
}

/* One call on the block at BLOCK (its header and input already there). */
static uint32_t fuzz_serve(struct agent *a, uint8_t *b, uint8_t op, uint32_t in_len)
{
	memset(b, 0, 16);
	b[3] = op;
	b[8] = (uint8_t)in_len;
	agent_serve(a, BLOCK);
	return agent_get_le32(b + 4);
}

/* The installed chip joins: its JoinRequest (DevNonce 0), the Join Server's answer
 * (1.1, OptNeg: MIC under JSIntKey, "encrypted" with AES decryption under NwkKey), then
 * a second JoinRequest left pending. */
static void fuzz_join(uint8_t *b)
{
	const uint8_t *app = lpa_secbuf_cdata(vec_keys), *nwk = app + 16;
	static const uint8_t plain[13] = {0x20, 1,    0,    0,    0x13, 0, 0,
					  0x34, 0x12, 0x01, 0x26, 0x83, 1};
	uint8_t js_int[16], js_enc[16], mic_in[11 + 13], mac[16];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	a_joined = a_installed;
	fuzz_check(fuzz_serve(&a_joined, b, AGENT_OP_LW_JOIN_REQUEST, 0) == AGENT_OK);
	fuzz_check(lpa_lorawan11_js_keys(nwk, LW_DEV_EUI, js_int, js_enc) == LPA_OK);
	mic_in[0] = 0xFF;
	for (int i = 0; i < 8; i++)
		mic_in[1 + i] = (uint8_t)(LW_JOIN_EUI >> (8 * i));
	mic_in[9] = b[16 + 17];
	mic_in[10] = b[16 + 18];
	memcpy(mic_in + 11, plain, sizeof(plain));
	fuzz_check(lpa_aes_cmac(js_int, mic_in, sizeof(mic_in), mac) == LPA_OK);
	memcpy(b + 16, plain, sizeof(plain));
	memcpy(b + 16 + 13, mac, 4);
	fuzz_check(ctx != NULL &&
		   EVP_CipherInit_ex(ctx, EVP_aes_128_ecb(), NULL, nwk, NULL, 0) == 1 &&
		   EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
		   EVP_CipherUpdate(ctx, b + 17, &n, b + 17, 16) == 1 && n == 16);
	EVP_CIPHER_CTX_free(ctx);
	fuzz_check(fuzz_serve(&a_joined, b, AGENT_OP_LW_JOIN_ACCEPT, 17) == AGENT_OK);
	fuzz_check(lpa_lorawan11_derive(nwk, app, 1, LW_JOIN_EUI, 0, &lw_keys) == LPA_OK);
	fuzz_check(fuzz_serve(&a_joined, b, AGENT_OP_LW_JOIN_REQUEST, 0) == AGENT_OK);
	joined = host;
}

/* The network's view of an agent's uplink (FCnt | PHYPayload, the 1.1 MIC, no ACK). */
static bool fuzz_uplink_mic_ok(const uint8_t *in, const uint8_t *out, uint32_t olen)
{
	uint8_t blk[16 + 255], s[16], f[16];
	uint32_t flen = olen - 8, fcnt = agent_get_le32(out);

	for (int k = 0; k < 2; k++) {
		memset(blk, 0, 16);
		blk[0] = 0x49;
		blk[3] = k == 0 ? in[0] : 0; /* TxDr, TxCh in B1 */
		blk[4] = k == 0 ? in[1] : 0;
		agent_le32(blk + 6, 0x26011234u);
		agent_le32(blk + 10, fcnt);
		blk[15] = (uint8_t)flen;
		memcpy(blk + 16, out + 4, flen);
		fuzz_check(lpa_aes_cmac(k == 0 ? lw_keys.s_nwk_s_int_key : lw_keys.f_nwk_s_int_key,
					blk, 16 + flen, k == 0 ? s : f) == LPA_OK);
	}
	return memcmp(out + 4 + flen, s, 2) == 0 && memcmp(out + 4 + flen + 2, f, 2) == 0;
}

/* The worked vectors' chip: UID 0f2a1b3c4d5e6f70, the vector DIK with a certificate,
 * the vector KMS key; once as it comes, once with the vector package installed. */
static void fuzz_init(void)
{
	static const uint8_t die[11] = {0x70, 0x6f, 0x5e, 0x4d, 0x3c, 0x1b, 0x2a, 1, 15, 6, 7};
	static const uint8_t cert[] = {0x30, 0x82, 0x00, 0x03, 1, 2, 3};
	EVP_PKEY *kms = fuzz_key("lpa vector kms"), *dik = fuzz_key("lpa vector dik");
	EVP_PKEY *eph = fuzz_key("lpa vector eph");
	struct lpa_lpk1_hdr h = {.lorawan = 0x11,
				 .dev_eui = 0x70b3d57ed0001234ull,
				 .join_eui = 0x70b3d57ed0000000ull,
				 .chip_uid = 0x0f2a1b3c4d5e6f70ull,
				 .counter = 1,
				 .key_id = 1,
				 .issued_at = 0x6a8c5e00};
	static const uint8_t nonce[12] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
					  0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};
	uint8_t pub[65], rec[LPA_KS_ID_MAX], pkg[LPA_LPK1_LEN], *b;
	lpa_secbuf *d = NULL;
	size_t n = 0;

	host_reset(0x5eed);
	memcpy(host.sflash + 0x600, die, sizeof(die));
	fuzz_check(lpa_p256_public_bytes(kms, pub) == LPA_OK);
	memcpy(host.sflash + 0x5A00, "LPKP\0\0\0\1", 8);
	memcpy(host.sflash + 0x5A08, pub, 65);
	fuzz_check(lpa_p256_private_bytes(dik, &d) == LPA_OK);
	fuzz_check(lpa_p256_public_bytes(dik, pub) == LPA_OK);
	fuzz_check(lpa_keystore_identity_encode(LPA_KS_ORIGIN_FACTORY, lpa_secbuf_cdata(d), pub,
						cert, sizeof(cert), rec, sizeof(rec),
						&n) == LPA_OK);
	memcpy(host.work + (KS_ID_ADDR - HOST_WORK_BASE), rec, n);
	agent_boot(&a_fresh);
	fresh = host;
	memset(host.work, 0, sizeof(host.work));
	fuzz_check(lpa_keystore_identity_encode(LPA_KS_ORIGIN_CHIP, lpa_secbuf_cdata(d), pub, NULL,
						0, rec, sizeof(rec), &n) == LPA_OK);
	memcpy(host.work + (KS_ID_ADDR - HOST_WORK_BASE), rec, n);
	agent_boot(&a_uncert);
	fuzz_check(a_uncert.ready && a_uncert.cert_len == 0);
	uncert = host;
	host = fresh;
	fuzz_check(lpa_p256_from_public(pub, &dik_pub) == LPA_OK);
	vec_keys = lpa_secbuf_new(32);
	for (int i = 0; i < 32; i++)
		lpa_secbuf_data(vec_keys)[i] = (uint8_t)(i < 16 ? i : 0x10 + i - 16);
	fuzz_check(lpa_lpk1_build(&h, vec_keys, dik_pub, kms, eph, nonce, pkg) == LPA_OK);
	b = host_sram(BLOCK);
	memset(b, 0, 16);
	b[3] = AGENT_OP_INSTALL;
	b[8] = LPA_LPK1_LEN;
	memcpy(b + 16, pkg, sizeof(pkg));
	a_installed = a_fresh;
	agent_serve(&a_installed, BLOCK);
	fuzz_check(agent_get_le32(b + 4) == AGENT_OK);
	installed = host;
	fuzz_join(b);
	lpa_secbuf_free(&d);
	lpa_pkey_free(&kms);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&eph);
}

static uint32_t fuzz_out_len(const struct agent *a, uint8_t op)
{
	switch (op) {
	case AGENT_OP_GET_IDENTITY:
		return LPI1_HDR_LEN + a->cert_len;
	case AGENT_OP_INSTALL:
		return LPR1_LEN;
	case AGENT_OP_PROVE:
		return LPP1_LEN;
	case AGENT_OP_ENROL:
		return LPE1_LEN;
	case AGENT_OP_STORE_CERT:
		return 0;
	default:
		return STATUS_LEN;
	}
}

/* After a STORE_CERT that succeeded: the chip reports the input as its certificate. */
static void fuzz_enrolled(struct agent *a, const uint8_t *b)
{
	static uint8_t cert[1024];
	struct lpa_agent_status st;
	struct lpa_lpi1 id;
	uint32_t len = agent_get_le32(b + 8), n;
	uint8_t *c = host_sram(BLOCK);

	fuzz_check(len >= 1 && len <= KS_CERT_MAX);
	memcpy(cert, b + 16, len);
	memset(c, 0, 16);
	c[3] = AGENT_OP_GET_STATUS;
	agent_serve(a, BLOCK);
	fuzz_check(lpa_status_parse(c + 16, agent_get_le32(c + 12), &st) == LPA_OK && st.certified);
	memset(c, 0, 16);
	c[3] = AGENT_OP_GET_IDENTITY;
	agent_serve(a, BLOCK);
	n = agent_get_le32(c + 12);
	fuzz_check(agent_get_le32(c + 4) == AGENT_OK && lpa_lpi1_parse(c + 16, n, &id) == LPA_OK);
	fuzz_check(memcmp(id.dik_pub, a->dik_pub, 65) == 0);
	/* A chip that had a certificate took only the very same bytes again. */
	fuzz_check(id.cert_len == len && memcmp(id.cert, cert, len) == 0);
}

/* A LoRaWAN call's output length for in_len bytes of input. */
static uint32_t fuzz_lw_out_len(uint8_t op, uint32_t in_len)
{
	switch (op) {
	case AGENT_OP_LW_JOIN_REQUEST:
		return 23;
	case AGENT_OP_LW_JOIN_ACCEPT:
		return in_len - 4;
	case AGENT_OP_LW_UPLINK:
		return in_len + 4;
	default:
		return in_len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct agent a;
	uint32_t block, st, olen, avail;
	uint8_t *b, sel, op, tx[2] = {0, 0};

	if (dik_pub == NULL)
		fuzz_init();
	if (size < 1)
		return 0;
	sel = data[0];
	host = sel & 0x80 ? (sel & 0x40 ? joined : installed) : (sel & 0x40 ? uncert : fresh);
	a = sel & 0x80 ? (sel & 0x40 ? a_joined : a_installed) : (sel & 0x40 ? a_uncert : a_fresh);
	data++;
	size--;
	switch (sel & 3) {
	case 0:
		block = BLOCK;
		break;
	case 1:
		block = SROM_RESERVE - 16 - 4 * (size > 0 ? data[0] : 0);
		break;
	default:
		if (size < 4)
			return 0;
		block = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
			(uint32_t)data[3] << 24;
		data += 4;
		size -= 4;
		break;
	}
	/* The block's bytes as the caller wrote them, where they fit in SRAM. */
	if (block >= HOST_SRAM_BASE && block < HOST_SRAM_BASE + HOST_SRAM_SIZE) {
		avail = HOST_SRAM_BASE + HOST_SRAM_SIZE - block;
		memcpy(host_sram(block), data, size < avail ? size : avail);
		if (avail >= 18)
			memcpy(tx, host_sram(block) + 16, 2); /* an uplink's TxDr, TxCh */
	}
	host_notify(block);
	fuzz_check(agent_poll(&a));
	fuzz_check(host.releases ==
		   (sel & 0x80 ? (sel & 0x40 ? joined : installed) : (sel & 0x40 ? uncert : fresh))
				   .releases +
			   1);
	if (block % 4 || block < 0x08001800u || block > SROM_RESERVE - 16)
		return 0; /* no answer: hal-host would have aborted on any access */
	b = host_sram(block);
	st = agent_get_le32(b + 4);
	olen = agent_get_le32(b + 12);
	op = b[3];
	fuzz_check(st == AGENT_OK || (st >= 0xF0000001u && st <= 0xF000000Bu) ||
		   (st >= AGENT_ERR_LW_MIC && st <= AGENT_ERR_LW_FRAME));
	fuzz_check(st != AGENT_ERR_BUSY); /* this chip has its identity */
	if (st != AGENT_OK) {
		fuzz_check(olen == 0);
		return 0;
	}
	if (op >= AGENT_OP_LW_JOIN_REQUEST && op <= AGENT_OP_LW_DOWNLINK) {
		uint32_t in_len = agent_get_le32(b + 8);

		fuzz_check(sel & 0x80); /* only a provisioned chip answers them */
		fuzz_check(olen == fuzz_lw_out_len(op, in_len));
		if (op == AGENT_OP_LW_JOIN_REQUEST) {
			uint8_t mic[4];

			fuzz_check(lpa_lorawan_join_request_mic(
					   lpa_secbuf_cdata(vec_keys) + 16, 0, LW_JOIN_EUI,
					   LW_DEV_EUI, (uint16_t)(b[16 + 17] | b[16 + 18] << 8),
					   mic) == LPA_OK);
			fuzz_check(memcmp(mic, b + 16 + 19, 4) == 0);
		}
		if (op == AGENT_OP_LW_UPLINK)
			fuzz_check(fuzz_uplink_mic_ok(tx, b + 16, olen));
		return 0;
	}
	fuzz_check((op >= AGENT_OP_GET_IDENTITY && op <= AGENT_OP_GET_STATUS) ||
		   op == AGENT_OP_ENROL || op == AGENT_OP_STORE_CERT);
	fuzz_check(olen == fuzz_out_len(&a, op));
	if (op == AGENT_OP_PROVE) {
		struct lpa_lpp1 p;

		fuzz_check(lpa_lpp1_verify(b + 16, olen, dik_pub, 0x70b3d57ed0001234ull,
					   0x0f2a1b3c4d5e6f70ull, b + 16 + 20, 0x11, vec_keys,
					   &p) == LPA_OK);
	}
	if (op == AGENT_OP_INSTALL)
		fuzz_check(!(sel & 0x80)); /* the vector package again is stale */
	if (op == AGENT_OP_ENROL) {
		struct lpa_lpe1 e;

		fuzz_check(lpa_lpe1_verify(b + 16, olen, &e) == LPA_OK);
		fuzz_check(memcmp(e.dik_pub, a.dik_pub, 65) == 0 &&
			   e.chip_uid == 0x0f2a1b3c4d5e6f70ull);
	}
	if (op == AGENT_OP_STORE_CERT)
		fuzz_enrolled(&a, b);
	return 0;
}
