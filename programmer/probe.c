/*
 * probe.c — finding CMSIS-DAP probes on the USB bus (libusb) and opening their
 * CMSIS-DAP v2 bulk interface. A probe is recognised by a known Cypress/Infineon PID
 * (KitProg3, MiniProg4) or by "CMSIS-DAP" in its product or interface string; KitProg3's
 * interface class is 0, not 0xFF, so the class alone proves nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libusb.h>

#include "programmer-private.h"

#define PROBE_TIMEOUT_MS 500

static const struct {
	uint16_t vid, pid;
	const char *name;
} probe_known[] = {
	{0x04b4, 0xf155, "KitProg3 CMSIS-DAP v2 bulk"},
	{0x04b4, 0xf154, "KitProg3 CMSIS-DAP v1 HID"},
	{0x04b4, 0xf166, "KitProg3 CMSIS-DAP v2 bulk + 2 UART"},
	{0x04b4, 0xf151, "MiniProg4 CMSIS-DAP v2 bulk"},
	{0x04b4, 0xf152, "MiniProg4 CMSIS-DAP v1 HID"},
};

int probe_usb_err(int e)
{
	switch (e) {
	case LIBUSB_SUCCESS:
		return LPA_OK;
	case LIBUSB_ERROR_NO_DEVICE:
	case LIBUSB_ERROR_IO:
	case LIBUSB_ERROR_PIPE:
		return LPA_ERR_PROBE_GONE;
	case LIBUSB_ERROR_TIMEOUT:
		return LPA_ERR_TIMEOUT;
	case LIBUSB_ERROR_NO_MEM:
		return LPA_ERR_NOMEM;
	case LIBUSB_ERROR_NOT_FOUND:
		return LPA_ERR_NOT_FOUND;
	default:
		return LPA_ERR_SYSTEM;
	}
}

static bool probe_is_known(uint16_t vid, uint16_t pid)
{
	for (size_t i = 0; i < sizeof(probe_known) / sizeof(probe_known[0]); i++)
		if (probe_known[i].vid == vid && probe_known[i].pid == pid)
			return true;
	return false;
}

static void probe_string(libusb_device_handle *h, uint8_t idx, char *out, size_t cap)
{
	out[0] = '\0';
	if (idx == 0 ||
	    libusb_get_string_descriptor_ascii(h, idx, (unsigned char *)out, (int)cap) < 0)
		out[0] = '\0';
}

static void probe_bus_path(libusb_device *dev, char *out, size_t cap)
{
	uint8_t ports[8];
	int n = libusb_get_port_numbers(dev, ports, sizeof(ports));
	size_t o;

	o = (size_t)snprintf(out, cap, "%u", libusb_get_bus_number(dev));
	for (int i = 0; i < n && o < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%c%u", i == 0 ? '-' : '.', ports[i]);
}

/* The CMSIS-DAP v2 interface: "CMSIS-DAP" in its string, one bulk OUT, one bulk IN. */
static int probe_find_bulk(libusb_device *dev, libusb_device_handle *h, struct probe_usb *pu,
			   bool *has_cmsis)
{
	struct libusb_config_descriptor *cfg = NULL;
	int r = LPA_ERR_UNSUPPORTED;

	*has_cmsis = false;
	if (libusb_get_active_config_descriptor(dev, &cfg) != 0)
		return LPA_ERR_PROTOCOL;
	for (int i = 0; i < cfg->bNumInterfaces; i++) {
		const struct libusb_interface_descriptor *id;
		char name[128];
		int out = -1, in = -1;
		uint16_t mp = 64;

		if (cfg->interface[i].num_altsetting < 1)
			continue;
		id = &cfg->interface[i].altsetting[0];
		probe_string(h, id->iInterface, name, sizeof(name));
		if (strstr(name, "CMSIS-DAP") == NULL)
			continue;
		*has_cmsis = true;
		for (int e = 0; e < id->bNumEndpoints; e++) {
			const struct libusb_endpoint_descriptor *ep = &id->endpoint[e];

			if ((ep->bmAttributes & 3) != LIBUSB_TRANSFER_TYPE_BULK)
				continue;
			if ((ep->bEndpointAddress & 0x80) != 0 && in < 0) {
				in = ep->bEndpointAddress;
				mp = ep->wMaxPacketSize;
			} else if ((ep->bEndpointAddress & 0x80) == 0 && out < 0) {
				out = ep->bEndpointAddress;
			}
		}
		if (out >= 0 && in >= 0) {
			pu->iface = id->bInterfaceNumber;
			pu->ep_out = (uint8_t)out;
			pu->ep_in = (uint8_t)in;
			pu->ep_max_packet = mp;
			r = LPA_OK;
			break;
		}
	}
	libusb_free_config_descriptor(cfg);
	return r;
}

int probe_usb_pipeline(struct probe_usb *pu, struct probe_usb_xfer *x, size_t n, unsigned window,
		       unsigned timeout_ms, struct prog_counters *ctr, char *err, size_t err_len)
{
	size_t sent = 0, got = 0;
	int e, k;

	if (window < 1)
		window = 1;
	while (got < n) {
		while (sent < n && sent - got < window) {
			e = libusb_bulk_transfer(pu->handle, pu->ep_out,
						 (unsigned char *)(uintptr_t)x[sent].out,
						 (int)x[sent].out_len, &k, timeout_ms);
			if (e != 0 || (size_t)k != x[sent].out_len) {
				snprintf(err, err_len, "USB write: %s",
					 e != 0 ? libusb_error_name(e) : "short");
				return e != 0 ? probe_usb_err(e) : LPA_ERR_PROTOCOL;
			}
			if (ctr != NULL) {
				ctr->commands++;
				ctr->bytes_out += x[sent].out_len;
			}
			sent++;
		}
		/* The host waits once per window; the probe works through the queued
		 * packets meanwhile. */
		if (ctr != NULL && got % window == 0)
			ctr->round_trips++;
		e = libusb_bulk_transfer(pu->handle, pu->ep_in, x[got].in, (int)x[got].in_cap, &k,
					 timeout_ms);
		if (e != 0) {
			snprintf(err, err_len, "USB read: %s", libusb_error_name(e));
			return probe_usb_err(e);
		}
		if (ctr != NULL)
			ctr->bytes_in += (size_t)k;
		x[got].in_len = (size_t)k;
		/* Responses come in order, one per command: one that names another command
		 * means the stream is out of step; nothing after it can be trusted. */
		if (k < 1 || x[got].in[0] != x[got].out[0]) {
			snprintf(err, err_len, "probe answered 0x%02x to command 0x%02x",
				 k < 1 ? 0 : x[got].in[0], x[got].out[0]);
			return LPA_ERR_PROTOCOL;
		}
		got++;
	}
	return LPA_OK;
}

int probe_usb_exchange(struct probe_usb *pu, const uint8_t *cmd, size_t len, uint8_t *resp,
		       size_t cap, size_t *resp_len, unsigned timeout_ms)
{
	struct probe_usb_xfer x = {.out = cmd, .out_len = len, .in = resp, .in_cap = cap};
	char err[80];
	int r = probe_usb_pipeline(pu, &x, 1, 1, timeout_ms, NULL, err, sizeof(err));

	*resp_len = x.in_len;
	return r;
}

/* DAP_Info id: a string into out (or the raw bytes when raw is set). */
static int probe_info(struct probe_usb *pu, uint8_t id, char *out, size_t cap)
{
	uint8_t cmd[2] = {0x00, id}, resp[512];
	size_t n = 0;
	int r;

	out[0] = '\0';
	if ((r = probe_usb_exchange(pu, cmd, 2, resp, sizeof(resp), &n, PROBE_TIMEOUT_MS)) !=
	    LPA_OK)
		return r;
	if (n < 2 || (size_t)resp[1] + 2 > n || (size_t)resp[1] >= cap)
		return LPA_ERR_PROTOCOL;
	memcpy(out, resp + 2, resp[1]);
	out[resp[1]] = '\0';
	return resp[1];
}

static void probe_query(struct probe_usb *pu)
{
	struct prog_probe_info *info = &pu->info;
	char b[64];

	(void)probe_info(pu, 0x09, info->firmware, sizeof(info->firmware));
	(void)probe_info(pu, 0x04, info->protocol, sizeof(info->protocol));
	if (probe_info(pu, 0xF0, b, sizeof(b)) >= 1)
		info->capabilities = (uint8_t)b[0];
	if (probe_info(pu, 0xFF, b, sizeof(b)) == 2)
		info->packet_size = (uint16_t)((uint8_t)b[0] | (uint8_t)b[1] << 8);
	if (probe_info(pu, 0xFE, b, sizeof(b)) == 1)
		info->packet_count = (uint8_t)b[0];
}

/* Opens dev if it is a CMSIS-DAP probe. claim: claim the bulk interface and query it. */
static int probe_open_dev(libusb_device *dev, bool claim, struct probe_usb *pu)
{
	struct libusb_device_descriptor dd;
	libusb_device_handle *h = NULL;
	bool cmsis = false;
	int r, e;

	memset(pu, 0, sizeof(*pu));
	if (libusb_get_device_descriptor(dev, &dd) != 0)
		return LPA_ERR_NOT_FOUND;
	/* Only open what could be a probe: known PIDs, or any device whose strings we must
	 * read to tell (product "CMSIS-DAP" is the spec's rule for unknown vendors). */
	if (dd.bDeviceClass == LIBUSB_CLASS_HUB)
		return LPA_ERR_NOT_FOUND;
	if ((e = libusb_open(dev, &h)) != 0)
		return probe_is_known(dd.idVendor, dd.idProduct) ? probe_usb_err(e)
								 : LPA_ERR_NOT_FOUND;
	pu->handle = h;
	pu->info.vid = dd.idVendor;
	pu->info.pid = dd.idProduct;
	probe_string(h, dd.iSerialNumber, pu->info.serial, sizeof(pu->info.serial));
	probe_string(h, dd.iManufacturer, pu->info.manufacturer, sizeof(pu->info.manufacturer));
	probe_string(h, dd.iProduct, pu->info.product, sizeof(pu->info.product));
	probe_bus_path(dev, pu->info.bus_path, sizeof(pu->info.bus_path));
	r = probe_find_bulk(dev, h, pu, &cmsis);
	if (r != LPA_OK && !cmsis && strstr(pu->info.product, "CMSIS-DAP") == NULL &&
	    !probe_is_known(dd.idVendor, dd.idProduct)) {
		r = LPA_ERR_NOT_FOUND;
		goto fail;
	}
	if (r != LPA_OK) {
		snprintf(pu->info.note, sizeof(pu->info.note),
			 "no CMSIS-DAP v2 bulk interface (HID v1 probes need --backend openocd)");
		return claim ? (probe_usb_close(pu), LPA_ERR_UNSUPPORTED) : LPA_OK;
	}
	pu->info.v2_bulk = true;
	if (!claim)
		return LPA_OK;
	(void)libusb_set_auto_detach_kernel_driver(h, 1);
	if ((e = libusb_claim_interface(h, pu->iface)) != 0) {
		snprintf(pu->info.note, sizeof(pu->info.note), "busy (in use by another program)");
		r = e == LIBUSB_ERROR_BUSY ? LPA_ERR_SYSTEM : probe_usb_err(e);
		goto fail;
	}
	probe_query(pu);
	return LPA_OK;
fail:
	libusb_close(h);
	pu->handle = NULL;
	return r;
}

void probe_usb_close(struct probe_usb *pu)
{
	if (pu->handle == NULL)
		return;
	if (pu->info.v2_bulk)
		(void)libusb_release_interface(pu->handle, pu->iface);
	libusb_close(pu->handle);
	pu->handle = NULL;
}

int probe_usb_open(libusb_context *usb, const char *serial, struct probe_usb *out)
{
	libusb_device **devs = NULL;
	ssize_t n;
	int found = 0, r = LPA_ERR_NOT_FOUND;

	memset(out, 0, sizeof(*out));
	if ((n = libusb_get_device_list(usb, &devs)) < 0)
		return probe_usb_err((int)n);
	for (ssize_t i = 0; i < n; i++) {
		struct probe_usb pu;

		if (probe_open_dev(devs[i], false, &pu) != LPA_OK)
			continue;
		if (serial != NULL && strcmp(pu.info.serial, serial) != 0) {
			probe_usb_close(&pu);
			continue;
		}
		probe_usb_close(&pu);
		if (++found > 1) {
			/* Without a serial the choice would be arbitrary: refuse. */
			probe_usb_close(out);
			r = LPA_ERR_INVAL;
			break;
		}
		r = probe_open_dev(devs[i], true, out);
		if (r == LPA_OK && !out->info.v2_bulk)
			r = LPA_ERR_UNSUPPORTED;
		if (serial != NULL)
			break;
	}
	libusb_free_device_list(devs, 1);
	if (r != LPA_OK)
		probe_usb_close(out);
	return r;
}

static int probe_cmp(const void *a, const void *b)
{
	return strcmp(((const struct prog_probe_info *)a)->serial,
		      ((const struct prog_probe_info *)b)->serial);
}

int prog_probe_list(struct prog_probe_info **list, size_t *count)
{
	libusb_context *usb = NULL;
	libusb_device **devs = NULL;
	struct prog_probe_info *out = NULL;
	size_t m = 0;
	ssize_t n;
	int r = LPA_ERR_SYSTEM;

	*list = NULL;
	*count = 0;
	if (libusb_init(&usb) != 0)
		return LPA_ERR_SYSTEM;
	if ((n = libusb_get_device_list(usb, &devs)) < 0) {
		r = probe_usb_err((int)n);
		goto fail;
	}
	if ((out = calloc((size_t)n + 1, sizeof(*out))) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	for (ssize_t i = 0; i < n; i++) {
		struct probe_usb pu;
		int e = probe_open_dev(devs[i], true, &pu);

		if (e == LPA_ERR_NOT_FOUND)
			continue;
		/* A probe we could not claim (busy, v1) is still listed, with a note. */
		out[m++] = pu.info;
		probe_usb_close(&pu);
	}
	qsort(out, m, sizeof(*out), probe_cmp);
	*list = out;
	*count = m;
	out = NULL;
	r = LPA_OK;
fail:
	free(out);
	if (devs != NULL)
		libusb_free_device_list(devs, 1);
	libusb_exit(usb);
	return r;
}

/* ------------------------------------------------------------------ hot-plug */
struct prog_watch {
	libusb_context *usb;
	libusb_hotplug_callback_handle cb;
	prog_probe_event_cb user_cb;
	void *user_ctx;
};

static int LIBUSB_CALL probe_hotplug(libusb_context *usb, libusb_device *dev,
				     libusb_hotplug_event ev, void *ctx)
{
	struct prog_watch *w = ctx;
	struct libusb_device_descriptor dd;
	struct prog_probe_info info = {0};
	struct probe_usb pu;

	(void)usb;
	if (ev == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED) {
		if (probe_open_dev(dev, true, &pu) == LPA_ERR_NOT_FOUND)
			return 0;
		info = pu.info;
		probe_usb_close(&pu);
	} else {
		/* Gone: strings cannot be read any more, only the descriptor and the path. */
		if (libusb_get_device_descriptor(dev, &dd) != 0 ||
		    !probe_is_known(dd.idVendor, dd.idProduct))
			return 0;
		info.vid = dd.idVendor;
		info.pid = dd.idProduct;
		probe_bus_path(dev, info.bus_path, sizeof(info.bus_path));
	}
	w->user_cb(w->user_ctx, ev == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED, &info);
	return 0;
}

int prog_probe_watch_start(prog_probe_event_cb cb, void *ctx, prog_watch **out)
{
	prog_watch *w;

	*out = NULL;
	if (!libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG))
		return LPA_ERR_UNSUPPORTED;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return LPA_ERR_NOMEM;
	w->user_cb = cb;
	w->user_ctx = ctx;
	if (libusb_init(&w->usb) != 0) {
		free(w);
		return LPA_ERR_SYSTEM;
	}
	if (libusb_hotplug_register_callback(
		    w->usb, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
		    LIBUSB_HOTPLUG_ENUMERATE, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
		    LIBUSB_HOTPLUG_MATCH_ANY, probe_hotplug, w, &w->cb) != 0) {
		libusb_exit(w->usb);
		free(w);
		return LPA_ERR_SYSTEM;
	}
	*out = w;
	return LPA_OK;
}

int prog_probe_watch_poll(prog_watch *w, int timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

	return probe_usb_err(libusb_handle_events_timeout_completed(w->usb, &tv, NULL));
}

void prog_probe_watch_stop(prog_watch **wp)
{
	if (wp == NULL || *wp == NULL)
		return;
	libusb_hotplug_deregister_callback((*wp)->usb, (*wp)->cb);
	libusb_exit((*wp)->usb);
	free(*wp);
	*wp = NULL;
}
