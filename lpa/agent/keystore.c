/*
 * keystore.c — the two key slots (docs/protocols.md, "Key store"). Each install writes
 * the slot that does not hold the current keys, with the sequence number one higher,
 * and reads it back; the slot's SHA-256 covers everything in it, so a row the power cut
 * half way through never counts. At boot the valid slot with the highest sequence is
 * the chip's state: old keys or new ones, never a mixture. Counters only go up: a
 * package is accepted only above the highest counter any valid slot holds.
 */
#include <string.h>

#include "agent.h"

#define SLOT_MAGIC "LKS1"
#define SLOT_FORMAT 1

uint8_t agent_row[HAL_ROW_SIZE];

void keystore_slot_encode(const struct ks_slot *s, uint8_t out[KS_SLOT_LEN])
{
	memset(out, 0, KS_SLOT_LEN);
	memcpy(out, SLOT_MAGIC, 4);
	out[4] = SLOT_FORMAT;
	out[5] = s->lorawan;
	out[6] = s->provisioned;
	agent_le32(out + 8, s->seq);
	agent_le32(out + 12, s->counter);
	memcpy(out + 16, s->dev_eui, 8);
	memcpy(out + 24, s->join_eui, 8);
	memcpy(out + 32, s->keys, 32);
	memcpy(out + 64, s->pkg_hash, 16);
	sha256(out, KS_SLOT_BODY, out + KS_SLOT_BODY);
}

bool keystore_slot_decode(const uint8_t in[KS_SLOT_LEN], struct ks_slot *s)
{
	uint8_t h[SHA256_LEN];
	uint8_t zero = 0;

	memset(s, 0, sizeof(*s));
	if (memcmp(in, SLOT_MAGIC, 4) != 0 || in[4] != SLOT_FORMAT)
		return false;
	sha256(in, KS_SLOT_BODY, h);
	if (memcmp(h, in + KS_SLOT_BODY, SHA256_LEN) != 0)
		return false;
	for (int i = 80; i < KS_SLOT_BODY; i++)
		zero |= in[i];
	zero |= in[7];
	if (zero || (in[5] != 0x10 && in[5] != 0x11) || in[6] != 1 || agent_get_le32(in + 8) == 0)
		return false;
	s->lorawan = in[5];
	s->provisioned = in[6];
	s->seq = agent_get_le32(in + 8);
	s->counter = agent_get_le32(in + 12);
	memcpy(s->dev_eui, in + 16, 8);
	memcpy(s->join_eui, in + 24, 8);
	memcpy(s->keys, in + 32, 32);
	memcpy(s->pkg_hash, in + 64, 16);
	return true;
}

void keystore_load(struct agent *a)
{
	struct ks_slot s;

	a->active = -1;
	a->last_counter = 0;
	memset(&a->cur, 0, sizeof(a->cur));
	for (int i = 0; i < 2; i++) {
		hal_flash_read(KS_SLOT_ADDR(i), agent_row, KS_SLOT_LEN);
		if (!keystore_slot_decode(agent_row, &s))
			continue;
		if (s.counter > a->last_counter)
			a->last_counter = s.counter;
		if (a->active < 0 || s.seq > a->cur.seq) {
			a->cur = s;
			a->active = i;
		}
	}
	ct_wipe(&s, sizeof(s));
	ct_wipe(agent_row, sizeof(agent_row));
}

int keystore_commit(struct agent *a, struct ks_slot *s)
{
	int target = a->active == 0 ? 1 : 0;
	uint32_t addr = KS_SLOT_ADDR(target);
	struct ks_slot back;
	int r;

	if (a->active >= 0 && a->cur.seq == 0xFFFFFFFFu)
		return HAL_ERR_RANGE; /* four billion installs: the sequence would wrap */
	s->seq = (a->active >= 0 ? a->cur.seq : 0) + 1;
	memset(agent_row, 0, sizeof(agent_row));
	keystore_slot_encode(s, agent_row);
	r = hal_flash_write_row(addr, agent_row);
	if (r == HAL_OK) {
		/* What counts is what the flash holds: read it back through the decoder. */
		hal_flash_read(addr, agent_row, KS_SLOT_LEN);
		if (!keystore_slot_decode(agent_row, &back) || back.seq != s->seq ||
		    ct_memcmp(&back, s, sizeof(back)) != 0)
			r = HAL_ERR_SROM;
	}
	if (r != HAL_OK) {
		/* A row that failed may still decode later (a write that reported an error
		 * yet landed): erase it, so that the refused install stays refused. */
		(void)hal_flash_erase_row(addr);
	} else {
		a->cur = *s;
		a->active = target;
		a->last_counter = s->counter;
	}
	ct_wipe(&back, sizeof(back));
	ct_wipe(agent_row, sizeof(agent_row));
	return r;
}
