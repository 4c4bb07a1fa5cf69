/*
 * kms-device.h — the device life cycle: issue, confirm, abandon, QA challenge and verify
 * (device.c), and the signed manifest records (records.c).
 */
#ifndef LPA_KMS_DEVICE_H
#define LPA_KMS_DEVICE_H

#include <stdint.h>

#include "lpa/core/lpa-core.h"

#include "kms-server.h"

/* ----------------------------------------------------------------- devices */
void device_issue(struct kms_server *s, struct kms_call *c);
/* enrol.c — the factory device-identity CA: certify a DIK once per chip UID. */
void enrol_device(struct kms_server *s, struct kms_call *c);
/* Which CAs a lot accepts at issue (lot_cas; a lot not listed: the vendor's only). */
#define ENROL_CA_VENDOR 1u
#define ENROL_CA_FACTORY 2u
int enrol_lot_cas(struct db *db, const char *lot, unsigned *cas);
int enrol_cas_parse(const char *s, unsigned *cas);
const char *enrol_ca_name(unsigned ca); /* "vendor" or "factory" */
void device_confirm(struct kms_server *s, struct kms_call *c);
void device_abandon(struct kms_server *s, struct kms_call *c);
void device_challenge(struct kms_server *s, struct kms_call *c);
void device_verify(struct kms_server *s, struct kms_call *c);
void records_lot(struct kms_server *s, struct kms_call *c);
/* The manifest record of docs/protocols.md, signed with the record key. */
struct records_fields {
	uint64_t dev_eui, join_eui, chip_uid;
	uint8_t lorawan;
	uint32_t silicon_id, counter;
	uint8_t dik_pub[LPA_P256_PUB_LEN];
	uint8_t package[LPA_LPK1_LEN];
	const char *lot, *station, *operator, * probe_serial, *probe_firmware;
	const char *ca; /* which CA certified the DIK at issue: "vendor" or "factory" */
	int64_t issued_at, confirmed_at;
};
/* A provisioned device as the Join Server sees it: its confirmed attempt's lot, JoinEUI,
 * LoRaWAN version and root keys (AppKey || NwkKey, 32 bytes, opened from the vault).
 * KMS_ERR_NOT_FOUND when the DevEUI is unknown or not provisioned. */
struct device_provisioned {
	uint64_t dev_eui, join_eui;
	uint8_t lorawan;
	uint32_t counter;
	char lot[REQ_MAX_NAME + 1];
};
struct vault;
int device_provisioned(const struct vault *master, struct db *db, uint64_t dev_eui,
		       struct device_provisioned *p, lpa_secbuf **keys);
struct keys_signer;
int records_sign(struct keys_signer *key, uint32_t key_id, const struct records_fields *f,
		 char **jws);

#endif /* LPA_KMS_DEVICE_H */
