/*
 * Fuzz the firmware's key-store reader (lpa/agent keystore.c, identity.c: the very
 * sources that ship, on the RAM-backed HAL) against lpa/core's parser of the same
 * layout: the input is a key-store dump (zero-padded to 4 KiB, as erased flash reads).
 * The agent must boot from it to the state lpa_keystore_parse describes — the same
 * active slot, sequence, counter, keys and anti-rollback counter, the same identity
 * when the record is valid, and a freshly generated one (origin CHIP, a valid record
 * in flash) when it is not.
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "hal-host.h"
#include "lpa/core/keystore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lpa_keystore ks, after;
	static uint8_t dump[KS_SIZE];
	static struct agent a;
	uint8_t *flash;

	memset(dump, 0, sizeof(dump));
	memcpy(dump, data, size < sizeof(dump) ? size : sizeof(dump));
	host_reset(0x5eed);
	flash = host.work + (KS_BASE - HOST_WORK_BASE);
	memcpy(flash, dump, sizeof(dump));
	fuzz_check(lpa_keystore_parse(dump, sizeof(dump), &ks) == LPA_OK);
	agent_boot(&a);
	fuzz_check(a.ready);
	fuzz_check(a.active == ks.active);
	fuzz_check(a.last_counter == ks.last_counter);
	if (ks.active >= 0) {
		const struct lpa_ks_slot *s = &ks.slot[ks.active];

		fuzz_check(a.cur.seq == s->seq && a.cur.counter == s->counter);
		fuzz_check(a.cur.lorawan == s->lorawan);
		fuzz_check(lpa_be_get(a.cur.dev_eui, 8) == s->dev_eui);
		fuzz_check(lpa_be_get(a.cur.join_eui, 8) == s->join_eui);
		fuzz_check(memcmp(a.cur.keys, s->keys, 32) == 0);
		fuzz_check(memcmp(a.cur.pkg_hash, s->pkg_hash, 16) == 0);
	}
	if (ks.id.status == LPA_OK) {
		/* lpa_keystore_parse reads the identity record only; a certificate the agent
		 * took from the certificate record (rows 6-7, enrol.c) is one the identity
		 * record lacks. */
		fuzz_check(a.origin == ks.id.origin &&
			   (a.cert_len == ks.id.cert_len ||
			    (ks.id.cert_len == 0 && a.cert_addr == KS_CERT_ADDR + KS_CERT_HDR)));
		fuzz_check(memcmp(a.dik, ks.id.dik, 32) == 0);
		fuzz_check(memcmp(a.dik_pub, ks.id.dik_pub, 65) == 0);
		fuzz_check(host.flash_ops == 0); /* nothing written */
	} else {
		fuzz_check(a.origin == KS_ID_ORIGIN_CHIP && a.cert_len == 0);
		fuzz_check(lpa_keystore_parse(flash, KS_SIZE, &after) == LPA_OK);
		fuzz_check(after.id.status == LPA_OK &&
			   memcmp(after.id.dik_pub, a.dik_pub, 65) == 0);
		/* The slots are left as they were. */
		fuzz_check(memcmp(flash, dump, 2 * HAL_ROW_SIZE) == 0);
	}
	lpa_keystore_wipe(&ks);
	lpa_keystore_wipe(&after);
	return 0;
}
