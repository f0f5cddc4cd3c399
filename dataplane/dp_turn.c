/* TURN framing on the owning core: what comes from a leg's relay is unwrapped and what leaves
 * through it is wrapped, in caller buffers, without allocation, locks or syscalls. */
#include "dp_turn.h"

#include <string.h>

#include "dp_pkt.h"
#include "stun.h"

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

enum dp_turn_rx dp_turn_classify(const struct dp_turn_comp *tc, const uint8_t *p, uint16_t len,
				 struct ice_addr *peer, const uint8_t **data, uint16_t *dlen)
{
	struct stun_msg m;
	int r;

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
