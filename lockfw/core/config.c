/*
 * config.c: the settings record; see config.h. Layout (104 bytes, big-endian):
 * flags u8 (bit 0 provisioned, bit 1 time known), site_id u32, spot_id u32,
 * site_pub[64], mgmt_seq u32, revoke_serial u32, time_saved u32, total_unlocks u32,
 * the SET_LOCKOUT payload (7 bytes), then mgmt_id[8]. A record of 96 bytes, written
 * before mgmt_id was kept, loads with it unknown.
 */
#include "config.h"

#include <string.h>

#include "layout.h"

#define CONFIG_LEN_V1 96
#define CONFIG_LEN (CONFIG_LEN_V1 + LOCK_MGMT_ID_LEN)
#define CONFIG_PROVISIONED 0x01
#define CONFIG_TIME_KNOWN 0x02

static void config_defaults(struct lock_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->lockout.max_failures = LOCKOUT_DEFAULT_FAILURES;
	cfg->lockout.window_s = LOCKOUT_DEFAULT_WINDOW_S;
	cfg->lockout.lockout_s = LOCKOUT_DEFAULT_LOCKOUT_S;
}

int config_load(struct lock_config *cfg, struct store *s)
{
	uint8_t rec[CONFIG_LEN];
	union proto_mgmt_payload u;
	struct wire_reader r;
	size_t len;
	uint8_t flags;
	int e;

	config_defaults(cfg);
	e = store_get(s, LAYOUT_KEY_CONFIG, rec, sizeof(rec), &len);
	if (e == -STORE_E_NOENT)
		return 0;
	if (e != 0 || (len != CONFIG_LEN && len != CONFIG_LEN_V1))
		return -PROTO_E_FLASH;
	wire_reader_init(&r, rec, len);
	flags = wire_get_u8(&r);
	cfg->provisioned = (flags & CONFIG_PROVISIONED) != 0;
	cfg->time_known = (flags & CONFIG_TIME_KNOWN) != 0;
	cfg->site_id = wire_get_u32(&r);
	cfg->spot_id = wire_get_u32(&r);
	wire_get_bytes(&r, cfg->site_pub, PROTO_PUBKEY_LEN);
	cfg->mgmt_seq = wire_get_u32(&r);
	cfg->revoke_serial = wire_get_u32(&r);
	cfg->time_saved = wire_get_u32(&r);
	cfg->total_unlocks = wire_get_u32(&r);
	if (r.error || proto_mgmt_decode_payload(PROTO_MGMT_SET_LOCKOUT, rec + r.off,
						 CONFIG_LEN_V1 - r.off, &u) != 0)
		return -PROTO_E_FLASH;
	cfg->lockout = u.lockout;
	if (len == CONFIG_LEN)
		memcpy(cfg->mgmt_id, rec + CONFIG_LEN_V1, LOCK_MGMT_ID_LEN);
	return 0;
}

int config_save(const struct lock_config *cfg, struct store *s)
{
	uint8_t rec[CONFIG_LEN];
	union proto_mgmt_payload u;
	struct wire_writer w;
	uint8_t flags = 0;

	if (cfg->provisioned)
		flags |= CONFIG_PROVISIONED;
	if (cfg->time_known)
		flags |= CONFIG_TIME_KNOWN;
	wire_writer_init(&w, rec, sizeof(rec));
	wire_put_u8(&w, flags);
	wire_put_u32(&w, cfg->site_id);
	wire_put_u32(&w, cfg->spot_id);
	wire_put_bytes(&w, cfg->site_pub, PROTO_PUBKEY_LEN);
	wire_put_u32(&w, cfg->mgmt_seq);
	wire_put_u32(&w, cfg->revoke_serial);
	wire_put_u32(&w, cfg->time_saved);
	wire_put_u32(&w, cfg->total_unlocks);
	u.lockout = cfg->lockout;
	proto_mgmt_encode_payload(&w, PROTO_MGMT_SET_LOCKOUT, &u);
	wire_put_bytes(&w, cfg->mgmt_id, LOCK_MGMT_ID_LEN);
	if (w.error || w.off != CONFIG_LEN)
		return -PROTO_E_INTERNAL;
	return store_put(s, LAYOUT_KEY_CONFIG, rec, sizeof(rec)) == 0 ? 0 : -PROTO_E_FLASH;
}
