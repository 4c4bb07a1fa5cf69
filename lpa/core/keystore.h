/*
 * keystore.h — the secure agent's key store as a flash dump (docs/protocols.md, "Key
 * store"): the 4 KiB at 0x14007000 that the firmware (lpa/agent/keystore.c,
 * identity.c) writes. For the simulator's --state oracle, QA tools and the tests; the
 * firmware has its own implementation, and the tests hold each to the other.
 */
#ifndef LPA_CORE_KEYSTORE_H
#define LPA_CORE_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "lpa/core/lpa-core.h"

#define LPA_KS_BASE 0x14007000u
#define LPA_KS_SIZE 4096u
#define LPA_KS_ROW 512u
#define LPA_KS_SLOT_LEN 128u
#define LPA_KS_ID_OFF 1024u /* rows 2-5 */
#define LPA_KS_ID_MAX (108u + LPA_LPI1_MAX_CERT + 32u)
#define LPA_KS_ORIGIN_CHIP 1
#define LPA_KS_ORIGIN_FACTORY 2

struct lpa_ks_slot {
	int status; /* LPA_OK when valid, else why not (lpa_keystore_slot_parse) */
	uint32_t seq, counter;
	uint8_t lorawan;
	uint64_t dev_eui, join_eui;
	uint8_t keys[32]; /* AppKey || NwkKey */
	uint8_t pkg_hash[16];
};

struct lpa_ks_identity {
	int status; /* LPA_OK when valid */
	uint8_t origin;
	uint8_t dik[32];
	uint8_t dik_pub[LPA_P256_PUB_LEN];
	uint16_t cert_len;
	uint8_t cert[LPA_LPI1_MAX_CERT];
};

struct lpa_keystore {
	struct lpa_ks_slot slot[2];
	int active;            /* the valid slot with the highest sequence, -1 when none */
	uint32_t last_counter; /* the highest counter of any valid slot (0 when none) */
	struct lpa_ks_identity id;
};

/*
 * One key slot (at least 128 bytes). LPA_OK, or the first failing rule in this order:
 * magic LPA_ERR_MAGIC (erased rows read 0x00), format LPA_ERR_VERSION, SHA-256
 * LPA_ERR_MISMATCH, reserved bytes LPA_ERR_RESERVED, LoRaWAN version LPA_ERR_LORAWAN,
 * provisioned flag LPA_ERR_STATE, sequence 0 LPA_ERR_STALE; a shorter buffer
 * LPA_ERR_LENGTH. Fields are filled only when valid.
 */
int lpa_keystore_slot_parse(const uint8_t *rec, size_t len, struct lpa_ks_slot *s);
/*
 * The identity record (the bytes from its start; at most LPA_KS_ID_MAX are read).
 * LPA_OK, or in this order: magic LPA_ERR_MAGIC, format LPA_ERR_VERSION, origin
 * LPA_ERR_STATE, certificate length over 1024 LPA_ERR_CERT, reserved LPA_ERR_RESERVED,
 * a record longer than len LPA_ERR_LENGTH, SHA-256 LPA_ERR_MISMATCH, public key not a
 * curve point LPA_ERR_KEY.
 */
int lpa_keystore_identity_parse(const uint8_t *rec, size_t len, struct lpa_ks_identity *id);
/*
 * A whole dump: len must be LPA_KS_SIZE (LPA_ERR_LENGTH), otherwise LPA_OK with each
 * record's own status, the active slot and the anti-rollback counter as the firmware
 * computes them at boot. ks holds secrets: lpa_keystore_wipe it.
 */
int lpa_keystore_parse(const uint8_t *dump, size_t len, struct lpa_keystore *ks);
void lpa_keystore_wipe(struct lpa_keystore *ks);

/* Encoders (the simulator's chip manufacture, tests). The identity record is written
 * at LPA_KS_BASE + LPA_KS_ID_OFF; *out_len = 108 + N rounded up to 4 + 32. */
int lpa_keystore_identity_encode(uint8_t origin, const uint8_t dik[32],
				 const uint8_t dik_pub[LPA_P256_PUB_LEN], const uint8_t *cert,
				 size_t cert_len, uint8_t *out, size_t cap, size_t *out_len);
/* seq must be >= 1, lorawan 0x10 or 0x11. */
int lpa_keystore_slot_encode(const struct lpa_ks_slot *s, uint8_t out[LPA_KS_SLOT_LEN]);

#endif
