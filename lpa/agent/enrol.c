/*
 * enrol.c — enrolment of a chip whose DIK nobody certified (docs/protocols.md,
 * "Enrolment"): ENROL answers the LPE1 request (UID, silicon ID and DIK public key,
 * signed by the DIK: the chip holds the key it asks a certificate for), STORE_CERT takes
 * the certificate the factory CA issued and keeps it in the key store's rows 6-7.
 *
 * The agent cannot check the CA's signature (it holds no CA key), and need not: a
 * certificate is only as good as the chain the KMS checks. What only the agent can check
 * is that the certificate is for its own DIK, so that a station (or an attacker on the
 * wire) cannot make the chip present someone else's certified key: that it does, by
 * walking the DER to the subjectPublicKeyInfo and comparing the key byte for byte.
 *
 * The identity record (rows 2-5) is never rewritten: a power cut while the certificate
 * record is written tears only that record, whose hash then fails, and the chip is
 * simply not enrolled yet (the KMS answers the same DIK with the same certificate).
 */
#include <string.h>

#include "agent.h"

#define CERT_MAGIC "LCR1"
#define CERT_FORMAT 1
#define CERT_REC_MAX (2 * HAL_ROW_SIZE)

void enrol_request(const struct agent *a, uint8_t out[LPE1_LEN])
{
	memcpy(out, "LPE1", 4);
	out[4] = 1; /* format */
	out[5] = 0; /* reserved */
	out[6] = (uint8_t)(AGENT_VERSION >> 8);
	out[7] = (uint8_t)AGENT_VERSION;
	memcpy(out + 8, a->uid, 8);
	agent_be32(out + 16, a->silicon_id);
	memcpy(out + 20, a->dik_pub, P256_PUB_LEN);
	package_sign(a, out, LPE1_SIGNED);
}

/* One DER header at *off (below end): the tag must be tag; *len the content's length.
 * Short form, or long form of one or two bytes: certificates are under 64 KiB. */
static bool enrol_der(const uint8_t *p, uint32_t end, uint32_t *off, uint8_t tag, uint32_t *len)
{
	uint32_t o = *off, n;

	if (o + 2 > end || p[o] != tag)
		return false;
	n = p[o + 1];
	o += 2;
	if (n == 0x81) {
		if (o + 1 > end || p[o] < 0x80)
			return false;
		n = p[o++];
	} else if (n == 0x82) {
		if (o + 2 > end || p[o] == 0)
			return false;
		n = (uint32_t)p[o] << 8 | p[o + 1];
		o += 2;
	} else if (n > 0x7F) {
		return false;
	}
	if (n > end - o)
		return false;
	*off = o;
	*len = n;
	return true;
}

/* Skips one element with the given tag. */
static bool enrol_der_skip(const uint8_t *p, uint32_t end, uint32_t *off, uint8_t tag)
{
	uint32_t n;

	if (!enrol_der(p, end, off, tag, &n))
		return false;
	*off += n;
	return true;
}

/*
 * Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serial
 * INTEGER, signature SEQUENCE, issuer SEQUENCE, validity SEQUENCE, subject SEQUENCE,
 * subjectPublicKeyInfo SEQUENCE { algorithm SEQUENCE, subjectPublicKey BIT STRING }, ...
 * }, ... }. The outer SEQUENCE must span the input exactly. The key: *key points at the
 * 65 bytes after the BIT STRING's zero unused-bits byte; false for anything else.
 */
static bool enrol_cert_key(const uint8_t *c, uint32_t len, const uint8_t **key)
{
	uint32_t off = 0, n, tbs_end, spki_end;

	if (!enrol_der(c, len, &off, 0x30, &n) || off + n != len)
		return false;
	if (!enrol_der(c, len, &off, 0x30, &n))
		return false;
	tbs_end = off + n;
	if (off < tbs_end && c[off] == 0xA0 && !enrol_der_skip(c, tbs_end, &off, 0xA0))
		return false;
	if (!enrol_der_skip(c, tbs_end, &off, 0x02))
		return false;
	for (int i = 0; i < 4; i++) /* signature, issuer, validity, subject */
		if (!enrol_der_skip(c, tbs_end, &off, 0x30))
			return false;
	if (!enrol_der(c, tbs_end, &off, 0x30, &n))
		return false;
	spki_end = off + n;
	if (!enrol_der_skip(c, spki_end, &off, 0x30) || !enrol_der(c, spki_end, &off, 0x03, &n))
		return false;
	if (n != 1 + P256_PUB_LEN || off + n != spki_end || c[off] != 0)
		return false;
	*key = c + off + 1;
	return true;
}

/* The record's length in flash: header, certificate padded to 4, SHA-256. */
static uint32_t enrol_rec_len(uint32_t cert_len)
{
	return KS_CERT_HDR + ((cert_len + 3) & ~3u) + SHA256_LEN;
}

/* Writes rows of rec (len bytes) from KS_CERT_ADDR and reads each back. */
static bool enrol_write(const uint8_t *rec, uint32_t len)
{
	bool ok = true;

	for (uint32_t off = 0; ok && off < len; off += HAL_ROW_SIZE) {
		uint32_t n = len - off < HAL_ROW_SIZE ? len - off : HAL_ROW_SIZE;

		memset(agent_row, 0, HAL_ROW_SIZE);
		memcpy(agent_row, rec + off, n);
		ok = hal_flash_write_row(KS_CERT_ADDR + off, agent_row) == HAL_OK;
		if (ok) {
			hal_flash_read(KS_CERT_ADDR + off, agent_row, n);
			ok = memcmp(agent_row, rec + off, n) == 0;
		}
	}
	memset(agent_row, 0, HAL_ROW_SIZE);
	return ok;
}

/* Whether the stored certificate is these bytes. */
static bool enrol_same(const struct agent *a, const uint8_t *c, uint32_t len)
{
	uint8_t chunk[64];

	if (len != a->cert_len)
		return false;
	for (uint32_t off = 0; off < len; off += sizeof(chunk)) {
		uint32_t n = len - off < sizeof(chunk) ? len - off : sizeof(chunk);

		hal_flash_read(a->cert_addr + off, chunk, n);
		if (memcmp(chunk, c + off, n) != 0)
			return false;
	}
	return true;
}

uint32_t enrol_store_cert(struct agent *a, uint32_t in_addr, uint32_t in_len)
{
	/* The one copy of the input, already in the record's layout: the caller may change
	 * the block while we work. Public data: no wipe needed. */
	uint8_t rec[CERT_REC_MAX];
	const uint8_t *key;
	uint32_t padded = (in_len + 3) & ~3u;

	if (in_len < 1 || in_len > KS_CERT_MAX)
		return AGENT_ERR_REQUEST;
	memset(rec, 0, sizeof(rec));
	hal_sram_read(in_addr, rec + KS_CERT_HDR, in_len);
	if (!enrol_cert_key(rec + KS_CERT_HDR, in_len, &key))
		return AGENT_ERR_REQUEST;
	if (memcmp(key, a->dik_pub, P256_PUB_LEN) != 0)
		return AGENT_ERR_CERT_KEY;
	if (a->cert_len)
		return enrol_same(a, rec + KS_CERT_HDR, in_len) ? AGENT_OK : AGENT_ERR_CERTIFIED;
	memcpy(rec, CERT_MAGIC, 4);
	rec[4] = CERT_FORMAT;
	rec[6] = (uint8_t)in_len;
	rec[7] = (uint8_t)(in_len >> 8);
	sha256(rec, KS_CERT_HDR + padded, rec + KS_CERT_HDR + padded);
	if (!enrol_write(rec, enrol_rec_len(in_len)))
		return AGENT_ERR_FLASH; /* torn or unwritten: its hash fails, nothing changed */
	a->cert_len = (uint16_t)in_len;
	a->cert_addr = KS_CERT_ADDR + KS_CERT_HDR;
	return AGENT_OK;
}

void enrol_load_cert(struct agent *a)
{
	uint8_t rec[CERT_REC_MAX], h[SHA256_LEN];
	const uint8_t *key;
	uint32_t len, padded;

	hal_flash_read(KS_CERT_ADDR, rec, KS_CERT_HDR);
	len = (uint32_t)rec[6] | (uint32_t)rec[7] << 8;
	if (memcmp(rec, CERT_MAGIC, 4) != 0 || rec[4] != CERT_FORMAT || rec[5] != 0 || len < 1 ||
	    len > KS_CERT_MAX)
		return;
	padded = (len + 3) & ~3u;
	hal_flash_read(KS_CERT_ADDR + KS_CERT_HDR, rec + KS_CERT_HDR, padded + SHA256_LEN);
	sha256(rec, KS_CERT_HDR + padded, h);
	/* A record left by an earlier DIK (a torn identity regenerated) certifies another
	 * key: the chip is not enrolled. */
	if (memcmp(h, rec + KS_CERT_HDR + padded, SHA256_LEN) != 0 ||
	    !enrol_cert_key(rec + KS_CERT_HDR, len, &key) ||
	    memcmp(key, a->dik_pub, P256_PUB_LEN) != 0)
		return;
	a->cert_len = (uint16_t)len;
	a->cert_addr = KS_CERT_ADDR + KS_CERT_HDR;
}
