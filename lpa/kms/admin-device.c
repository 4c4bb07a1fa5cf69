/*
 * admin-device.c — `lpa-kms admin` for what the KMS holds: authorising the
 * re-provisioning of a chip, looking a device up (by DevEUI or chip UID) with every
 * attempt of it, and the overview (`list`, as text or --json).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kms-auth.h"

#include "admin-private.h"

static int admin_device_hex64(const char *s, uint64_t *v)
{
	return lpa_eui_parse(s, v) == LPA_OK ? KMS_OK : KMS_ERR_INVAL;
}

static json_t *admin_device_hex(uint64_t v, int digits)
{
	char s[17];

	snprintf(s, sizeof(s), "%0*llx", digits, (unsigned long long)v);
	return json_string(s);
}

int admin_device_reprovision(const struct admin_opts *o)
{
	struct admin_ctx a;
	uint64_t uid;
	int r, changed = 0;

	if (admin_device_hex64(o->arg, &uid) != KMS_OK) {
		fprintf(stderr, "lpa-kms: allow-reprovision CHIP_UID (16 hex digits)\n");
		return KMS_ERR_INVAL;
	}
	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_begin(&a)) == KMS_OK) {
		r = db_run(a.db, &changed, "UPDATE devices SET reprovision = 1 WHERE chip_uid = ?",
			   "u", uid);
		if (r == KMS_OK && changed != 1)
			r = KMS_ERR_NOT_FOUND;
		/* --counter: the chip's counter as the station's exam read it, when it is
		 * above what this KMS issued (a KMS restored from an older backup); the next
		 * package goes past it. The KMS's counter never goes down. */
		if (r == KMS_OK && o->has_counter)
			r = db_run(
				a.db, NULL,
				"UPDATE devices SET counter = ? WHERE chip_uid = ? AND counter < ?",
				"iui", (int64_t)o->counter, uid, (int64_t)o->counter);
		r = admin_end(&a, "allow-reprovision", o->arg, r);
	}
	if (r == KMS_OK)
		printf("chip %s may be provisioned once more\n", o->arg);
	admin_close(&a);
	return r;
}

/* Every attempt of a device, oldest first. */
static json_t *admin_device_attempts(struct db *db, uint64_t dev_eui)
{
	struct db_stmt *st = NULL;
	json_t *arr = json_array();
	int r;

	for (r = db_query(
		     db, &st,
		     "SELECT a.counter, a.state, a.lot, a.join_eui, a.lorawan, a.issued_at,"
		     " a.confirmed_at, a.reason, s.name, o.name, a.probe_serial FROM attempts a"
		     " LEFT JOIN stations s ON s.id = a.station_id"
		     " LEFT JOIN operators o ON o.id = a.operator_id"
		     " WHERE a.dev_eui = ? ORDER BY a.counter",
		     "u", dev_eui);
	     arr && r == KMS_OK; r = db_next(st))
		json_array_append_new(
			arr,
			json_pack("{s:I, s:s, s:s, s:o, s:s, s:I, s:o, s:s?, s:s?, s:s?, s:s?}",
				  "counter", (json_int_t)db_col_int64(st, 0), "state",
				  db_col_text(st, 1), "lot", db_col_text(st, 2), "join_eui",
				  admin_device_hex((uint64_t)db_col_int64(st, 3), 16), "lorawan",
				  db_col_int(st, 4) == LPA_LORAWAN_11 ? "1.1" : "1.0.4",
				  "issued_at", (json_int_t)db_col_int64(st, 5), "confirmed_at",
				  db_col_null(st, 6) ? json_null()
						     : json_integer(db_col_int64(st, 6)),
				  "reason", db_col_text(st, 7), "station", db_col_text(st, 8),
				  "operator", db_col_text(st, 9), "probe_serial",
				  db_col_text(st, 10)));
	db_done(&st);
	if (r != KMS_ERR_NOT_FOUND) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

int admin_device_show(const struct admin_opts *o)
{
	struct admin_ctx a;
	struct db_stmt *st = NULL;
	json_t *dev = NULL, *attempts;
	uint64_t v, dev_eui;
	char *text;
	int r;

	if (admin_device_hex64(o->arg, &v) != KMS_OK) {
		fprintf(stderr, "lpa-kms: show-device DEV_EUI|CHIP_UID (16 hex digits)\n");
		return KMS_ERR_INVAL;
	}
	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	/* DevEUIs and chip UIDs do not collide in practice; a DevEUI is looked for first. */
	r = db_query(a.db, &st,
		     "SELECT dev_eui, chip_uid, silicon_id, counter, provisioned_counter,"
		     " reprovision, created_at FROM devices WHERE dev_eui = ?1 OR chip_uid = ?1"
		     " ORDER BY dev_eui = ?1 DESC LIMIT 1",
		     "u", v);
	if (r == KMS_ERR_NOT_FOUND)
		fprintf(stderr, "lpa-kms: no device with DevEUI or chip UID %s\n", o->arg);
	if (r != KMS_OK)
		goto fail;
	dev_eui = (uint64_t)db_col_int64(st, 0);
	dev = json_pack("{s:o, s:o, s:o, s:I, s:o, s:b, s:I}", "dev_eui",
			admin_device_hex(dev_eui, 16), "chip_uid",
			admin_device_hex((uint64_t)db_col_int64(st, 1), 16), "silicon_id",
			admin_device_hex((uint64_t)db_col_int64(st, 2), 8), "counter",
			(json_int_t)db_col_int64(st, 3), "provisioned_counter",
			db_col_null(st, 4) ? json_null() : json_integer(db_col_int64(st, 4)),
			"reprovision_allowed", db_col_int(st, 5) != 0, "created_at",
			(json_int_t)db_col_int64(st, 6));
	db_done(&st);
	if (!dev || (attempts = admin_device_attempts(a.db, dev_eui)) == NULL) {
		r = KMS_ERR_DB;
		goto fail;
	}
	json_object_set_new(dev, "attempts", attempts);
	if ((text = json_dumps(dev, JSON_INDENT(2))) == NULL) {
		r = KMS_ERR_NOMEM;
		goto fail;
	}
	printf("%s\n", text);
	free(text);
	r = KMS_OK;
fail:
	db_done(&st);
	json_decref(dev);
	admin_close(&a);
	return r;
}

/* The overview as one JSON object; the text form prints the same facts. */
static int admin_device_overview(struct db *db, json_t **out)
{
	struct db_stmt *st = NULL;
	json_t *o = json_object(), *ops = json_array(), *sts = json_array(), *att = json_object();
	int64_t base = 0, count = 0, next = 0, now = (int64_t)time(NULL);
	int r;

	*out = NULL;
	if (!o || !ops || !sts || !att) {
		r = KMS_ERR_NOMEM;
		goto fail;
	}
	for (r = db_query(db, &st,
			  "SELECT o.name, o.roles, o.disabled, o.lots, o.join_euis, o.totp_alg,"
			  " (SELECT count(*) FROM login_failures f WHERE f.name = o.name"
			  " AND f.locked_until > ?) FROM operators o ORDER BY o.name",
			  "i", now);
	     r == KMS_OK; r = db_next(st))
		json_array_append_new(
			ops,
			json_pack("{s:s, s:o, s:b, s:s, s:s, s:s, s:I}", "name", db_col_text(st, 0),
				  "roles", operator_roles_json((unsigned)db_col_int(st, 1)),
				  "disabled", db_col_int(st, 2) != 0, "lots", db_col_text(st, 3),
				  "join_euis", db_col_text(st, 4), "totp",
				  db_col_int(st, 5) ? "sha256" : "sha1", "locked_at_stations",
				  (json_int_t)db_col_int64(st, 6)));
	db_done(&st);
	if (r != KMS_ERR_NOT_FOUND)
		goto fail;
	for (r = db_query(db, &st, "SELECT name, serial, revoked_at FROM stations ORDER BY name",
			  NULL);
	     r == KMS_OK; r = db_next(st))
		json_array_append_new(sts, json_pack("{s:s, s:I, s:b}", "name", db_col_text(st, 0),
						     "serial", (json_int_t)db_col_int64(st, 1),
						     "revoked", !db_col_null(st, 2)));
	db_done(&st);
	if (r != KMS_ERR_NOT_FOUND)
		goto fail;
	for (r = db_query(db, &st, "SELECT state, count(*) FROM attempts GROUP BY state", NULL);
	     r == KMS_OK; r = db_next(st))
		json_object_set_new(att, db_col_text(st, 0), json_integer(db_col_int64(st, 1)));
	db_done(&st);
	if (r != KMS_ERR_NOT_FOUND)
		goto fail;
	db_meta_get_int(db, "dev_eui_base", &base);
	db_meta_get_int(db, "dev_eui_count", &count);
	db_meta_get_int(db, "dev_eui_next", &next);
	json_object_set_new(o, "operators", ops);
	json_object_set_new(o, "stations", sts);
	json_object_set_new(o, "dev_euis",
			    json_pack("{s:o, s:I, s:I}", "base",
				      admin_device_hex((uint64_t)base, 16), "count",
				      (json_int_t)count, "allocated", (json_int_t)next));
	json_object_set_new(o, "attempts", att);
	*out = o;
	return KMS_OK;
fail:
	db_done(&st);
	json_decref(o);
	json_decref(ops);
	json_decref(sts);
	json_decref(att);
	return r;
}

int admin_device_list(const struct admin_opts *o)
{
	struct admin_ctx a;
	json_t *ov = NULL, *v;
	const char *k;
	size_t i;
	char *text;
	int r;

	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_device_overview(a.db, &ov)) != KMS_OK)
		goto fail;
	if (o->json) {
		if ((text = json_dumps(ov, JSON_INDENT(2))) == NULL) {
			r = KMS_ERR_NOMEM;
			goto fail;
		}
		printf("%s\n", text);
		free(text);
		goto fail;
	}
	printf("operators:\n");
	json_array_foreach(json_object_get(ov, "operators"), i, v)
	{
		char roles[32] = "";
		json_t *role;
		size_t j;

		json_array_foreach(json_object_get(v, "roles"), j, role)
		{
			if (roles[0])
				strncat(roles, ",", sizeof(roles) - strlen(roles) - 1);
			strncat(roles, json_string_value(role), sizeof(roles) - strlen(roles) - 1);
		}
		printf("  %-20s roles=%s%s%s lots=%s join_euis=%s totp=%s\n",
		       json_string_value(json_object_get(v, "name")), roles,
		       json_is_true(json_object_get(v, "disabled")) ? " DISABLED" : "",
		       json_integer_value(json_object_get(v, "locked_at_stations")) ? " BACKING-OFF"
										    : "",
		       json_string_value(json_object_get(v, "lots")),
		       json_string_value(json_object_get(v, "join_euis")),
		       json_string_value(json_object_get(v, "totp")));
	}
	printf("stations:\n");
	json_array_foreach(json_object_get(ov, "stations"), i, v)
		printf("  %-20s serial=%lld%s\n", json_string_value(json_object_get(v, "name")),
		       (long long)json_integer_value(json_object_get(v, "serial")),
		       json_is_true(json_object_get(v, "revoked")) ? " REVOKED" : "");
	v = json_object_get(ov, "dev_euis");
	printf("devices:\n  DevEUI block %s + %lld, %lld allocated\n",
	       json_string_value(json_object_get(v, "base")),
	       (long long)json_integer_value(json_object_get(v, "count")),
	       (long long)json_integer_value(json_object_get(v, "allocated")));
	json_object_foreach(json_object_get(ov, "attempts"), k, v)
		printf("  attempts %-10s %lld\n", k, (long long)json_integer_value(v));
fail:
	json_decref(ov);
	admin_close(&a);
	return r;
}
