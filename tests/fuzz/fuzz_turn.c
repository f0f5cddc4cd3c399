/* libFuzzer target for the TURN client: arbitrary server answers, with the transaction id
 * patched to the one in flight so that they reach the handlers, in every allocation state;
 * for MS-TURN also Set-Active-Destination answers, 0x0115 Data Indications and bare data. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "turn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng(void *ctx)
{
	uint64_t *s = ctx;

	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct turn_alloc a;
	uint64_t seed = 1;
	struct turn_config c = {.user = "YWxpY2U=", .pass = "c2VjcmV0", .rng = rng, .rng_ctx = &seed};
	struct ice_addr peer, p;
	uint8_t buf[2048], out[1600];
	struct turn_event ev;
	const uint8_t *d;
	size_t dl;
	int n;

	if (size < 1 || size > sizeof(buf))
		return 0;
	ice_addr_parse(&c.server, "127.0.0.1:3478");
	ice_addr_parse(&peer, "192.0.2.1:5000");
	c.ms_turn = data[0] & 1;
	if (turn_init(&a, &c) != 0)
		abort();
	turn_start(&a, 0);
	if (data[0] & 2) { /* pretend allocated, with a permission and a channel in flight */
		a.state = TURN_S_ALLOCATED;
		turn_permit(&a, 0, &peer);
		turn_bind_channel(&a, 0, &peer);
		/* MS-TURN: a Set-Active-Destination in flight, or already accepted */
		a.ms_seq_valid = data[0] & 16;
		turn_set_active_dest(&a, 0, &peer);
		if (data[0] & 32)
			a.active_state = 2;
	}
	memcpy(buf, data + 1, size - 1);
	for (int round = 0; round < 3; round++) {
		struct ice_addr to;
		while (turn_poll_transmit(&a, 0, out, sizeof(out), &to) > 0)
			;
		/* aim at the allocation's transaction, or a permission's / channel's */
		const uint8_t *tid = (data[0] & 4) ? a.perm[0].tx.tid : a.tx.tid;
		if ((data[0] & 8) && c.ms_turn)
			tid = a.sad_tx.tid;
		if (size - 1 >= 20) {
			if (c.ms_turn) /* [MS-TURN]: 16-byte id right after the length */
				memcpy(buf + 4, tid, STUN_LEGACY_TID_LEN);
			else
				memcpy(buf + 8, tid, STUN_TID_LEN);
		}
		turn_handle(&a, 0, &c.server, buf, size - 1);
		turn_unwrap(&a, buf, size - 1, &p, &d, &dl);
		while (turn_poll_event(&a, &ev))
			;
		turn_handle_timeout(&a, (uint64_t)round * 1000000000ull);
	}
	n = turn_wrap(&a, &peer, data, size > 100 ? 100 : size, out, sizeof(out));
	if (n > (int)sizeof(out))
		abort();
	return 0;
}
