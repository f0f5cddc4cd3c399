/* The dataplane side of the gateway's own TURN relays: per leg component, the server, the
 * relayed address and the bound channels (or, for an MS-TURN relay, the Send template and the
 * active destination); unwrapping and wrapping on the owning core (RFC 8656 §11, §12; [MS-TURN]). */
#ifndef DP_TURN_H
#define DP_TURN_H

#include <stdbool.h>
#include <stdint.h>

#include "ice_addr.h"
#include "stun.h"

#define DP_TURN_CHANS 8          /* channels per component: one per pair that can be selected */
#define DP_TURN_SEND_MAX 1280    /* a control-made TURN request (Allocate, Refresh, ...) */
#define DP_TURN_WRAP_MAX 48      /* Send indication overhead: header, XOR-PEER-ADDRESS, DATA
				  * header, padding, FINGERPRINT (RFC 8656 §11.1) */

struct dp_turn_chan {
	uint32_t ip;              /* peer, host order */
	uint16_t port;
	uint16_t number;          /* RFC 8656 §12: 0x4000-0x4FFF */
};

/* [MS-TURN] §2.2.2: a Send request is MAGIC-COOKIE, USERNAME, DESTINATION-ADDRESS, MS-VERSION,
 * MS-SEQUENCE-NUMBER, REALM, DATA, MESSAGE-INTEGRITY, unpadded (libnice's OC2007 order, which
 * turn_wrap() keeps). The control thread builds it once with turn_wrap(); the worker copies it
 * and patches the transaction id, destination, number and lengths, then signs. */
#define DP_MSTURN_HEAD_MAX 352   /* header + attributes up to DATA's value: user and realm of up
				  * to 127 bytes each */
#define DP_MSTURN_TAIL 24        /* MESSAGE-INTEGRITY after the data */

struct dp_msturn {
	struct stun_key key;      /* MD5(user:realm:pass), prepared for HMAC-SHA1 */
	uint16_t head_len;        /* 0: the leg has no MS-TURN relay */
	uint16_t dst_off;         /* DESTINATION-ADDRESS value in head */
	uint16_t seq_off;         /* MS-SEQUENCE-NUMBER value in head; 0: the server gave none */
	uint8_t sign;             /* MESSAGE-INTEGRITY follows the data */
	uint8_t head[DP_MSTURN_HEAD_MAX];
};

struct dp_turn_comp {
	uint32_t srv_ip;          /* the leg's TURN server (host order); srv_port 0 = none */
	uint16_t srv_port;
	uint8_t has_relay;        /* relayed is a local candidate of the agent */
	uint8_t selected;         /* the agent's selected pair has relayed as its local side */
	struct ice_addr relayed;
	uint8_t nchan;
	struct dp_turn_chan chan[DP_TURN_CHANS];
	/* [MS-TURN] relay: no channels; one active destination whose data goes bare */
	uint8_t ms;
	uint8_t ms_active;
	uint16_t ms_active_port;
	uint32_t ms_active_ip;    /* host order */
	uint32_t ms_seq;          /* last MS-SEQUENCE-NUMBER sent: the worker owns the count */
	uint8_t ms_conn[MSTURN_MS_SEQ_CONN_ID_LEN]; /* the allocation's connection id */
};

/* Per leg: what a leg with relays needs, and its counters. */
struct dp_turn_leg {
	struct dp_turn_comp comp[2];
	struct dp_msturn ms;                /* both components' MS-TURN Send template */
	uint64_t relayed_in, relayed_out;   /* data through the relay, each way */
	uint64_t to_control;                /* TURN responses handed to the control thread */
	uint64_t drops;                     /* TURN datagrams dropped (malformed, unknown, ring full) */
};

/* A control-made command's TURN part (dp_cmd.h: DP_CMD_SEND, DP_CMD_LOCAL_CAND,
 * DP_CMD_TURN_CHAN, DP_CMD_TURN_ACTIVE). */
struct dp_turn_cmd {
	uint8_t comp;             /* 1-based */
	uint16_t channel;         /* DP_CMD_TURN_CHAN */
	uint16_t len;             /* DP_CMD_SEND: bytes in buf; LOCAL_CAND with ms: the template */
	uint16_t local_pref;      /* DP_CMD_LOCAL_CAND */
	struct ice_addr dst;      /* SEND, LOCAL_CAND: the server; CHAN, ACTIVE: the peer (ACTIVE
				   * with family 0: none) */
	struct ice_addr relayed;  /* LOCAL_CAND */
	/* [MS-TURN]. SEND: ms set, the server speaks MS-TURN (what it sends back is classified
	 * so from the first Allocate on). LOCAL_CAND: ms set, buf holds a Send made by turn_wrap() with empty DATA,
	 * ms_seq its allocation's last number. SEND: ms_renumber set, buf is a request whose
	 * MS-SEQUENCE-NUMBER (value at ms_seq_off) the worker numbers from its own count and
	 * re-signs, so that one count serves Send and Set-Active-Destination. */
	uint8_t ms;
	uint8_t ms_renumber;
	uint16_t ms_seq_off;
	uint32_t ms_seq;
	struct stun_key ms_key;
	uint8_t buf[DP_TURN_SEND_MAX];
};

enum dp_turn_rx {
	DP_TURN_RX_DATA = 0,      /* decapsulated: *peer, *data, *dlen */
	DP_TURN_RX_CONTROL,       /* a response for the control thread: hand it over */
	DP_TURN_RX_DROP,          /* not usable: count it */
};

/** Classify a datagram from the component's server. Data indications and ChannelData give
 *  the peer and the payload (pointing into p); responses to the TURN client's requests go to
 *  the control thread; anything else is dropped. [MS-TURN] component: 0x0115 Data Indications
 *  and bare datagrams (the active destination's) are data, Allocate and Set-Active-Destination
 *  answers go up. No allocation, no state change. */
enum dp_turn_rx dp_turn_classify(const struct dp_turn_comp *tc, const uint8_t *p, uint16_t len,
				 struct ice_addr *peer, const uint8_t **data, uint16_t *dlen);

/** Bytes the wrapping for peer puts before the data (4 ChannelData, 36 Send indication). */
uint16_t dp_turn_head_len(const struct dp_turn_comp *tc, const struct ice_addr *peer);

/**
 * Wrap the dlen bytes at buf + head (head = dp_turn_head_len) for peer: ChannelData when a
 * channel is bound to peer, else a Send indication with tid as its transaction id (12
 * bytes). buf must have head + dlen + DP_TURN_WRAP_MAX bytes. Returns the wrapped length.
 */
uint16_t dp_turn_wrap(const struct dp_turn_comp *tc, const struct ice_addr *peer, uint8_t *buf,
		      uint16_t head, uint16_t dlen, const uint8_t tid[12]);

/** Bind (or rebind) a channel to a peer; false when the table is full. */
bool dp_turn_chan_set(struct dp_turn_comp *tc, const struct ice_addr *peer, uint16_t number);

/** [MS-TURN] Take a component's relay as MS-TURN: the Send template cmd->buf (cmd->len bytes,
 *  a turn_wrap() Send with empty DATA), its key, and the allocation's last number. Both
 *  components of a leg must share one template (the same server and credentials).
 *  0, -EINVAL (not a usable template) or -EEXIST (differs from the other component's). */
int dp_turn_ms_install(struct dp_turn_leg *tl, uint8_t comp, const struct dp_turn_cmd *cmd);
/** [MS-TURN] The server accepted peer as the active destination (family 0: none). */
void dp_turn_ms_set_active(struct dp_turn_comp *tc, const struct ice_addr *peer);
/** [MS-TURN] Bytes the wrapping for peer puts before the data: 0 for the active destination
 *  (bare), else the Send template's; UINT16_MAX when there is no template yet. */
uint16_t dp_turn_ms_head_len(const struct dp_turn_leg *tl, uint8_t comp, const struct ice_addr *peer);
/**
 * [MS-TURN] Wrap the dlen bytes at buf + head (head = dp_turn_ms_head_len) for peer: bare for
 * the active destination, else a signed Send request numbered from the component's count,
 * tid its 16-byte transaction id. buf must have head + dlen + DP_MSTURN_TAIL bytes. Returns
 * the wrapped length.
 */
uint16_t dp_turn_ms_wrap(struct dp_turn_leg *tl, uint8_t comp, const struct ice_addr *peer,
			 uint8_t *buf, uint16_t head, uint16_t dlen, const uint8_t tid[16]);
/** [MS-TURN] Number a control-made request (Set-Active-Destination) from the component's
 *  count and sign it again: p holds len bytes, the MS-SEQUENCE-NUMBER value at seq_off,
 *  MESSAGE-INTEGRITY last. 0 or -EINVAL. */
int dp_turn_ms_renumber(struct dp_turn_leg *tl, uint8_t comp, uint8_t *p, uint16_t len,
			uint16_t seq_off);

#endif
