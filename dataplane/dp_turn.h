/* The dataplane side of the gateway's own TURN relays: per leg component, the server, the
 * relayed address and the bound channels; decapsulation of Data indications and ChannelData
 * on the owning core, encapsulation of what leaves through the relay (RFC 8656 §11, §12). */
#ifndef DP_TURN_H
#define DP_TURN_H

#include <stdbool.h>
#include <stdint.h>

#include "ice_addr.h"

#define DP_TURN_CHANS 8          /* channels per component: one per pair that can be selected */
#define DP_TURN_SEND_MAX 1280    /* a control-made TURN request (Allocate, Refresh, ...) */
#define DP_TURN_WRAP_MAX 48      /* Send indication overhead: header, XOR-PEER-ADDRESS, DATA
				  * header, padding, FINGERPRINT (RFC 8656 §11.1) */

struct dp_turn_chan {
	uint32_t ip;              /* peer, host order */
	uint16_t port;
	uint16_t number;          /* RFC 8656 §12: 0x4000-0x4FFF */
};

struct dp_turn_comp {
	uint32_t srv_ip;          /* the leg's TURN server (host order); srv_port 0 = none */
	uint16_t srv_port;
	uint8_t has_relay;        /* relayed is a local candidate of the agent */
	uint8_t selected;         /* the agent's selected pair has relayed as its local side */
	struct ice_addr relayed;
	uint8_t nchan;
	struct dp_turn_chan chan[DP_TURN_CHANS];
};

/* Per leg: what a leg with relays needs, and its counters. */
struct dp_turn_leg {
	struct dp_turn_comp comp[2];
	uint64_t relayed_in, relayed_out;   /* data through the relay, each way */
	uint64_t to_control;                /* TURN responses handed to the control thread */
	uint64_t drops;                     /* TURN datagrams dropped (malformed, unknown, ring full) */
};

/* A control-made command's TURN part (dp_cmd.h: DP_CMD_SEND, DP_CMD_LOCAL_CAND,
 * DP_CMD_TURN_CHAN). */
struct dp_turn_cmd {
	uint8_t comp;             /* 1-based */
	uint16_t channel;         /* DP_CMD_TURN_CHAN */
	uint16_t len;             /* DP_CMD_SEND: bytes in buf */
	uint16_t local_pref;      /* DP_CMD_LOCAL_CAND */
	struct ice_addr dst;      /* SEND: the server; LOCAL_CAND: the server; CHAN: the peer */
	struct ice_addr relayed;  /* LOCAL_CAND */
	uint8_t buf[DP_TURN_SEND_MAX];
};

enum dp_turn_rx {
	DP_TURN_RX_DATA = 0,      /* decapsulated: *peer, *data, *dlen */
	DP_TURN_RX_CONTROL,       /* a response for the control thread: hand it over */
	DP_TURN_RX_DROP,          /* not usable: count it */
};

/** Classify a datagram from the component's server. Data indications and ChannelData give
 *  the peer and the payload (pointing into p); responses to the TURN client's requests go to
 *  the control thread; anything else is dropped. No allocation, no state change. */
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

#endif
