/* TURN framing on the owning core: what comes from a leg's relay is unwrapped and what leaves
 * through it is wrapped (RFC 8656 or [MS-TURN]), in caller buffers, without allocation, locks
 * or syscalls. */
#include "dp_turn.h"

#include <errno.h>
#include <string.h>

#include "dp_pkt.h"
#include "stun.h"
#include "turn.h"

static const struct dp_turn_chan *chan_by_peer(const struct dp_turn_comp *tc,
					       const struct ice_addr *peer)
{
	uint32_t ip = ice_addr_v4(peer);

	for (unsigned i = 0; i < tc->nchan; i++)
		if (tc->chan[i].ip == ip && tc->chan[i].port == peer->port)
			return &tc->chan[i];
	return NULL;
}

bool dp_turn_chan_set(struct dp_turn_comp *tc, const struct ice_addr *peer, uint16_t number)
{
	uint32_t ip = ice_addr_v4(peer);

	for (unsigned i = 0; i < tc->nchan; i++)
		if ((tc->chan[i].ip == ip && tc->chan[i].port == peer->port) ||
		    tc->chan[i].number == number) {
			tc->chan[i] = (struct dp_turn_chan){.ip = ip, .port = peer->port, .number = number};
			return true;
		}
	if (tc->nchan == DP_TURN_CHANS)
		return false;
	tc->chan[tc->nchan++] = (struct dp_turn_chan){.ip = ip, .port = peer->port, .number = number};
	return true;
}

/* [MS-TURN] §3.1.10: control messages start with MAGIC-COOKIE; anything else from the server
 * is the active destination's data, bare. */
static enum dp_turn_rx ms_classify(const struct dp_turn_comp *tc, const uint8_t *p, uint16_t len,
				   struct ice_addr *peer, const uint8_t **data, uint16_t *dlen)
{
	struct stun_msg m;
	const struct stun_attr *at;
	const uint8_t *v;

	if (!turn_msturn_is_control(p, len)) {
		if (!tc->ms_active)
			return DP_TURN_RX_DROP;
		ice_addr_set_v4(peer, tc->ms_active_ip, tc->ms_active_port);
		*data = p;
		*dlen = len;
		return DP_TURN_RX_DATA;
	}
	if (stun_parse(&m, p, len, STUN_PF_MS_ATTRS | STUN_PF_UNPADDED) != 0)
		return DP_TURN_RX_DROP;
	if (m.type == MSTURN_T_DATA_IND) {
		/* [MS-TURN] §2.2.2.10: REMOTE-ADDRESS (0x0012) is a plain address here */
		at = stun_msg_find(&m, TURN_A_XOR_PEER_ADDRESS);
		if (!at || at->len != 8 || stun_msg_get_bytes(&m, TURN_A_DATA, data, dlen) != 0)
			return DP_TURN_RX_DROP;
		v = stun_attr_value(&m, at);
		if (v[1] != 0x01)
			return DP_TURN_RX_DROP;
		ice_addr_set_v4(peer, dp_rd32(v + 4), dp_rd16(v + 2));
		return DP_TURN_RX_DATA;
	}
	/* Allocate (and its refreshes and release) and Set-Active-Destination answers */
	if ((m.cls == STUN_C_SUCCESS || m.cls == STUN_C_ERROR) &&
	    (m.method == TURN_M_ALLOCATE || m.method == MSTURN_M_SET_ACTIVE_DEST))
		return DP_TURN_RX_CONTROL;
	return DP_TURN_RX_DROP;
}

enum dp_turn_rx dp_turn_classify(const struct dp_turn_comp *tc, const uint8_t *p, uint16_t len,
				 struct ice_addr *peer, const uint8_t **data, uint16_t *dlen)
{
	struct stun_msg m;
	int r;

	if (tc->ms)
		return ms_classify(tc, p, len, peer, data, dlen);
	switch (stun_classify(p, len)) {
	case STUN_KIND_CHANNELDATA: {
		uint16_t ch;

		if (stun_channeldata_parse(p, len, &ch, data, dlen) != 0)
			return DP_TURN_RX_DROP;
		for (unsigned i = 0; i < tc->nchan; i++)
			if (tc->chan[i].number == ch) {
				ice_addr_set_v4(peer, tc->chan[i].ip, tc->chan[i].port);
				return DP_TURN_RX_DATA;
			}
		return DP_TURN_RX_DROP;
	}
	case STUN_KIND_RFC:
		break;
	default:
		return DP_TURN_RX_DROP;
	}
	r = stun_parse(&m, p, len, 0);
	if (r != 0 && r != STUN_E_UNKNOWN_REQUIRED)
		return DP_TURN_RX_DROP;
	if (m.cls == STUN_C_INDICATION && m.method == TURN_M_DATA) {
		/* RFC 8656 §11.4: XOR-PEER-ADDRESS and DATA, or the indication is discarded */
		if (r != 0 || stun_msg_get_addr(&m, TURN_A_XOR_PEER_ADDRESS, peer) != 0 ||
		    peer->family != ICE_AF_INET || stun_msg_get_bytes(&m, TURN_A_DATA, data, dlen) != 0)
			return DP_TURN_RX_DROP;
		return DP_TURN_RX_DATA;
	}
	if ((m.cls == STUN_C_SUCCESS || m.cls == STUN_C_ERROR) &&
	    (m.method == TURN_M_ALLOCATE || m.method == TURN_M_REFRESH ||
	     m.method == TURN_M_CREATE_PERMISSION || m.method == TURN_M_CHANNEL_BIND))
		return DP_TURN_RX_CONTROL;
	return DP_TURN_RX_DROP;
}

uint16_t dp_turn_head_len(const struct dp_turn_comp *tc, const struct ice_addr *peer)
{
	return chan_by_peer(tc, peer) ? 4 : STUN_HDR_LEN + 12 + 4;
}

uint16_t dp_turn_wrap(const struct dp_turn_comp *tc, const struct ice_addr *peer, uint8_t *buf,
		      uint16_t head, uint16_t dlen, const uint8_t tid[12])
{
	const struct dp_turn_chan *ch = chan_by_peer(tc, peer);
	uint16_t n, pad;
	uint32_t ip = ice_addr_v4(peer);

	if (ch && head == 4) {
		/* RFC 8656 §12.4: no padding over UDP */
		dp_wr16(buf, ch->number);
		dp_wr16(buf + 2, dlen);
		return (uint16_t)(4 + dlen);
	}
	/* RFC 8656 §11.1: Send indication, XOR-PEER-ADDRESS then DATA, unsigned; FINGERPRINT
	 * as turn.c puts on its own */
	pad = (uint16_t)((4 - (dlen & 3)) & 3);
	n = (uint16_t)(head + dlen + pad);
	memset(buf + head + dlen, 0, pad);
	dp_wr16(buf, stun_type(TURN_M_SEND, STUN_C_INDICATION));
	dp_wr32(buf + 4, STUN_MAGIC_COOKIE);
	memcpy(buf + 8, tid, 12);
	dp_wr16(buf + 20, TURN_A_XOR_PEER_ADDRESS);
	dp_wr16(buf + 22, 8);
	buf[24] = 0;
	buf[25] = 1; /* IPv4 */
	dp_wr16(buf + 26, (uint16_t)(peer->port ^ (STUN_MAGIC_COOKIE >> 16)));
	dp_wr32(buf + 28, ip ^ STUN_MAGIC_COOKIE);
	dp_wr16(buf + 32, TURN_A_DATA);
	dp_wr16(buf + 34, dlen);
	/* RFC 8489 §14.7: the length counts FINGERPRINT when its CRC is taken */
	dp_wr16(buf + 2, (uint16_t)(n + 8 - STUN_HDR_LEN));
	dp_wr16(buf + n, STUN_A_FINGERPRINT);
	dp_wr16(buf + n + 2, 4);
	dp_wr32(buf + n + 4, stun_crc32(buf, n) ^ STUN_FP_XOR);
	return (uint16_t)(n + 8);
}

/* ------------------------------------------------------------------ [MS-TURN] */

/* Sign a finished MS-TURN message of n bytes ending where MESSAGE-INTEGRITY goes, as
 * stun_build_integrity() does in STUN_MI_PAD64 mode: the header's length counts the
 * attribute, the HMAC input is zero-padded to 64 bytes. Returns the new length. */
static uint16_t ms_sign(const struct stun_key *key, uint8_t *buf, uint16_t n)
{
	static const uint8_t zero64[64];
	uint8_t hdr[STUN_HDR_LEN];

	memcpy(hdr, buf, STUN_HDR_LEN);
	dp_wr16(hdr + 2, (uint16_t)(n + DP_MSTURN_TAIL - STUN_HDR_LEN));
	dp_wr16(buf + n, STUN_A_MESSAGE_INTEGRITY);
	dp_wr16(buf + n + 2, STUN_MI_LEN);
	stun_hmac_sha1(key, hdr, STUN_HDR_LEN, buf + STUN_HDR_LEN, (size_t)n - STUN_HDR_LEN, zero64,
		       (64 - n % 64) % 64, buf + n + 4);
	dp_wr16(buf + 2, (uint16_t)(n + DP_MSTURN_TAIL - STUN_HDR_LEN));
	return (uint16_t)(n + DP_MSTURN_TAIL);
}

static void ms_put_seq(uint8_t *v, const struct dp_turn_comp *tc)
{
	memcpy(v, tc->ms_conn, MSTURN_MS_SEQ_CONN_ID_LEN);
	dp_wr32(v + MSTURN_MS_SEQ_CONN_ID_LEN, tc->ms_seq);
}

int dp_turn_ms_install(struct dp_turn_leg *tl, uint8_t comp, const struct dp_turn_cmd *cmd)
{
	struct dp_msturn t;
	struct stun_msg m;
	const struct stun_attr *a;
	struct dp_turn_comp *tc;
	uint16_t n = cmd->len;

	memset(&t, 0, sizeof(t));
	t.key = cmd->ms_key;
	if (comp < 1 || comp > 2 || n < STUN_HDR_LEN ||
	    stun_parse(&m, cmd->buf, n, STUN_PF_MS_ATTRS | STUN_PF_UNPADDED) != 0 ||
	    m.method != MSTURN_M_SEND || !turn_msturn_is_control(cmd->buf, n))
		return -EINVAL;
	/* DATA (empty) is last but for MESSAGE-INTEGRITY: the template ends at its header */
	a = stun_msg_find(&m, TURN_A_DATA);
	if (!a || a->len != 0)
		return -EINVAL;
	t.head_len = a->off;
	t.sign = m.mi_off != 0;
	if (t.head_len > DP_MSTURN_HEAD_MAX || n != t.head_len + (t.sign ? DP_MSTURN_TAIL : 0))
		return -EINVAL;
	a = stun_msg_find(&m, MSTURN_A_DESTINATION_ADDRESS);
	if (!a || a->len != 8)
		return -EINVAL;
	t.dst_off = a->off;
	a = stun_msg_find(&m, MSTURN_A_MS_SEQUENCE_NUMBER);
	if (a && a->len != MSTURN_MS_SEQ_LEN)
		return -EINVAL;
	t.seq_off = a ? a->off : 0;
	memcpy(t.head, cmd->buf, t.head_len);
	tc = &tl->comp[comp - 1];
	if (tl->ms.head_len) {
		/* the other component's: the same but for the transaction id, destination and
		 * number, which are written per message anyway */
		struct dp_msturn o = tl->ms;
		memcpy(o.head + 4, t.head + 4, STUN_LEGACY_TID_LEN);
		memcpy(o.head + o.dst_off, t.head + t.dst_off, 8);
		if (t.seq_off)
			memcpy(o.head + o.seq_off, t.head + t.seq_off, MSTURN_MS_SEQ_LEN);
		if (o.head_len != t.head_len || o.dst_off != t.dst_off || o.seq_off != t.seq_off ||
		    o.sign != t.sign || memcmp(&o.key, &t.key, sizeof(t.key)) ||
		    memcmp(o.head, t.head, t.head_len))
			return -EEXIST;
	} else {
		tl->ms = t;
	}
	if (t.seq_off)
		memcpy(tc->ms_conn, t.head + t.seq_off, MSTURN_MS_SEQ_CONN_ID_LEN);
	tc->ms_seq = cmd->ms_seq;
	tc->ms = 1;
	tc->ms_active = 0;
	tc->nchan = 0;
	return 0;
}

void dp_turn_ms_set_active(struct dp_turn_comp *tc, const struct ice_addr *peer)
{
	tc->ms_active = peer->family == ICE_AF_INET;
	tc->ms_active_ip = tc->ms_active ? ice_addr_v4(peer) : 0;
	tc->ms_active_port = tc->ms_active ? peer->port : 0;
}

uint16_t dp_turn_ms_head_len(const struct dp_turn_leg *tl, uint8_t comp, const struct ice_addr *peer)
{
	const struct dp_turn_comp *tc = &tl->comp[comp - 1];

	if (tc->ms_active && tc->ms_active_port == peer->port && tc->ms_active_ip == ice_addr_v4(peer))
		return 0;
	/* no template (yet): more than any frame holds, so the caller drops it */
	return tl->ms.head_len ? tl->ms.head_len : UINT16_MAX;
}

uint16_t dp_turn_ms_wrap(struct dp_turn_leg *tl, uint8_t comp, const struct ice_addr *peer,
			 uint8_t *buf, uint16_t head, uint16_t dlen, const uint8_t tid[16])
{
	struct dp_turn_comp *tc = &tl->comp[comp - 1];
	const struct dp_msturn *t = &tl->ms;
	uint8_t *d;
	uint16_t n;

	if (head == 0) /* [MS-TURN] §3.2.4.5: the active destination's data goes bare */
		return dlen;
	memcpy(buf, t->head, t->head_len);
	memcpy(buf + 4, tid, STUN_LEGACY_TID_LEN);
	d = buf + t->dst_off; /* a plain address: [0][family][port][IPv4] */
	d[0] = 0;
	d[1] = 0x01;
	dp_wr16(d + 2, peer->port);
	dp_wr32(d + 4, ice_addr_v4(peer));
	if (t->seq_off) {
		/* [MS-TURN] §3.2.4.4: every Send takes the next number */
		tc->ms_seq++;
		ms_put_seq(buf + t->seq_off, tc);
	}
	dp_wr16(buf + t->head_len - 2, dlen);
	n = (uint16_t)(t->head_len + dlen);
	if (!t->sign) {
		dp_wr16(buf + 2, (uint16_t)(n - STUN_HDR_LEN));
		return n;
	}
	return ms_sign(&t->key, buf, n);
}

int dp_turn_ms_renumber(struct dp_turn_leg *tl, uint8_t comp, uint8_t *p, uint16_t len,
			uint16_t seq_off)
{
	struct dp_turn_comp *tc;

	if (comp < 1 || comp > 2 || !tl->comp[comp - 1].ms || !tl->ms.seq_off ||
	    len < STUN_HDR_LEN + DP_MSTURN_TAIL || seq_off < STUN_HDR_LEN + 4 ||
	    (uint32_t)seq_off + MSTURN_MS_SEQ_LEN > (uint32_t)len - DP_MSTURN_TAIL ||
	    dp_rd16(p + len - DP_MSTURN_TAIL) != STUN_A_MESSAGE_INTEGRITY)
		return -EINVAL;
	tc = &tl->comp[comp - 1];
	tc->ms_seq++;
	ms_put_seq(p + seq_off, tc);
	ms_sign(&tl->ms.key, p, (uint16_t)(len - DP_MSTURN_TAIL));
	return 0;
}
