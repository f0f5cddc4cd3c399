/* A scripted MS-TURN (Edge) server for tests, built on our codec, without sockets: it answers
 * Allocate (401 challenge, then success with MS-SEQUENCE-NUMBER) and Set-Active-Destination,
 * takes Sends and bare data, and wraps what peers send the relayed address. */
#ifndef MSTURN_SRV_H
#define MSTURN_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ice_addr.h"
#include "stun.h"
#include "turn.h"

/* as MRAS hands them out: base64 of the user and password below */
#define MSTURN_SRV_USER "alice@example.com"
#define MSTURN_SRV_USER_B64 "YWxpY2VAZXhhbXBsZS5jb20="
#define MSTURN_SRV_PASS "s3cret-from-mras"
#define MSTURN_SRV_PASS_B64 "czNjcmV0LWZyb20tbXJhcw=="
#define MSTURN_SRV_REALM "edge.example"
#define MSTURN_SRV_FIRST_SEQ 7u

struct msturn_srv {
	struct ice_addr relayed, mapped;  /* what an Allocate gets */
	uint8_t conn_id[MSTURN_MS_SEQ_CONN_ID_LEN];
	struct stun_key key;
	bool sad_refuse;                  /* Set-Active-Destination answered 403 */
	bool sad_silent;                  /* ... or never */
	bool allocated, active;
	struct ice_addr active_dest;
	/* what was seen */
	unsigned allocs, allocs_signed, sends, sads, bare, refreshes, releases;
	unsigned bad;                     /* wrong integrity, number not rising, malformed */
	bool seq_started;
	uint32_t last_seq;
	struct ice_addr data_to;          /* the last Send's destination, or the active one */
	uint16_t data_len;
	uint8_t data[1500];               /* the last Send's DATA or bare datagram */
};

void msturn_srv_init(struct msturn_srv *s, const struct ice_addr *relayed,
		     const struct ice_addr *mapped);
/** A datagram from the client: the answer into out (its length), or 0 for none. */
int msturn_srv_input(struct msturn_srv *s, const uint8_t *p, size_t len, uint8_t *out, size_t cap);
/** A datagram from peer to the relayed address: what the server sends the client (a 0x0115
 *  Data Indication, or bare for the active destination). */
int msturn_srv_relay(struct msturn_srv *s, const struct ice_addr *peer, const uint8_t *p,
		     size_t len, uint8_t *out, size_t cap);

#endif
