/* programmer-private.h — the link ops table that every backend fills in. */
#ifndef LPA_PROGRAMMER_PRIVATE_H
#define LPA_PROGRAMMER_PRIVATE_H

#include "programmer.h"

/*
 * One table per hardware seam (the libfido2 fido_dev_io_t idea): the generic link code
 * in link.c calls these; cmsis-dap.c and openocd.c implement them. Each returns 0 or a
 * negative LPA_ERR_*; on LPA_ERR_FAULT, mem_* set *fault_addr.
 */
struct prog_link_ops {
	const char *name;
	int (*open)(const struct prog_link_opts *opts, void **ctx, char *serial, size_t serial_len,
		    char *firmware, size_t firmware_len);
	void (*close)(void *ctx);
	int (*connect)(void *ctx, uint32_t *dpidr);
	int (*disconnect)(void *ctx);
	int (*dp_read)(void *ctx, uint8_t reg, uint32_t *val);
	int (*dp_write)(void *ctx, uint8_t reg, uint32_t val);
	int (*ap_read)(void *ctx, uint8_t ap, uint8_t reg, uint32_t *val);
	int (*ap_write)(void *ctx, uint8_t ap, uint8_t reg, uint32_t val);
	/* size is 1 or 4 (bytes per access); len a multiple of size. */
	int (*mem_read)(void *ctx, uint8_t ap, uint32_t addr, unsigned size, void *buf, size_t len,
			uint32_t *fault_addr);
	int (*mem_write)(void *ctx, uint8_t ap, uint32_t addr, unsigned size, const void *buf,
			 size_t len, uint32_t *fault_addr);
	/* Optional: runs ops as one unit; poll_ms bounds each probe-side poll. A POLL32 the
	 * probe gave up on comes back as LPA_ERR_MISMATCH with *done its index (the ops
	 * before it ran); link.c then sends the script again from that poll until its
	 * deadline. NULL: link.c runs the ops one by one. */
	int (*mem_ops)(void *ctx, uint8_t ap, const struct prog_op *ops, size_t n, unsigned poll_ms,
		       size_t *done);
	void (*counters)(void *ctx, struct prog_counters *c);
	/* Optional: the backend programs main flash itself (erase included), bounded by its
	 * own timeout. NULL: psoc6-flash.c drives the SROM through the memory ops. */
	int (*flash_write)(void *ctx, uint32_t addr, const void *data, size_t len);
	/* Optional: a system reset and the reconnect after it, for a backend that keeps
	 * state the reset invalidates. NULL: link.c writes AIRCR and reconnects. */
	int (*reset)(void *ctx);
	/* The backend's detail for its last error; "" when none. */
	const char *(*last_error)(void *ctx);
};

/* A CMSIS-DAP v2 (bulk) interface of an opened USB probe (probe.c). */
struct libusb_context;
struct libusb_device_handle;
struct probe_usb {
	struct libusb_device_handle *handle;
	int iface;
	uint8_t ep_out, ep_in;
	uint16_t ep_max_packet;
	struct prog_probe_info info;
};
/* Opens the probe with that serial (NULL: the only one), claims its CMSIS-DAP v2 bulk
 * interface. LPA_ERR_NOT_FOUND / LPA_ERR_INVAL (several, no serial) / LPA_ERR_UNSUPPORTED
 * (v1 HID only). */
int probe_usb_open(struct libusb_context *usb, const char *serial, struct probe_usb *out);
void probe_usb_close(struct probe_usb *pu);
/* One command of a pipeline: out is sent, its response read into in (in_cap bytes). */
struct probe_usb_xfer {
	const uint8_t *out;
	size_t out_len;
	uint8_t *in;
	size_t in_cap, in_len;
};
/*
 * The one place that moves CMSIS-DAP packets: sends n commands with at most window in
 * flight and reads every response in order, each USB transfer bounded by timeout_ms. ctr
 * (may be NULL) counts commands, bytes, and one round trip per window. Stops at a USB
 * error (probe_usb_err) or a response that does not echo its command (LPA_ERR_PROTOCOL),
 * saying which in err.
 */
int probe_usb_pipeline(struct probe_usb *pu, struct probe_usb_xfer *x, size_t n, unsigned window,
		       unsigned timeout_ms, struct prog_counters *ctr, char *err, size_t err_len);
/* One command and its response (a pipeline of one; for DAP_Info during discovery). */
int probe_usb_exchange(struct probe_usb *pu, const uint8_t *cmd, size_t len, uint8_t *resp,
		       size_t cap, size_t *resp_len, unsigned timeout_ms);
/* libusb error -> LPA_ERR_*. */
int probe_usb_err(int libusb_error);

/* The backend's own flash programming (ops->flash_write); LPA_ERR_UNSUPPORTED when it
 * has none. */
int prog_link_flash_write(prog_link *link, uint32_t addr, const void *data, size_t len);
/* The link a chip was attached on (psoc6.c), for psoc6-flash.c. */
prog_link *psoc6_link(psoc6 *chip);

extern const struct prog_link_ops prog_cmsis_dap_ops;
extern const struct prog_link_ops prog_openocd_ops;

#endif
