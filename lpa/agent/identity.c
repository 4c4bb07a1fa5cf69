/*
 * identity.c — who the chip is: the unique ID and silicon ID from SFlash, the KMS
 * package-signing key from the SFlash public-key region, and the device identity key
 * (DIK) from the key store's identity record (docs/protocols.md, "Key store").
 *
 * A chip whose manufacture placed an identity record (origin FACTORY: a DIK the device
 * identity CA certified, with its certificate) keeps it. A chip without a valid record
 * generates its DIK from the TRNG on the first boot and stores it (origin CHIP, no
 * certificate yet). The private key never leaves the key store and the agent's RAM.
 */
#include <string.h>

#include "agent.h"

#define ID_MAGIC "LID1"
#define ID_FORMAT 1
#define SFLASH_DIE 0x600u

void identity_facts(struct agent *a)
{
	uint8_t d[11], id[14], k[8];

	/* The UID as Cy_SysLib_GetUniqueId builds it, least significant byte first: lot
	 * (3 bytes), wafer, x, y, sort, then the minor revision's bit 0 and the year's 7
	 * bits; day and month are not part of it. Stored big-endian, as LPK1 carries it;
	 * bytes, not a uint64_t, so that no libgcc shift helper is needed. */
	hal_sflash_read(SFLASH_DIE, d, sizeof(d));
	for (int i = 0; i < 7; i++)
		a->uid[7 - i] = d[i];
	a->uid[0] = (uint8_t)((d[7] & 1) | (d[10] & 0x7F) << 1);
	/* SI_REVISION_ID +0x01, SILICON_ID +0x02 (16 bits), FAMILY_ID +0x0C (16 bits). */
	hal_sflash_read(0, id, sizeof(id));
	a->silicon_id = (uint32_t)(id[2] | id[3] << 8) << 16 | (uint32_t)id[1] << 8 | id[12];
	/* The KMS key: "LPKP", key id, SEC1 point; anything else means no trusted key. */
	hal_sflash_read(AGENT_KMS_KEY_OFF, k, sizeof(k));
	hal_sflash_read(AGENT_KMS_KEY_OFF + 8, a->kms_pub, P256_PUB_LEN);
	a->kms_ok = memcmp(k, "LPKP", 4) == 0 &&
		    p256_public_check(a->kms_pub, P256_PUB_LEN) == CRYPTO_OK;
}

/* Bytes of the record before its hash: the header and the certificate, padded to 4. */
static uint32_t identity_body_len(uint32_t cert_len)
{
	return KS_ID_HDR + ((cert_len + 3) & ~3u);
}

/* Reads and checks the record in flash; fills the identity fields of a when valid. */
static bool identity_read(struct agent *a)
{
	struct sha256 c;
	uint8_t h[SHA256_LEN], *r = agent_row, zero;
	uint32_t cert_len, body, off;
	bool ok = false;

	hal_flash_read(KS_ID_ADDR, r, KS_ID_HDR);
	cert_len = (uint32_t)r[6] | (uint32_t)r[7] << 8;
	zero = r[105] | r[106] | r[107];
	if (memcmp(r, ID_MAGIC, 4) != 0 || r[4] != ID_FORMAT ||
	    (r[5] != KS_ID_ORIGIN_CHIP && r[5] != KS_ID_ORIGIN_FACTORY) ||
	    cert_len > LPI1_MAX_CERT || zero)
		goto done;
	body = identity_body_len(cert_len);
	sha256_init(&c);
	for (off = 0; off < body; off += HAL_ROW_SIZE) {
		uint32_t n = body - off < HAL_ROW_SIZE ? body - off : HAL_ROW_SIZE;

		hal_flash_read(KS_ID_ADDR + off, r, n);
		sha256_update(&c, r, n);
	}
	sha256_final(&c, h);
	hal_flash_read(KS_ID_ADDR + body, r, SHA256_LEN);
	if (memcmp(h, r, SHA256_LEN) != 0)
		goto done;
	hal_flash_read(KS_ID_ADDR, r, KS_ID_HDR);
	if (p256_public_check(r + 40, P256_PUB_LEN) != CRYPTO_OK)
		goto done;
	memcpy(a->dik, r + 8, P256_PRIV_LEN);
	memcpy(a->dik_pub, r + 40, P256_PUB_LEN);
	a->cert_len = (uint16_t)cert_len;
	a->cert_addr = KS_ID_ADDR + KS_ID_HDR;
	a->origin = r[5];
	ok = true;
done:
	ct_wipe(agent_row, sizeof(agent_row));
	return ok;
}

/* A new DIK from the TRNG, written as an origin-CHIP record without a certificate. */
static bool identity_generate(void)
{
	uint8_t rnd[96], *r = agent_row;
	int ok;

	memset(r, 0, HAL_ROW_SIZE);
	ok = hal_trng(rnd, sizeof(rnd)) == HAL_OK &&
	     p256_keygen(rnd, sizeof(rnd), r + 8, r + 40) == CRYPTO_OK;
	ct_wipe(rnd, sizeof(rnd));
	if (ok) {
		memcpy(r, ID_MAGIC, 4);
		r[4] = ID_FORMAT;
		r[5] = KS_ID_ORIGIN_CHIP;
		sha256(r, KS_ID_HDR, r + KS_ID_HDR);
		ok = hal_flash_write_row(KS_ID_ADDR, r) == HAL_OK;
	}
	ct_wipe(agent_row, sizeof(agent_row));
	return ok;
}

bool identity_load(struct agent *a)
{
	/* No record, or a torn one (the power cut during the first boot's write): a new
	 * key. Until one is stored every call answers BUSY and the next call retries. */
	if (!identity_read(a) && !(identity_generate() && identity_read(a)))
		return false;
	if (a->cert_len == 0)
		enrol_load_cert(a); /* enrolled after its first boot (enrol.c) */
	return true;
}
