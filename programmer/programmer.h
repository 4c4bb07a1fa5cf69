/*
 * programmer.h — target access for lpa: probe discovery, one link interface that the
 * native CMSIS-DAP backend (libusb) and the OpenOCD backend (spawned openocd, Tcl RPC)
 * both implement, and the PSoC 6 layer above it (family, silicon ID, unique ID, IPC and
 * SROM calls, the secure agent, the entrance exam).
 *
 * Functions return 0 or a negative LPA_ERR_* code (lpa/core/lpa-core.h). Every wait is
 * bounded; no call hangs on a dead probe or target.
 */
#ifndef LPA_PROGRAMMER_H
#define LPA_PROGRAMMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lpa/core/lpa-core.h"

/* ------------------------------------------------------------------ probes */
struct prog_probe_info {
	uint16_t vid, pid;
	char serial[64];
	char manufacturer[64];
	char product[96];
	char firmware[32];    /* DAP_Info 0x09, "" when the probe does not say */
	char protocol[16];    /* DAP_Info 0x04, e.g. "2.1.0" */
	uint8_t capabilities; /* DAP_Info 0xF0 byte 0: b0 SWD, b1 JTAG, ... */
	uint16_t packet_size; /* DAP_Info 0xFF */
	uint8_t packet_count; /* DAP_Info 0xFE */
	bool v2_bulk;         /* CMSIS-DAP v2 bulk interface found (native backend usable) */
	char bus_path[32];    /* "bus-port.port...", stable while plugged in the same port */
	char note[96];        /* why details are missing ("busy", "HID v1 only", ...) */
};

/* All CMSIS-DAP probes on the USB bus; *list is malloc'd (free it), sorted by serial. */
int prog_probe_list(struct prog_probe_info **list, size_t *n);

/* Hot-plug: cb(arrived, info) for probes plugged in or out, until prog_probe_watch_stop. */
typedef void (*prog_probe_event_cb)(void *ctx, bool arrived, const struct prog_probe_info *info);
typedef struct prog_watch prog_watch;
/* LPA_ERR_UNSUPPORTED when libusb has no hot-plug support on this platform. */
int prog_probe_watch_start(prog_probe_event_cb cb, void *ctx, prog_watch **w);
/* Handles pending events, waiting at most timeout_ms. */
int prog_probe_watch_poll(prog_watch *w, int timeout_ms);
void prog_probe_watch_stop(prog_watch **w);

/* -------------------------------------------------------------------- link */
enum prog_backend { PROG_BACKEND_CMSIS_DAP = 0, PROG_BACKEND_OPENOCD = 1 };

struct prog_link_opts {
	enum prog_backend backend;
	const char *serial;  /* NULL: the only probe there is (error if several) */
	unsigned clock_khz;  /* SWD clock; 0 = 1000 */
	unsigned timeout_ms; /* per operation; 0 = 2000 */
	/* OpenOCD backend */
	const char *openocd_path;    /* NULL: "openocd" on PATH */
	const char *openocd_adapter; /* adapter driver; NULL = "cmsis-dap" */
};

struct prog_counters {
	/* Host waits: the times the host blocked for an answer. Native backend: one per
	 * window of pipelined DAP commands (at most the probe's packet count in flight; the
	 * host sends the window's commands, then blocks once for their responses), counted
	 * in probe_usb_pipeline, the one function that moves DAP packets. OpenOCD: one per
	 * Tcl request. */
	uint64_t round_trips;
	uint64_t commands; /* DAP commands (or Tcl commands) sent */
	uint64_t bytes_out;
	uint64_t bytes_in;
};

typedef struct prog_link prog_link;

int prog_link_open(const struct prog_link_opts *opts, prog_link **link);
void prog_link_close(prog_link **link);
const char *prog_link_backend_name(const prog_link *link);
const char *prog_link_serial(const prog_link *link);
const char *prog_link_probe_firmware(const prog_link *link);

/* SWD bring-up: clock, JTAG-to-SWD, line reset, DPIDR, power-up handshake. */
int prog_link_connect(prog_link *link, uint32_t *dpidr);
int prog_link_disconnect(prog_link *link);
/* Reads DPIDR once: LPA_OK with a chip in the socket, LPA_ERR_NO_TARGET without. */
int prog_link_target_present(prog_link *link);

/* Raw DP and AP registers (reg = byte offset: 0x0, 0x4, 0x8, 0xC, or AP 0x00..0xFC). */
int prog_dp_read(prog_link *link, uint8_t reg, uint32_t *val);
int prog_dp_write(prog_link *link, uint8_t reg, uint32_t val);
int prog_ap_read(prog_link *link, uint8_t ap, uint8_t reg, uint32_t *val);
int prog_ap_write(prog_link *link, uint8_t ap, uint8_t reg, uint32_t val);

/* Memory through MEM-AP ap. len and addr must be multiples of 4 for the 32-bit forms. */
int prog_mem_read32(prog_link *link, uint8_t ap, uint32_t addr, uint32_t *val);
int prog_mem_write32(prog_link *link, uint8_t ap, uint32_t addr, uint32_t val);
int prog_mem_read8(prog_link *link, uint8_t ap, uint32_t addr, uint8_t *val);
int prog_mem_write8(prog_link *link, uint8_t ap, uint32_t addr, uint8_t val);
int prog_mem_read(prog_link *link, uint8_t ap, uint32_t addr, void *buf, size_t len);
int prog_mem_write(prog_link *link, uint8_t ap, uint32_t addr, const void *buf, size_t len);

/*
 * A short script of memory accesses run as one unit where the probe can: the native
 * backend packs it into as few DAP_Transfers as fit, lets the probe itself poll
 * (CMSIS-DAP value match) and pipelines the packets, so a whole IPC call with its
 * result costs one host wait. POLL32 waits until (word & mask) == value, bounded by
 * timeout_ms; a poll that never matches is LPA_ERR_TIMEOUT and nothing after it runs.
 * READ_BLOCK reads len bytes (a multiple of 4) at addr into buf, WRITE_BLOCK writes them.
 *
 * Ordering: a failed op stops the script. The packets after it may already have run
 * (they were in flight), but never a write behind a poll that was not confirmed: the
 * native backend waits for a poll's answer before it sends a write that follows it.
 */
enum prog_op_kind {
	PROG_OP_WRITE32,
	PROG_OP_READ32,
	PROG_OP_POLL32,
	PROG_OP_READ_BLOCK,
	PROG_OP_WRITE_BLOCK
};
struct prog_op {
	enum prog_op_kind kind;
	uint32_t addr;
	uint32_t value; /* WRITE32: the word; POLL32: the value to wait for */
	uint32_t mask;  /* POLL32 */
	uint32_t *out;  /* READ32 */
	void *buf;      /* READ_BLOCK, WRITE_BLOCK */
	size_t len;     /* READ_BLOCK, WRITE_BLOCK */
};
int prog_mem_ops(prog_link *link, uint8_t ap, const struct prog_op *ops, size_t n,
		 unsigned timeout_ms);

/* System reset through the CM0+ AIRCR (SYSRESETREQ). */
int prog_link_reset(prog_link *link);

void prog_link_counters(const prog_link *link, struct prog_counters *c);
/* After LPA_ERR_FAULT from a memory call: the address of the access that faulted. */
uint32_t prog_link_fault_addr(const prog_link *link);
/* A human-readable detail for the last error (OpenOCD's own text, the USB error, ...). */
const char *prog_link_last_error(const prog_link *link);

/* ------------------------------------------------------------------ PSoC 6 */
enum psoc6_family_id {
	PSOC6_FAMILY_BLE2 = 0x100, /* CY8C6xx6/7, CPUSS v1 */
	PSOC6_FAMILY_2M = 0x102,   /* CY8C6xx8/A, CPUSS v2 */
	PSOC6_FAMILY_512K = 0x105, /* CY8C6xx5, CPUSS v2 */
};

struct psoc6_family {
	uint16_t id;
	const char *name;
	uint32_t ipc_base;        /* IPC structures */
	uint32_t ipc_intr_base;   /* IPC interrupt structures */
	uint32_t lock_status_off; /* LOCK_STATUS offset inside an IPC structure */
	uint32_t protection_reg;  /* CPUSS PROTECTION.STATE */
	uint32_t param_area;      /* SRAM reserved for call parameter blocks */
	uint32_t param_area_len;
};

/* Family constants by ROM-table family ID; NULL for an unknown family. */
const struct psoc6_family *psoc6_family_lookup(uint16_t id);

typedef struct psoc6 psoc6;

/* Binds a connected link to the chip behind it: reads the AP0 ROM table's family ID. */
int psoc6_attach(prog_link *link, psoc6 **chip);
void psoc6_detach(psoc6 **chip);
const struct psoc6_family *psoc6_get_family(const psoc6 *chip);

/* SROM SiliconID over IPC_STRUCT2: silicon ID and protection state (1..4). */
int psoc6_silicon_id(psoc6 *chip, uint32_t *silicon_id, uint8_t *protection);
/* The 64-bit unique ID, from the SFlash die fields (as Cy_SysLib_GetUniqueId). */
int psoc6_unique_id(psoc6 *chip, uint64_t *uid);

/*
 * One secure-agent call (docs/protocols.md): writes the parameter block, notifies
 * IPC_STRUCT8, waits (bounded by timeout_ms) for the release, reads status and output.
 * An agent error status comes back as its LPA_ERR_* (lpa_agent_err_from_status).
 */
int psoc6_agent_call(psoc6 *chip, uint8_t opcode, const void *in, size_t in_len, void *out,
		     size_t out_cap, size_t *out_len, unsigned timeout_ms);
int psoc6_get_identity(psoc6 *chip, struct lpa_lpi1 *id, uint8_t *raw, size_t raw_cap,
		       size_t *raw_len);
int psoc6_install_package(psoc6 *chip, const uint8_t lpk1[LPA_LPK1_LEN],
			  uint8_t lpr1[LPA_LPR1_LEN]);
int psoc6_prove(psoc6 *chip, uint64_t dev_eui, const uint8_t nonce[16], uint8_t lpp1[LPA_LPP1_LEN]);
int psoc6_get_status(psoc6 *chip, struct lpa_agent_status *st);

/* Entrance exam: what must hold before anything is written to a chip. */
struct psoc6_exam_policy {
	uint8_t allowed_protection; /* bit mask of (1 << state); default NORMAL only */
	uint16_t min_agent_version;
	uint16_t max_agent_version;
	bool allow_reprovision;
};
struct psoc6_exam_result {
	uint16_t family;
	uint32_t silicon_id;
	uint8_t protection;
	uint64_t uid;
	struct lpa_agent_status status;
	char reason[128]; /* why the chip was refused ("" when it passed) */
};
void psoc6_exam_policy_default(struct psoc6_exam_policy *p);
/* LPA_OK when the chip may be provisioned; LPA_ERR_UNSUPPORTED / LPA_ERR_STATE /
 * LPA_ERR_MISMATCH (already provisioned) with res->reason otherwise. */
int psoc6_entrance_exam(psoc6 *chip, const struct psoc6_exam_policy *p,
			struct psoc6_exam_result *res);

/* ------------------------------------------------- PSoC 6 flash (psoc6-flash.c) */
#define PSOC6_FLASH_ROW 512

/* What writing addr..addr+len costs the chip: rows to program, 256-KiB sector and 4-KiB
 * subsector erases. LPA_ERR_INVAL for a range that is not subsector-aligned main flash. */
struct psoc6_flash_plan {
	unsigned rows;
	unsigned sector_erases;
	unsigned subsector_erases;
};
int psoc6_flash_plan(uint32_t addr, size_t len, struct psoc6_flash_plan *p);
/* Halts the CM0+, points it at the boot ROM's idle loop (VTOR 0, where the NMI is the
 * SROM's) and lets it run: nothing executes from flash, SROM calls are served. */
int psoc6_flash_park(psoc6 *chip);
/* Takes a CM0+ that an earlier session left halted out of debug (it then serves SROM
 * calls again); LPA_OK, doing nothing, when it runs. */
int psoc6_flash_release(psoc6 *chip);
/*
 * Writes len bytes of main flash at addr (a 4-KiB boundary); the last row is padded with
 * the erased value. Native backend: park, erase, pipelined SROM ProgramRow (two SRAM
 * slots in the family's parameter area). OpenOCD backend: OpenOCD's psoc6 flash driver
 * (`flash write_image erase`). LPA_ERR_FLASH when the SROM reports a failure; why says
 * which call, at which address.
 */
int psoc6_flash_write(psoc6 *chip, uint32_t addr, const void *data, size_t len, char *why,
		      size_t why_len);
/* Reads the range back: sha256 is the SHA-256 of what the chip holds; LPA_ERR_MISMATCH
 * (with *bad_addr the first differing byte) when it is not data. */
int psoc6_flash_verify(psoc6 *chip, uint32_t addr, const void *data, size_t len, uint8_t sha256[32],
		       uint32_t *bad_addr);

#endif /* LPA_PROGRAMMER_H */
