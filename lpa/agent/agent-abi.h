/*
 * agent-abi.h — the secure agent's call interface as constants (docs/protocols.md,
 * "Secure-agent calls over IPC"): opcodes, status words, the parameter block's layout.
 * Plain macros and nothing else, so that the firmware (agent.h), the station's PSoC 6
 * layer (programmer/psoc6.c) and the simulator (fixtures/sim) name them from one place
 * without the host pulling in firmware headers.
 */
#ifndef LPA_AGENT_ABI_H
#define LPA_AGENT_ABI_H

/* Call status words. */
#define AGENT_OK 0xA0000000u
#define AGENT_ERR_REQUEST 0xF0000001u
#define AGENT_ERR_SIGNATURE 0xF0000002u
#define AGENT_ERR_WRONG_CHIP 0xF0000003u
#define AGENT_ERR_STALE 0xF0000004u
#define AGENT_ERR_UNWRAP 0xF0000005u
#define AGENT_ERR_FLASH 0xF0000006u
#define AGENT_ERR_NOT_PROVISIONED 0xF0000007u
#define AGENT_ERR_BUSY 0xF0000008u
#define AGENT_ERR_NOT_CERTIFIED 0xF0000009u /* GET_IDENTITY: no certificate yet (enrol) */
#define AGENT_ERR_CERT_KEY 0xF000000Au      /* STORE_CERT: the certificate's key is not the DIK */
#define AGENT_ERR_CERTIFIED 0xF000000Bu     /* STORE_CERT: another certificate is stored */
/* LoRaWAN runtime calls (lorawan-calls.c). */
#define AGENT_ERR_LW_MIC 0xF0000010u        /* join-accept or downlink MIC does not verify */
#define AGENT_ERR_LW_NO_JOIN 0xF0000011u    /* JOIN_ACCEPT without a JoinRequest pending */
#define AGENT_ERR_LW_JOIN_NONCE 0xF0000012u /* JoinNonce not above the last accepted */
#define AGENT_ERR_LW_NO_SESSION 0xF0000013u /* UPLINK / DOWNLINK before a join */
#define AGENT_ERR_LW_FCNT 0xF0000014u       /* replayed downlink, uplink counter used up */
#define AGENT_ERR_LW_DEV_NONCE 0xF0000015u  /* all 65,536 DevNonces used */
#define AGENT_ERR_LW_FRAME 0xF0000016u      /* MHDR, DevAddr or FOpts not acceptable */

/* Opcodes (the request word's top byte). */
#define AGENT_OP_GET_IDENTITY 0x70
#define AGENT_OP_INSTALL 0x71
#define AGENT_OP_PROVE 0x72
#define AGENT_OP_GET_STATUS 0x73
#define AGENT_OP_ENROL 0x78           /* enrol.c: out LPE1 */
#define AGENT_OP_STORE_CERT 0x79      /* enrol.c: in the factory CA's certificate */
#define AGENT_OP_LW_JOIN_REQUEST 0x80 /* lorawan-calls.c: the CM4's LoRaWAN calls */
#define AGENT_OP_LW_JOIN_ACCEPT 0x81
#define AGENT_OP_LW_UPLINK 0x82
#define AGENT_OP_LW_DOWNLINK 0x83

/* The parameter block: request, status, input length, output length, data. */
#define AGENT_BLK_REQUEST 0
#define AGENT_BLK_STATUS 4
#define AGENT_BLK_IN_LEN 8
#define AGENT_BLK_OUT_LEN 12
#define AGENT_BLK_DATA 16
#define AGENT_BLOCK_MAX 2048u
#define AGENT_DATA_MAX (AGENT_BLOCK_MAX - AGENT_BLK_DATA)

/* The IPC structure the calls go to. */
#define AGENT_IPC_STRUCT 8

#endif /* LPA_AGENT_ABI_H */
