/* libFuzzer target for the worker's TURN framing (dataplane/dp_turn.c): an arbitrary Send
 * template offered to dp_turn_ms_install, then an arbitrary datagram from the server
 * classified on an RFC or MS-TURN component (with or without an active destination), wrapped
 * for a peer, and renumbered as a control-made request.
 * Input: [flags][template length][template][datagram]; flags bit 0 MS-TURN, bit 1 active,
 * bit 2 a channel bound; bit 3: renumber at the datagram's own MS-SEQUENCE-NUMBER (as the
 * control thread finds it), else at offset (bits 4-7) x 4. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_turn.h"
#include "stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dp_turn_leg tl;
	static struct dp_turn_cmd cmd;
	static uint8_t buf[DP_MSTURN_HEAD_MAX + 1600 + DP_TURN_WRAP_MAX], copy[1600];
	const uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	struct ice_addr peer, srcpeer;
	const uint8_t *d;
	uint16_t dl, tlen, plen, h, n;
	uint8_t flags;

	if (size < 2)
		return 0;
	flags = data[0];
	tlen = data[1] < size - 2 ? data[1] : (uint16_t)(size - 2);
	if (tlen > sizeof(cmd.buf))
		return 0;
	memset(&tl, 0, sizeof(tl));
	memset(&cmd, 0, sizeof(cmd));
	memcpy(cmd.buf, data + 2, tlen);
	cmd.len = tlen;
	cmd.ms_seq = 7;
	ice_addr_set_v4(&peer, 0xc6336414u, 50000);
	if (dp_turn_ms_install(&tl, 1, &cmd) == 0 && (tl.ms.head_len < 20 ||
						      tl.ms.head_len > DP_MSTURN_HEAD_MAX))
		abort();
	if (flags & 1)
		tl.comp[0].ms = 1;
	if (flags & 2)
		dp_turn_ms_set_active(&tl.comp[0], &peer);
	if ((flags & 4) && !dp_turn_chan_set(&tl.comp[0], &peer, 0x4001))
		abort();
	data += 2 + tlen;
	size -= 2 + (size_t)tlen;
	if (size > sizeof(copy))
		return 0;
	plen = (uint16_t)size;
	if (dp_turn_classify(&tl.comp[0], data, plen, &srcpeer, &d, &dl) == DP_TURN_RX_DATA &&
	    (d < data || d + dl > data + plen))
		abort();
	/* out: the datagram as payload for peer, the way the comp is set up */
	if (tl.comp[0].ms) {
		h = dp_turn_ms_head_len(&tl, 1, &peer);
		if (h <= DP_MSTURN_HEAD_MAX) {
			memcpy(buf + h, data, plen);
			n = dp_turn_ms_wrap(&tl, 1, &peer, buf, h, plen, tid);
			if (n < plen || n > h + plen + DP_MSTURN_TAIL)
				abort();
		}
	} else {
		h = dp_turn_head_len(&tl.comp[0], &peer);
		memcpy(buf + h, data, plen);
		n = dp_turn_wrap(&tl.comp[0], &peer, buf, h, plen, tid);
		if (n < plen || n > h + plen + DP_TURN_WRAP_MAX)
			abort();
	}
	memcpy(copy, data, plen);
	{
		uint16_t off = (uint16_t)((flags >> 4) * 4);
		struct stun_msg m;
		const struct stun_attr *a;

		if ((flags & 8) && stun_parse(&m, copy, plen, STUN_PF_MS_ATTRS | STUN_PF_UNPADDED) == 0 &&
		    (a = stun_msg_find(&m, MSTURN_A_MS_SEQUENCE_NUMBER)) != NULL)
			off = a->off;
		dp_turn_ms_renumber(&tl, 1, copy, plen, off);
	}
	return 0;
}
