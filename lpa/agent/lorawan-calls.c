/*
 * lorawan-calls.c — the LoRaWAN runtime calls the application core (CM4) makes to the
 * secure agent (docs/protocols.md, "LoRaWAN runtime calls"): JOIN_REQUEST, JOIN_ACCEPT,
 * UPLINK, DOWNLINK. The root keys (key store) and the session keys (struct lw_state, in
 * the agent's RAM) never leave the CM0+; the CM4 gets frames to send, and the
 * non-secret fields and plaintexts of the frames it received.
 *
 * DevNonce (LoRaWAN 1.0.4 §6.2.2, 1.1 §6.2.2) is a counter that is written to flash
 * before the JoinRequest that uses it is released: a power cut at any instruction can
 * waste a DevNonce, never reuse one. The JoinNonce floor (a join-accept's JoinNonce must
 * be above the last accepted, 1.0.4 §6.2.3, 1.1 §6.2.3) is written before a session
 * starts. Both live in one record, rows 6 and 7 of the key store, written alternately
 * like the key slots: the valid record with the higher sequence number counts.
 */
#include <string.h>

#include "agent.h"

#define LW_MAGIC "LJN1"
#define LW_FORMAT 1
#define LW_FRAME_MAX 255 /* a PHYPayload */
#define LW_FHDR 8        /* MHDR | DevAddr | FCtrl | FCnt */
#define LW_JOIN_REQUEST_LEN 23
#define LW_UP_PREFIX 4 /* TxDr | TxCh | reserved(2) */

/* ------------------------------------------------------------- the nonce record */

void lorawan_calls_nonces_encode(const struct lw_nonces *n, uint8_t out[KS_LW_LEN])
{
	memset(out, 0, KS_LW_LEN);
	memcpy(out, LW_MAGIC, 4);
	out[4] = LW_FORMAT;
	agent_le32(out + 8, n->seq);
	agent_le32(out + 12, n->dev_nonce);
	agent_le32(out + 16, n->join_nonce_min);
	memcpy(out + 32, n->pkg_hash, 16);
	sha256(out, KS_LW_BODY, out + KS_LW_BODY);
}

bool lorawan_calls_nonces_decode(const uint8_t in[KS_LW_LEN], struct lw_nonces *n)
{
	uint8_t h[SHA256_LEN], zero = 0;

	memset(n, 0, sizeof(*n));
	if (memcmp(in, LW_MAGIC, 4) != 0 || in[4] != LW_FORMAT)
		return false;
	sha256(in, KS_LW_BODY, h);
	if (memcmp(h, in + KS_LW_BODY, SHA256_LEN) != 0)
		return false;
	for (int i = 5; i < 8; i++)
		zero |= in[i];
	for (int i = 20; i < 32; i++)
		zero |= in[i];
	for (int i = 48; i < KS_LW_BODY; i++)
		zero |= in[i];
	n->seq = agent_get_le32(in + 8);
	n->dev_nonce = agent_get_le32(in + 12);
	n->join_nonce_min = agent_get_le32(in + 16);
	if (zero || n->seq == 0 || n->dev_nonce > 0x10000u || n->join_nonce_min > 0x1000000u) {
		memset(n, 0, sizeof(*n));
		return false;
	}
	memcpy(n->pkg_hash, in + 32, 16);
	return true;
}

static void lw_load(struct agent *a)
{
	struct lw_nonces n;

	a->lw.row = -1;
	memset(&a->lw.n, 0, sizeof(a->lw.n));
	for (int i = 0; i < 2; i++) {
		hal_flash_read(KS_LW_ADDR(i), agent_row, KS_LW_LEN);
		if (lorawan_calls_nonces_decode(agent_row, &n) &&
		    (a->lw.row < 0 || n.seq > a->lw.n.seq)) {
			a->lw.n = n;
			a->lw.row = (int8_t)i;
		}
	}
	memset(agent_row, 0, sizeof(agent_row));
	a->lw.loaded = true;
}

/* Writes n (sequence one up) into the row that does not hold the current record, reads
 * it back, and only then makes it the current one; as keystore_commit. */
static int lw_commit(struct agent *a, struct lw_nonces *n)
{
	int target = a->lw.row == 0 ? 1 : 0;
	uint32_t addr = KS_LW_ADDR(target);
	struct lw_nonces back;
	int r;

	if (a->lw.row >= 0 && a->lw.n.seq == 0xFFFFFFFFu)
		return HAL_ERR_RANGE;
	n->seq = (a->lw.row >= 0 ? a->lw.n.seq : 0) + 1;
	memset(agent_row, 0, sizeof(agent_row));
	lorawan_calls_nonces_encode(n, agent_row);
	r = hal_flash_write_row(addr, agent_row);
	if (r == HAL_OK) {
		hal_flash_read(addr, agent_row, KS_LW_LEN);
		if (!lorawan_calls_nonces_decode(agent_row, &back) ||
		    memcmp(&back, n, sizeof(back)) != 0)
			r = HAL_ERR_SROM;
	}
	if (r != HAL_OK) {
		(void)hal_flash_erase_row(addr); /* a refused write must not count later */
	} else {
		a->lw.n = *n;
		a->lw.row = (int8_t)target;
	}
	memset(agent_row, 0, sizeof(agent_row));
	return r;
}

/* ------------------------------------------------------------------- helpers */

static bool lw_provisioned(const struct agent *a)
{
	return a->active >= 0 && a->cur.provisioned;
}

/* A pending request or a session belongs to the keys it was made with. */
static bool lw_same_keys(const struct agent *a, const uint8_t hash[16])
{
	return lw_provisioned(a) && memcmp(hash, a->cur.pkg_hash, 16) == 0;
}

/* An EUI of the key store (big-endian bytes, as in LPK1) as a number. */
static uint64_t lw_eui(const uint8_t be[8])
{
	return (uint64_t)agent_get_be32(be) << 32 | agent_get_be32(be + 4);
}

static uint32_t lw_le16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t lw_le24(const uint8_t *p)
{
	return lw_le16(p) | (uint32_t)p[2] << 16;
}

static void lw_session_wipe(struct lw_state *s)
{
	s->joined = false;
	ct_wipe(s->f_nwk, sizeof(s->f_nwk));
	ct_wipe(s->s_nwk, sizeof(s->s_nwk));
	ct_wipe(s->nwk_enc, sizeof(s->nwk_enc));
	ct_wipe(s->app_s, sizeof(s->app_s));
}

/* ------------------------------------------------------------------ the calls */

/* out: MHDR 0x00 | JoinEUI | DevEUI | DevNonce | MIC (23 bytes, as on the air). */
static uint32_t lw_join_request(struct agent *a, uint8_t *out, uint32_t *out_len)
{
	const uint8_t *root = a->cur.lorawan == 0x11 ? a->cur.keys + 16 : a->cur.keys;
	uint64_t join_eui, dev_eui;
	struct lw_nonces n;
	uint16_t dn;

	if (!lw_provisioned(a))
		return AGENT_ERR_NOT_PROVISIONED;
	if (a->lw.n.dev_nonce > 0xFFFFu)
		return AGENT_ERR_LW_DEV_NONCE;
	n = a->lw.n;
	dn = (uint16_t)n.dev_nonce;
	n.dev_nonce++;
	/* The DevNonce is spent once the flash says so, before anyone sees it. */
	if (lw_commit(a, &n) != HAL_OK)
		return AGENT_ERR_FLASH;
	join_eui = lw_eui(a->cur.join_eui);
	dev_eui = lw_eui(a->cur.dev_eui);
	out[0] = 0x00;
	for (int i = 0; i < 8; i++) {
		out[1 + i] = a->cur.join_eui[7 - i];
		out[9 + i] = a->cur.dev_eui[7 - i];
	}
	out[17] = (uint8_t)dn;
	out[18] = (uint8_t)(dn >> 8);
	lorawan_join_request_mic(root, 0x00, join_eui, dev_eui, dn, out + 19);
	/* Only the latest JoinRequest can be answered. */
	a->lw.pending = true;
	a->lw.dev_nonce = dn;
	memcpy(a->lw.pend_hash, a->cur.pkg_hash, 16);
	*out_len = LW_JOIN_REQUEST_LEN;
	return AGENT_OK;
}

/* Decrypts and verifies msg (a copy of in) for the device's version; sets *mode. The
 * 1.1 device tries the OptNeg form (JSIntKey over JoinReqType | JoinEUI | DevNonce |
 * ...) first, then the 1.0 form under NwkKey; the DLSettings OptNeg bit must agree with
 * the form that verified. */
static int lw_open_accept(struct agent *a, const uint8_t *in, uint8_t *msg, uint32_t len,
			  uint8_t *mode)
{
	const uint8_t *app = a->cur.keys, *nwk = a->cur.keys + 16;
	uint8_t js_int[16], js_enc[16];
	int r;

	memcpy(msg, in, len);
	if (a->cur.lorawan != 0x11) {
		*mode = 0x10;
		return lorawan_join_accept_open(app, app, 0, 0, 0, 0, msg, len);
	}
	lorawan11_js_keys(nwk, lw_eui(a->cur.dev_eui), js_int, js_enc);
	r = lorawan_join_accept_open(nwk, js_int, 1, 0xFF, lw_eui(a->cur.join_eui), a->lw.dev_nonce,
				     msg, len);
	ct_wipe(js_int, sizeof(js_int));
	ct_wipe(js_enc, sizeof(js_enc));
	*mode = 0x11;
	if (r == CRYPTO_OK && (msg[11] & 0x80))
		return CRYPTO_OK;
	memcpy(msg, in, len);
	*mode = 0x10;
	r = lorawan_join_accept_open(nwk, nwk, 0, 0, 0, 0, msg, len);
	if (r == CRYPTO_OK && (msg[11] & 0x80))
		r = CRYPTO_ERR_TAG; /* OptNeg set, but not the MIC that goes with it */
	return r;
}

/* in: the join-accept PHYPayload (17 or 33 bytes); out: mode | JoinNonce | NetID |
 * DevAddr | DLSettings | RxDelay | CFList (13 or 29 bytes), the decrypted fields. */
static uint32_t lw_join_accept(struct agent *a, const uint8_t *in, uint32_t len, uint8_t *out,
			       uint32_t *out_len)
{
	struct lw_state *s = &a->lw;
	uint8_t msg[33], mode = 0x10;
	struct lorawan10_skeys k10;
	struct lorawan11_skeys k11;
	struct lw_nonces n;
	uint32_t join_nonce, net_id, floor, st;

	memset(&k10, 0, sizeof(k10));
	memset(&k11, 0, sizeof(k11));
	if (!lw_provisioned(a))
		return AGENT_ERR_NOT_PROVISIONED;
	if (!s->pending || !lw_same_keys(a, s->pend_hash))
		return AGENT_ERR_LW_NO_JOIN;
	if (in[0] != 0x20)
		return AGENT_ERR_LW_FRAME; /* MType join-accept, Major LoRaWAN R1 */
	if (lw_open_accept(a, in, msg, len, &mode) != CRYPTO_OK) {
		st = AGENT_ERR_LW_MIC;
		goto done;
	}
	join_nonce = lw_le24(msg + 1);
	net_id = lw_le24(msg + 4);
	floor = memcmp(s->n.pkg_hash, a->cur.pkg_hash, 16) == 0 ? s->n.join_nonce_min : 0;
	if (join_nonce < floor) {
		st = AGENT_ERR_LW_JOIN_NONCE; /* an old join-accept played again */
		goto done;
	}
	n = s->n;
	n.join_nonce_min = join_nonce + 1;
	memcpy(n.pkg_hash, a->cur.pkg_hash, 16);
	if (lw_commit(a, &n) != HAL_OK) {
		st = AGENT_ERR_FLASH;
		goto done;
	}
	lw_session_wipe(s);
	if (mode == 0x11) {
		(void)lorawan11_derive(a->cur.keys + 16, a->cur.keys, join_nonce,
				       lw_eui(a->cur.join_eui), s->dev_nonce, &k11);
		memcpy(s->f_nwk, k11.f_nwk_s_int_key, 16);
		memcpy(s->s_nwk, k11.s_nwk_s_int_key, 16);
		memcpy(s->nwk_enc, k11.nwk_s_enc_key, 16);
		memcpy(s->app_s, k11.app_s_key, 16);
	} else {
		/* 1.0.x, or a 1.1 device answered in 1.0 form: everything from one root key
		 * (AppKey; NwkKey for the 1.1 device, 1.1 §6.2.3). */
		(void)lorawan10_derive(a->cur.lorawan == 0x11 ? a->cur.keys + 16 : a->cur.keys,
				       join_nonce, net_id, s->dev_nonce, &k10);
		memcpy(s->f_nwk, k10.nwk_s_key, 16);
		memcpy(s->s_nwk, k10.nwk_s_key, 16);
		memcpy(s->nwk_enc, k10.nwk_s_key, 16);
		memcpy(s->app_s, k10.app_s_key, 16);
	}
	s->joined = true;
	s->pending = false;
	s->up_done = false;
	s->mode = mode;
	memcpy(s->sess_hash, a->cur.pkg_hash, 16);
	s->dev_addr = agent_get_le32(msg + 7);
	s->fcnt_up = 0;
	s->fcnt_down[0] = s->fcnt_down[1] = 0;
	s->down_seen[0] = s->down_seen[1] = false;
	s->conf_up = s->conf_down = false;
	out[0] = mode;
	memcpy(out + 1, msg + 1, len - 5);
	*out_len = len - 4;
	st = AGENT_OK;
done:
	ct_wipe(msg, sizeof(msg));
	ct_wipe(&k10, sizeof(k10));
	ct_wipe(&k11, sizeof(k11));
	return st;
}

/* The frame header checks UPLINK and DOWNLINK share: MType, Major and RFU bits, DevAddr,
 * FOpts (1.1 FOpts are encrypted, which these calls do not do: MAC commands go in FPort
 * 0, docs/protocols.md), FPort 0 with FOpts. flen excludes any MIC. *hdr: where FPort
 * is (== flen: no FPort). */
static uint32_t lw_frame_check(const struct lw_state *s, const uint8_t *f, uint32_t flen,
			       uint8_t mt_a, uint8_t mt_b, uint32_t *hdr)
{
	uint8_t mt = f[0] >> 5, fopts = f[5] & 0x0F;

	if ((mt != mt_a && mt != mt_b) || (f[0] & 0x1F) != 0)
		return AGENT_ERR_LW_FRAME;
	if (agent_get_le32(f + 1) != s->dev_addr)
		return AGENT_ERR_LW_FRAME;
	*hdr = LW_FHDR + fopts;
	if (*hdr > flen || (fopts && s->mode == 0x11))
		return AGENT_ERR_LW_FRAME;
	if (*hdr < flen && f[*hdr] == 0 && fopts)
		return AGENT_ERR_LW_FRAME; /* MAC commands in both places */
	return AGENT_OK;
}

/* buf: TxDr | TxCh | 0 | 0 | frame (MHDR .. FRMPayload, plaintext, FCnt field ignored),
 * len bytes; becomes FCntUp(4) | PHYPayload (the frame, encrypted, with its MIC). */
static uint32_t lw_uplink(struct agent *a, uint8_t *buf, uint32_t len, uint32_t *out_len)
{
	struct lw_state *s = &a->lw;
	uint8_t *f = buf + LW_UP_PREFIX, tx_dr = buf[0], tx_ch = buf[1];
	uint32_t flen = len - LW_UP_PREFIX, hdr, fcnt, st, conf;

	if (!s->joined || !lw_same_keys(a, s->sess_hash))
		return AGENT_ERR_LW_NO_SESSION;
	if (buf[2] || buf[3])
		return AGENT_ERR_REQUEST;
	if ((st = lw_frame_check(s, f, flen, 2, 4, &hdr)) != AGENT_OK)
		return st;
	if (s->up_done)
		return AGENT_ERR_LW_FCNT;
	fcnt = s->fcnt_up;
	f[6] = (uint8_t)fcnt;
	f[7] = (uint8_t)(fcnt >> 8);
	if (hdr < flen)
		(void)lorawan_frm_crypt(f[hdr] == 0 ? s->nwk_enc : s->app_s, 0, s->dev_addr, fcnt,
					f + hdr + 1, flen - hdr - 1);
	if (s->mode == 0x11) {
		conf = (f[5] & 0x20) && s->conf_down ? s->conf_down_fcnt : 0;
		(void)lorawan11_uplink_mic(s->s_nwk, s->f_nwk, (uint16_t)conf, tx_dr, tx_ch,
					   s->dev_addr, fcnt, f, flen, f + flen);
	} else {
		(void)lorawan10_frame_mic(s->f_nwk, 0, s->dev_addr, fcnt, f, flen, f + flen);
	}
	/* The 1.1 ACK MICs name the last confirmed frame of the other side. */
	if (f[5] & 0x20)
		s->conf_down = false; /* acknowledged */
	if (f[0] >> 5 == 4) {
		s->conf_up = true;
		s->conf_up_fcnt = fcnt;
	}
	if (fcnt == 0xFFFFFFFFu)
		s->up_done = true;
	s->fcnt_up = fcnt + 1;
	agent_le32(buf, fcnt);
	*out_len = LW_UP_PREFIX + flen + LORAWAN_MIC_LEN;
	return AGENT_OK;
}

static bool lw_down_mic_ok(const struct lw_state *s, const uint8_t *f, uint32_t flen, uint32_t fcnt)
{
	uint8_t m[LORAWAN_MIC_LEN];
	uint32_t conf = (f[5] & 0x20) && s->conf_up ? s->conf_up_fcnt : 0;

	if (s->mode == 0x11)
		(void)lorawan11_downlink_mic(s->s_nwk, (uint16_t)conf, s->dev_addr, fcnt, f, flen,
					     m);
	else
		(void)lorawan10_frame_mic(s->f_nwk, 1, s->dev_addr, fcnt, f, flen, m);
	return ct_memcmp(m, f + flen, LORAWAN_MIC_LEN) == 0;
}

/* buf + 4: the downlink PHYPayload, len bytes; becomes FCntDown(4) | the frame without
 * its MIC, FRMPayload decrypted. */
static uint32_t lw_downlink(struct agent *a, uint8_t *buf, uint32_t len, uint32_t *out_len)
{
	struct lw_state *s = &a->lw;
	uint8_t *f = buf + 4;
	uint32_t flen = len - LORAWAN_MIC_LEN, hdr, st, c, fcnt;

	if (!s->joined || !lw_same_keys(a, s->sess_hash))
		return AGENT_ERR_LW_NO_SESSION;
	if ((st = lw_frame_check(s, f, flen, 3, 5, &hdr)) != AGENT_OK)
		return st;
	/* 1.1 counts network (FPort 0 or none) and application downlinks apart. */
	c = s->mode == 0x11 && hdr < flen && f[hdr] != 0;
	fcnt = (s->fcnt_down[c] & 0xFFFF0000u) | lw_le16(f + 6);
	if (s->down_seen[c] && fcnt <= s->fcnt_down[c]) {
		if (lw_down_mic_ok(s, f, flen, fcnt))
			return AGENT_ERR_LW_FCNT; /* a frame already received: a replay */
		if (s->fcnt_down[c] >= 0xFFFF0000u)
			return AGENT_ERR_LW_FCNT;
		fcnt += 0x10000u; /* the 16 bits on the air wrapped */
	}
	if (!lw_down_mic_ok(s, f, flen, fcnt))
		return AGENT_ERR_LW_MIC;
	if (hdr < flen)
		(void)lorawan_frm_crypt(f[hdr] == 0 ? s->nwk_enc : s->app_s, 1, s->dev_addr, fcnt,
					f + hdr + 1, flen - hdr - 1);
	s->fcnt_down[c] = fcnt;
	s->down_seen[c] = true;
	if (f[5] & 0x20)
		s->conf_up = false;
	if (f[0] >> 5 == 5) {
		s->conf_down = true;
		s->conf_down_fcnt = fcnt;
	}
	agent_le32(buf, fcnt);
	*out_len = 4 + flen;
	return AGENT_OK;
}

uint32_t lorawan_calls_out_max(uint8_t op)
{
	switch (op) {
	case AGENT_OP_LW_JOIN_REQUEST:
		return LW_JOIN_REQUEST_LEN;
	case AGENT_OP_LW_JOIN_ACCEPT:
		return 29;
	default:
		return 4 + LW_FRAME_MAX;
	}
}

uint32_t lorawan_calls_run(struct agent *a, uint8_t op, uint32_t in_addr, uint32_t in_len,
			   uint32_t out_addr, uint32_t *out_len)
{
	/* One copy of the input, in the agent's RAM; the output is built in it. */
	uint8_t buf[4 + LW_FRAME_MAX];
	uint32_t st = AGENT_ERR_REQUEST;

	*out_len = 0;
	if (!a->lw.loaded)
		lw_load(a);
	/* Keys installed since: what was made with the old ones is gone, keys and all. */
	if (a->lw.joined && !lw_same_keys(a, a->lw.sess_hash))
		lw_session_wipe(&a->lw);
	if (a->lw.pending && !lw_same_keys(a, a->lw.pend_hash))
		a->lw.pending = false;
	switch (op) {
	case AGENT_OP_LW_JOIN_REQUEST:
		if (in_len == 0)
			st = lw_join_request(a, buf, out_len);
		break;
	case AGENT_OP_LW_JOIN_ACCEPT:
		if (in_len == 17 || in_len == 33) {
			hal_sram_read(in_addr, buf, in_len);
			st = lw_join_accept(a, buf, in_len, buf + 33, out_len);
			memmove(buf, buf + 33, *out_len);
		}
		break;
	case AGENT_OP_LW_UPLINK:
		if (in_len >= LW_UP_PREFIX + LW_FHDR &&
		    in_len <= LW_UP_PREFIX + LW_FRAME_MAX - LORAWAN_MIC_LEN) {
			hal_sram_read(in_addr, buf, in_len);
			st = lw_uplink(a, buf, in_len, out_len);
		}
		break;
	case AGENT_OP_LW_DOWNLINK:
		if (in_len >= LW_FHDR + LORAWAN_MIC_LEN && in_len <= LW_FRAME_MAX) {
			hal_sram_read(in_addr, buf + 4, in_len);
			st = lw_downlink(a, buf, in_len, out_len);
		}
		break;
	default:
		break;
	}
	if (st == AGENT_OK)
		hal_sram_write(out_addr, buf, *out_len);
	else
		*out_len = 0;
	ct_wipe(buf, sizeof(buf));
	return st;
}
