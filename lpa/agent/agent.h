/*
 * agent.h — the secure agent's portable core: the IPC calls of docs/protocols.md
 * ("Secure-agent calls over IPC"), the key store (docs/protocols.md, "Key store"), the
 * device identity key. The same sources build for the Cortex-M0+ (with hal-psoc6.c)
 * and for the host tests (with tests/agent/hal-host.c).
 */
#ifndef LPA_AGENT_AGENT_H
#define LPA_AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent-abi.h"
#include "crypto.h"
#include "hal.h"

#ifndef AGENT_VERSION
#define AGENT_VERSION 0x0100 /* major.minor, as GET_STATUS and LPI1 report it */
#endif

/* The parts an image is built for (the image-info block names it; AGENT_PART selects
 * one in the part-specific files). Macros, not an enum: #if compares them. */
#define AGENT_PART_CY8C6XX7 1 /* PSoC 6A-BLE2, CPUSS v1 */
#define AGENT_PART_CY8C6XXA 2 /* PSoC 6A-2M, CPUSS v2 */

/* Formats (docs/protocols.md). */
#define LPK1_LEN 237
#define LPR1_LEN 120
#define LPP1_LEN 116
#define LPI1_HDR_LEN 91
#define LPI1_MAX_CERT 1024
#define STATUS_LEN 16
#define STATUS_CERTIFIED 0x01 /* GET_STATUS byte 3: the DIK has a certificate */
#define PROVE_IN_LEN 24
#define LPE1_LEN 149
#define LPE1_SIGNED 85

/* The SFlash public-key region: "LPKP", key id (big-endian), SEC1 public key. */
#define AGENT_KMS_KEY_OFF 0x5A00u

/*
 * The key store: 4 KiB at the end of work flash, eight 512-byte rows (docs/protocols.md,
 * "Key store"). Rows 0 and 1 are the two key slots; rows 2-5 the identity record.
 */
#define KS_BASE 0x14007000u
#define KS_SIZE 0x1000u
/* The SMPU region that closes the key store to everyone but the agent: 8 KiB, the key
 * store and the 4 KiB below it, which hold the LoRaWAN nonce rows (KS_LW_ADDR); a region
 * is a power of two in size and aligned to it. */
#define KS_PROT_BASE 0x14006000u
#define KS_PROT_LOG2 13
#define KS_SLOT_ADDR(n) (KS_BASE + (uint32_t)(n)*HAL_ROW_SIZE)
#define KS_ID_ADDR (KS_BASE + 2 * HAL_ROW_SIZE)
#define KS_ID_ROWS 4u
#define KS_SLOT_LEN 128
#define KS_SLOT_BODY 96
#define KS_ID_HDR 108
#define KS_ID_ORIGIN_CHIP 1    /* generated from the TRNG on the chip's first boot */
#define KS_ID_ORIGIN_FACTORY 2 /* placed by the chip's manufacture, with its certificate */
/* Rows 6-7: the certificate record of an enrolled chip (enrol.c). */
#define KS_CERT_ADDR (KS_BASE + 6 * HAL_ROW_SIZE)
#define KS_CERT_HDR 8
#define KS_CERT_MAX 984 /* 8 + 984 + 32 = the two rows */
/* Rows N0 and N1, just below the key store (inside its SMPU region, KS_PROT_*): the
 * LoRaWAN nonce record (DevNonce, JoinNonce), alternating. */
#define KS_LW_ADDR(n) (KS_BASE - 2u * HAL_ROW_SIZE + (uint32_t)(n)*HAL_ROW_SIZE)
#define KS_LW_LEN 96
#define KS_LW_BODY 64

/* One key slot as the agent holds it. */
struct ks_slot {
	uint32_t seq;
	uint32_t counter;
	uint8_t lorawan; /* 0x10 or 0x11 */
	uint8_t provisioned;
	uint8_t dev_eui[8], join_eui[8]; /* big-endian, as in LPK1 */
	uint8_t keys[32];                /* AppKey || NwkKey */
	uint8_t pkg_hash[16];
};

/* The LoRaWAN nonce record as the agent holds it (docs/protocols.md, "Key store"). */
struct lw_nonces {
	uint32_t seq;
	uint32_t dev_nonce;      /* the next DevNonce to use; 0x10000: all used */
	uint32_t join_nonce_min; /* a join-accept's JoinNonce must be at least this */
	uint8_t pkg_hash[16];    /* ... for the keys of this package (else 0) */
};

/* The LoRaWAN state of lorawan-calls.c: the nonce record, the pending JoinRequest,
 * the session. Keys stay here, in the agent's RAM: a reboot ends the session. */
struct lw_state {
	bool loaded; /* the nonce record has been read */
	int8_t row;  /* the nonce row holding n, -1: none */
	struct lw_nonces n;
	bool pending, joined, up_done;
	uint8_t mode; /* the session's: 0x10 (1.0.x MICs and keys) or 0x11 */
	uint16_t dev_nonce;
	uint8_t pend_hash[16], sess_hash[16];     /* the packages they were made with */
	uint32_t dev_addr, fcnt_up, fcnt_down[2]; /* [0] (N)FCntDown, [1] AFCntDown (1.1) */
	bool down_seen[2], conf_up, conf_down;
	uint32_t conf_up_fcnt, conf_down_fcnt;                /* for the 1.1 ACK MICs */
	uint8_t f_nwk[16], s_nwk[16], nwk_enc[16], app_s[16]; /* 1.0.x: NwkSKey x 3 */
};

struct agent {
	const struct hal_part *part;
	bool ready; /* an identity exists: calls are served */
	int active; /* the slot holding cur, -1 when none is valid */
	struct ks_slot cur;
	uint32_t last_counter; /* the highest counter of any valid slot */
	/* identity */
	uint8_t dik[P256_PRIV_LEN];
	uint8_t dik_pub[P256_PUB_LEN];
	uint16_t cert_len;  /* the certificate stays in flash: */
	uint32_t cert_addr; /* after the identity record's header or the certificate record's */
	uint8_t origin;
	uint8_t uid[8]; /* big-endian, as LPK1 and LPI1 carry it */
	uint32_t silicon_id;
	bool kms_ok; /* the SFlash public-key region holds a valid P-256 key */
	uint8_t kms_pub[P256_PUB_LEN];
	struct lw_state lw;
};

/* boot.c — everything before the loop: key store, identity, facts. */
void agent_boot(struct agent *a);

/* mailbox.c — one turn of the loop: serves a pending call, if any (true if it did). */
bool agent_poll(struct agent *a);
/* Serves the call whose parameter block is at block (exposed for the tests). */
void agent_serve(struct agent *a, uint32_t block);

/* calls.c — the four calls; out has room for AGENT_DATA_MAX bytes but a call writes
 * its (public) output only after it has consumed its input. */
uint32_t calls_get_identity(struct agent *a, uint32_t out, uint32_t *out_len);
uint32_t calls_install(struct agent *a, const uint8_t *in, uint8_t out[LPR1_LEN]);
uint32_t calls_prove(struct agent *a, const uint8_t in[PROVE_IN_LEN], uint8_t out[LPP1_LEN]);
void calls_status(const struct agent *a, uint8_t out[STATUS_LEN]);

/* enrol.c — ENROL and STORE_CERT (docs/protocols.md, "Enrolment"). */
void enrol_request(const struct agent *a, uint8_t out[LPE1_LEN]);
/* The certificate of in_len bytes at in_addr (SRAM), copied once, checked, stored. */
uint32_t enrol_store_cert(struct agent *a, uint32_t in_addr, uint32_t in_len);
/* At boot, for an identity without a certificate: the certificate record, when it is
 * valid and certifies this DIK. */
void enrol_load_cert(struct agent *a);
/* lorawan-calls.c — JOIN_REQUEST, JOIN_ACCEPT, UPLINK, DOWNLINK: reads its input from
 * in_addr, writes its output to out_addr (mailbox.c has checked both spans). */
uint32_t lorawan_calls_run(struct agent *a, uint8_t op, uint32_t in_addr, uint32_t in_len,
			   uint32_t out_addr, uint32_t *out_len);
uint32_t lorawan_calls_out_max(uint8_t op);
/* The nonce record (shared with tests). */
void lorawan_calls_nonces_encode(const struct lw_nonces *n, uint8_t out[KS_LW_LEN]);
bool lorawan_calls_nonces_decode(const uint8_t in[KS_LW_LEN], struct lw_nonces *n);

/* package.c — LPK1 open, LPR1 and LPP1 built with the agent crypto. */
/* AGENT_OK or the status of the first failing check (docs/protocols.md's order);
 * on success keys holds AppKey || NwkKey, otherwise zeros. */
uint32_t package_open(const struct agent *a, const uint8_t pkg[LPK1_LEN], uint8_t keys[32]);
void package_receipt(const struct agent *a, const struct ks_slot *s, uint8_t out[LPR1_LEN]);
void package_proof(const struct agent *a, const uint8_t nonce[16], uint8_t out[LPP1_LEN]);
/* The DIK's signature of out[0, n), written at out + n (64 bytes). */
void package_sign(const struct agent *a, uint8_t *out, size_t n);

/* The SROM reads the row it programs from SRAM: one buffer, in the agent's own RAM,
 * for keystore.c and identity.c (wiped after each use). */
extern uint8_t agent_row[HAL_ROW_SIZE];

/* keystore.c — the two slots. */
/* Reads both slots; sets a->cur, a->active and a->last_counter. */
void keystore_load(struct agent *a);
/* Writes s (seq = cur.seq + 1) into the slot that does not hold cur, reads it back,
 * and only then makes it a->cur. HAL_OK, or an error with a unchanged. */
int keystore_commit(struct agent *a, struct ks_slot *s);
/* Encoding shared with tests: the 128-byte slot record and its check. */
void keystore_slot_encode(const struct ks_slot *s, uint8_t out[KS_SLOT_LEN]);
bool keystore_slot_decode(const uint8_t in[KS_SLOT_LEN], struct ks_slot *s);

/* identity.c — the DIK and the chip's facts. */
void identity_facts(struct agent *a);
/* Loads the identity record; generates and stores one when there is none. true when
 * the agent has a DIK afterwards. */
bool identity_load(struct agent *a);

/* Big-endian helpers for the formats. */
static inline void agent_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline uint32_t agent_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
/* Little-endian: the parameter block and the key store's integers. */
static inline void agent_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t agent_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
