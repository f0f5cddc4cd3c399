/* The scripted MS-TURN server of msturn_srv.h: [MS-TURN] as tests/interop/msturn_check.c
 * found libnice's OC2007 client to expect it, answers signed with the long-term key. */
#include "msturn_srv.h"

#include <string.h>

#define BF (STUN_BF_LEGACY | STUN_BF_UNPADDED)
#define PF (STUN_PF_MS_ATTRS | STUN_PF_UNPADDED)

void msturn_srv_init(struct msturn_srv *s, const struct ice_addr *relayed,
		     const struct ice_addr *mapped)
{
	memset(s, 0, sizeof(*s));
	s->relayed = *relayed;
	s->mapped = *mapped;
	for (unsigned i = 0; i < sizeof(s->conn_id); i++)
		s->conn_id[i] = (uint8_t)(0x11 * (i + 1));
	stun_key_init_long_term(&s->key, MSTURN_SRV_USER, MSTURN_SRV_REALM, MSTURN_SRV_PASS);
}

static void start(struct stun_builder *b, uint8_t *out, size_t cap, uint16_t type,
		  const uint8_t *tid)
{
	stun_build_init(b, out, cap, type, tid, BF);
	stun_build_u32(b, MSTURN_A_MAGIC_COOKIE, MSTURN_MAGIC_COOKIE_VALUE);
}

/* [MS-TURN] §2.2.2.21: numbers must rise per connection id */
static bool take_seq(struct msturn_srv *s, const struct stun_msg *m)
{
	const uint8_t *p;
	uint16_t l;
	uint32_t seq;

	if (stun_msg_get_bytes(m, MSTURN_A_MS_SEQUENCE_NUMBER, &p, &l) != 0 || l != MSTURN_MS_SEQ_LEN ||
	    memcmp(p, s->conn_id, sizeof(s->conn_id)))
		return false;
	seq = ((uint32_t)p[20] << 24) | ((uint32_t)p[21] << 16) | ((uint32_t)p[22] << 8) | p[23];
	if (seq <= (s->seq_started ? s->last_seq : MSTURN_SRV_FIRST_SEQ))
		return false;
	s->seq_started = true;
	s->last_seq = seq;
	return true;
}

static bool user_ok(const struct stun_msg *m)
{
	const uint8_t *p;
	uint16_t l;

	return stun_msg_get_bytes(m, STUN_A_USERNAME, &p, &l) == 0 &&
	       l == strlen(MSTURN_SRV_USER) && memcmp(p, MSTURN_SRV_USER, l) == 0;
}

static int allocate(struct msturn_srv *s, const struct stun_msg *m, uint8_t *out, size_t cap)
{
	struct stun_builder b;
	uint8_t seq[MSTURN_MS_SEQ_LEN];
	uint32_t life = 600;

	s->allocs++;
	if (!m->mi_off) {
		start(&b, out, cap, stun_type(TURN_M_ALLOCATE, STUN_C_ERROR), stun_msg_tid(m));
		stun_build_error(&b, 401, "Unauthorized");
		stun_build_str(&b, MSTURN_A_REALM, MSTURN_SRV_REALM);
		stun_build_str(&b, MSTURN_A_NONCE, "edge-nonce-1");
		return stun_build_finish(&b);
	}
	if (!user_ok(m) || stun_msg_check_integrity(m, &s->key, STUN_MI_PAD64) != 0) {
		s->bad++;
		start(&b, out, cap, stun_type(TURN_M_ALLOCATE, STUN_C_ERROR), stun_msg_tid(m));
		stun_build_error(&b, 401, "Unauthorized");
		stun_build_str(&b, MSTURN_A_REALM, MSTURN_SRV_REALM);
		stun_build_str(&b, MSTURN_A_NONCE, "edge-nonce-2");
		return stun_build_finish(&b);
	}
	s->allocs_signed++;
	stun_msg_get_u32(m, TURN_A_LIFETIME, &life);
	if (s->allocated && life)
		s->refreshes++;
	else if (s->allocated)
		s->releases++;
	s->allocated = life != 0;
	memcpy(seq, s->conn_id, sizeof(s->conn_id));
	seq[20] = 0;
	seq[21] = 0;
	seq[22] = 0;
	seq[23] = MSTURN_SRV_FIRST_SEQ;
	start(&b, out, cap, stun_type(TURN_M_ALLOCATE, STUN_C_SUCCESS), stun_msg_tid(m));
	stun_build_addr(&b, STUN_A_MAPPED_ADDRESS, &s->relayed);
	stun_build_addr(&b, MSTURN_A_XOR_MAPPED_ADDRESS, &s->mapped);
	stun_build_u32(&b, TURN_A_LIFETIME, life);
	stun_build_attr(&b, MSTURN_A_MS_SEQUENCE_NUMBER, seq, sizeof(seq));
	stun_build_u32(&b, MSTURN_A_MS_VERSION, MSTURN_VERSION);
	stun_build_integrity(&b, &s->key, STUN_MI_PAD64);
	return stun_build_finish(&b);
}

int msturn_srv_input(struct msturn_srv *s, const uint8_t *p, size_t len, uint8_t *out, size_t cap)
{
	struct stun_msg m;
	struct stun_builder b;
	const uint8_t *d;
	uint16_t dl;
	struct ice_addr dest;

	if (!turn_msturn_is_control(p, len)) {
		/* [MS-TURN] §3.2.4.5: bare data for the active destination */
		if (!s->active || len > sizeof(s->data)) {
			s->bad++;
			return 0;
		}
		s->bare++;
		s->data_to = s->active_dest;
		s->data_len = (uint16_t)len;
		memcpy(s->data, p, len);
		return 0;
	}
	if (stun_parse(&m, p, len, PF) != 0 || (m.flags & STUN_MF_COOKIE) || m.cls != STUN_C_REQUEST) {
		s->bad++;
		return 0;
	}
	switch (m.method) {
	case TURN_M_ALLOCATE:
		return allocate(s, &m, out, cap);
	case MSTURN_M_SEND:
		if (!s->allocated || !user_ok(&m) || !take_seq(s, &m) ||
		    stun_msg_check_integrity(&m, &s->key, STUN_MI_PAD64) != 0 ||
		    stun_msg_get_addr(&m, MSTURN_A_DESTINATION_ADDRESS, &dest) != 0 ||
		    stun_msg_get_bytes(&m, TURN_A_DATA, &d, &dl) != 0 || dl > sizeof(s->data)) {
			s->bad++;
			return 0;
		}
		s->sends++;
		s->data_to = dest;
		s->data_len = dl;
		memcpy(s->data, d, dl);
		return 0;
	case MSTURN_M_SET_ACTIVE_DEST:
		if (!s->allocated || !user_ok(&m) || !take_seq(s, &m) ||
		    stun_msg_check_integrity(&m, &s->key, STUN_MI_PAD64) != 0 ||
		    stun_msg_get_addr(&m, MSTURN_A_DESTINATION_ADDRESS, &dest) != 0) {
			s->bad++;
			return 0;
		}
		s->sads++;
		if (s->sad_silent)
			return 0;
		if (s->sad_refuse) {
			start(&b, out, cap, stun_type(MSTURN_M_SET_ACTIVE_DEST, STUN_C_ERROR),
			      stun_msg_tid(&m));
			stun_build_error(&b, 403, "Forbidden");
		} else {
			s->active = true;
			s->active_dest = dest;
			start(&b, out, cap, stun_type(MSTURN_M_SET_ACTIVE_DEST, STUN_C_SUCCESS),
			      stun_msg_tid(&m));
		}
		stun_build_integrity(&b, &s->key, STUN_MI_PAD64);
		return stun_build_finish(&b);
	default:
		s->bad++;
		return 0;
	}
}

int msturn_srv_relay(struct msturn_srv *s, const struct ice_addr *peer, const uint8_t *p,
		     size_t len, uint8_t *out, size_t cap)
{
	struct stun_builder b;
	uint8_t tid[STUN_LEGACY_TID_LEN], v[8];

	if (s->active && ice_addr_eq(peer, &s->active_dest)) {
		if (len > cap)
			return -1;
		memcpy(out, p, len);
		return (int)len;
	}
	for (unsigned i = 0; i < sizeof(tid); i++)
		tid[i] = (uint8_t)(0xa0 + i + s->sends);
	/* [MS-TURN] §2.2.1: 0x0115; REMOTE-ADDRESS (0x0012) plain, written byte by byte */
	start(&b, out, cap, MSTURN_T_DATA_IND, tid);
	v[0] = 0;
	v[1] = 0x01;
	v[2] = (uint8_t)(peer->port >> 8);
	v[3] = (uint8_t)peer->port;
	memcpy(v + 4, peer->ip, 4);
	stun_build_attr(&b, TURN_A_XOR_PEER_ADDRESS, v, sizeof(v));
	stun_build_attr(&b, TURN_A_DATA, p, len);
	return stun_build_finish(&b);
}
