/*
 * lw-net.h — the network side of LoRaWAN for the agent's tests: what a Join Server and
 * a network/application server compute, on lpa/core (OpenSSL) and independent of the
 * agent's own crypto (lpa/agent/crypto). LoRaWAN 1.0.4 §4.3-§4.4, §6.2; 1.1 §4.3-§4.4,
 * §6.2.3. Frames are PHYPayloads as on the air.
 */
#ifndef LPA_TESTS_LW_NET_H
#define LPA_TESTS_LW_NET_H

#include <stddef.h>
#include <stdint.h>

/* The session one join gives both ends: mode 0x10 (1.0.x MICs; f_nwk = s_nwk = nwk_enc
 * = NwkSKey) or 0x11. */
struct lw_net_session {
	uint8_t mode;
	uint32_t dev_addr;
	uint8_t f_nwk[16], s_nwk[16], nwk_enc[16], app_s[16];
};

/* The join-accept for a JoinRequest's DevNonce: plaintext fields (JoinNonce, NetID,
 * DevAddr, DLSettings, RxDelay, cflist NULL or 16 bytes), MIC'd in the form opt_neg
 * says (1: JSIntKey over JoinReqType 0xFF | JoinEUI | DevNonce | ...; 0: mic_key over
 * MHDR | ...) and encrypted (AES decryption) under enc_key. Returns its length. */
size_t lw_net_join_accept(const uint8_t enc_key[16], const uint8_t mic_key[16], int opt_neg,
			  uint64_t join_eui, uint16_t dev_nonce, uint32_t join_nonce,
			  uint32_t net_id, uint32_t dev_addr, uint8_t dl_settings, uint8_t rx_delay,
			  const uint8_t *cflist, uint8_t out[33]);
/* The session keys the network derives (lpa/core). lorawan: the device's (0x10/0x11);
 * opt_neg as in the join-accept. */
void lw_net_session(uint8_t lorawan, int opt_neg, const uint8_t app_key[16],
		    const uint8_t nwk_key[16], uint32_t join_nonce, uint32_t net_id,
		    uint64_t join_eui, uint16_t dev_nonce, uint32_t dev_addr,
		    struct lw_net_session *s);
/* The MIC of a frame (msg without MIC): dir 0 uplink (1.1: conf_fcnt, tx_dr, tx_ch in
 * B1), 1 downlink (1.1: conf_fcnt in B0). */
void lw_net_frame_mic(const struct lw_net_session *s, int dir, uint16_t conf_fcnt, uint8_t tx_dr,
		      uint8_t tx_ch, uint32_t fcnt, const uint8_t *msg, size_t len, uint8_t mic[4]);
/* FRMPayload encryption = decryption, in place. */
void lw_net_frm_crypt(const uint8_t key[16], int dir, uint32_t dev_addr, uint32_t fcnt, uint8_t *p,
		      size_t len);
/* A downlink PHYPayload: mhdr | DevAddr | fctrl | FCnt (16 LSBs) | [FPort | FRMPayload
 * encrypted] | MIC (port < 0: none). Returns its length. */
size_t lw_net_downlink(const struct lw_net_session *s, uint8_t mhdr, uint8_t fctrl, uint32_t fcnt,
		       int port, const uint8_t *payload, size_t len, uint16_t conf_fcnt,
		       uint8_t *out);

#endif
