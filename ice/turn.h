/* The TURN client: one sans-IO state machine per allocation (RFC 8656 over UDP, and the
 * MS-TURN dialect of the Edge server), fixed size, caller memory, caller's clock and RNG. */
#ifndef TURN_H
#define TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ice_addr.h"
#include "stun.h"

#define TURN_MAX_PERMS 8
#define TURN_MAX_CHANNELS 8
#define TURN_EVQ 8

#define TURN_CHANNEL_MIN 0x4000        /* RFC 8656 §12 */
#define TURN_CHANNEL_MAX 0x4FFF        /* RFC 8656 §12 */
#define TURN_DEFAULT_LIFETIME_S 600    /* RFC 8656 §3.2 */
#define TURN_PERMISSION_LIFETIME_S 300 /* RFC 8656 §9 */
#define TURN_CHANNEL_LIFETIME_S 600    /* RFC 8656 §12 */
#define TURN_PERM_REFRESH_S 240        /* refreshed well before the 300 s above */
#define TURN_CHAN_REFRESH_S 540        /* refreshed before the 600 s above */
#define TURN_RTO_US 500000u            /* RFC 8489 §6.2.1: initial RTO 500 ms */
#define TURN_RC 7                      /* RFC 8489 §6.2.1: Rc */
#define TURN_RM 16                     /* RFC 8489 §6.2.1: Rm */
#define TURN_PROTO_UDP 17              /* RFC 8656 §18.8: REQUESTED-TRANSPORT value */
#define MSTURN_VERSION 1               /* [MS-TURN] §2.2.2.14 */

/* ICEWarn bits a failure sets (ice_warn.h names them). */
#define TURN_WARN_UNREACHABLE 0x1u
#define TURN_WARN_ALLOC_FAILED 0x2u
#define TURN_WARN_CREDENTIALS 0x4000u
#define TURN_WARN_ALTERNATE 0x400000u
/* seed 000, 0x4: "An attempt to send UDP on the TURN server failed" - set when the Edge
 * refuses or never answers a Set-Active-Destination (the only MS-TURN send step that has an
 * answer). 0x8 / 0x10 are the TCP counterparts and this client speaks UDP only. */
#define TURN_WARN_SEND_FAILED 0x4u

/* [MS-TURN] §2.2.1 message types. The Data Indication's 0x0115 decodes as an error response
 * of method 0x005 under RFC 5389 rules, so it is matched on the raw type. */
#define MSTURN_T_DATA_IND 0x0115
#define MSTURN_MS_SEQ_LEN (MSTURN_MS_SEQ_CONN_ID_LEN + 4) /* [MS-TURN] §2.2.2.21 */

enum turn_err {
	TURN_OK = 0,
	TURN_E_INVAL = -1,    /* bad argument or configuration */
	TURN_E_STATE = -2,    /* not allowed in the allocation's state */
	TURN_E_FULL = -3,     /* no permission / channel slot left */
	TURN_E_NOSPACE = -4,  /* output buffer too small */
	TURN_E_NOTFOUND = -5, /* unknown peer / channel */
	TURN_E_NOT_TURN = -6, /* datagram is neither ours nor TURN data */
};
const char *turn_strerror(int err);

enum turn_state {
	TURN_S_IDLE = 0,
	TURN_S_ALLOCATING,
	TURN_S_ALLOCATED,
	TURN_S_DEALLOCATING,
	TURN_S_DEALLOCATED,
	TURN_S_FAILED,
};

enum turn_event_type {
	TURN_EV_ALLOCATED = 1,  /* relayed and mapped set */
	TURN_EV_REFRESHED,      /* lifetime set */
	TURN_EV_PERMISSION,     /* idx: permission slot; peer */
	TURN_EV_PERMISSION_FAILED, /* idx, peer, code */
	TURN_EV_CHANNEL_BOUND,  /* idx: channel slot; channel, peer */
	TURN_EV_CHANNEL_FAILED, /* idx, channel, peer, code */
	TURN_EV_FAILED,         /* warn: ICEWarn bits; code: last error code, 0 = no answer */
	TURN_EV_DEALLOCATED,
	TURN_EV_ACTIVE_DEST,        /* MS-TURN: peer is the active destination */
	TURN_EV_ACTIVE_DEST_FAILED, /* peer, code (0 = no answer), warn */
};

struct turn_event {
	uint8_t type;
	uint8_t idx;
	uint16_t channel;
	int code;
	uint32_t warn;
	uint32_t lifetime_s;
	struct ice_addr relayed, mapped, peer;
};

struct turn_config {
	struct ice_addr server;
	const char *user, *pass;     /* MS-TURN: base64, decoded here */
	bool ms_turn;
	uint32_t lifetime_s;         /* asked for; 0 = 600 */
	uint32_t rto_us;             /* 0 = 500 ms, doubling */
	uint8_t max_tx;              /* 0 = 7 (Rc) */
	uint64_t (*rng)(void *ctx);  /* transaction ids; required */
	void *rng_ctx;
};

/* One client transaction: the request is rebuilt from state on every transmission. */
struct turn_txn {
	uint8_t tid[STUN_LEGACY_TID_LEN]; /* 12 bytes used (RFC), 16 for MS-TURN's header */
	uint8_t kind;       /* enum turn_txn_kind in turn.c; 0 = idle */
	uint8_t sent;       /* transmissions so far */
	bool want;          /* a transmission is due */
	uint32_t rto_us;
	uint64_t due_us;    /* next retransmission, or the final timeout */
};

struct turn_perm {
	struct ice_addr peer;   /* the port is kept for reporting; permissions are per IP */
	uint8_t state;          /* 0 free, 1 pending, 2 installed */
	uint64_t refresh_us;
	struct turn_txn tx;
};

struct turn_chan {
	struct ice_addr peer;
	uint16_t number;
	uint8_t state;          /* 0 free, 1 pending, 2 bound (kept bound while refreshing) */
	uint64_t refresh_us;
	struct turn_txn tx;
};

struct turn_alloc {
	struct turn_config cfg;
	struct stun_lt_client lt;
	struct ice_addr server;
	struct ice_addr relayed, mapped;
	uint8_t state;              /* enum turn_state */
	bool redirected;            /* ALTERNATE-SERVER followed once */
	bool heard;                 /* any answer from the server */
	uint32_t warn;              /* ICEWarn bits collected */
	int last_code;
	uint32_t lifetime_s;        /* granted */
	uint64_t refresh_us;        /* when to refresh the allocation */
	uint32_t ms_seq;            /* MS-SEQUENCE-NUMBER counter */
	uint8_t ms_conn_id[MSTURN_MS_SEQ_CONN_ID_LEN];
	struct turn_txn tx;         /* Allocate / Refresh / Deallocate */
	struct turn_perm perm[TURN_MAX_PERMS];
	struct turn_chan chan[TURN_MAX_CHANNELS];
	struct turn_event evq[TURN_EVQ];
	uint8_t ev_head, ev_n;
	uint32_t ev_dropped;
	/* [MS-TURN] state: the connection id comes from the Allocate response's
	 * MS-SEQUENCE-NUMBER (none sent when the server gave none); one active destination. */
	bool ms_seq_valid;
	uint8_t active_state;       /* 0 none, 1 Set-Active-Destination in flight, 2 set */
	uint32_t sad_seq;           /* MS-SEQUENCE-NUMBER of the Set-Active-Destination in flight */
	struct ice_addr active_dest;
	struct turn_txn sad_tx;
};

/** Initialise an allocation (no traffic yet). Returns 0 or a negative turn_err. */
int turn_init(struct turn_alloc *a, const struct turn_config *cfg);
/** Queue the first Allocate. */
int turn_start(struct turn_alloc *a, uint64_t now_us);
/** Install a permission for peer's IP (CreatePermission), refreshed automatically.
 *  Returns the slot, or a negative turn_err. */
int turn_permit(struct turn_alloc *a, uint64_t now_us, const struct ice_addr *peer);
/** Bind the next free channel to peer (ChannelBind), refreshed automatically.
 *  Returns the slot, or a negative turn_err. */
int turn_bind_channel(struct turn_alloc *a, uint64_t now_us, const struct ice_addr *peer);
/** Refresh the allocation now (also done at 80 % of the lifetime). */
int turn_refresh(struct turn_alloc *a, uint64_t now_us);
/** Release: Refresh with LIFETIME 0 (RFC 8656 §7). */
int turn_release(struct turn_alloc *a, uint64_t now_us);

enum turn_rx {
	TURN_RX_NOT_MINE = 0, /* not from our server, or not a response of ours */
	TURN_RX_HANDLED,      /* a response, consumed */
	TURN_RX_DATA,         /* Data indication or ChannelData: call turn_unwrap() */
};
/** Feed a datagram received from `from`. */
enum turn_rx turn_handle(struct turn_alloc *a, uint64_t now_us, const struct ice_addr *from,
			 const uint8_t *p, size_t len);
/** Next datagram to send (to the server, *to), or 0 when none. Negative on a too small buf. */
int turn_poll_transmit(struct turn_alloc *a, uint64_t now_us, uint8_t *buf, size_t cap,
		       struct ice_addr *to);
/** When turn_handle_timeout() should next run; UINT64_MAX when never. */
uint64_t turn_next_timeout(const struct turn_alloc *a);
void turn_handle_timeout(struct turn_alloc *a, uint64_t now_us);
/** Pop an event; false when none. */
bool turn_poll_event(struct turn_alloc *a, struct turn_event *ev);

/** [MS-TURN] §3.2.4.4: make peer the active destination (Set-Active-Destination request,
 *  retransmitted like any request; in place of ChannelBind). Once the server accepts it
 *  (TURN_EV_ACTIVE_DEST), turn_wrap() sends data for peer unencapsulated and the server's
 *  unencapsulated datagrams are peer's. A refusal or no answer gives TURN_EV_ACTIVE_DEST_FAILED
 *  and TURN_WARN_SEND_FAILED. Returns 0, or a negative turn_err (TURN_E_STATE unless an
 *  allocated MS-TURN allocation). */
int turn_set_active_dest(struct turn_alloc *a, uint64_t now_us, const struct ice_addr *peer);
/** [MS-TURN] §3.1.10: true when a datagram is an MS-TURN control message (the MAGIC-COOKIE
 *  attribute first); anything else from the server is relayed data of the active destination. */
bool turn_msturn_is_control(const uint8_t *p, size_t len);

/** Wrap data for peer: ChannelData when a channel is bound, else a Send indication
 *  (MS-TURN: a signed Send request with DESTINATION-ADDRESS and MS-SEQUENCE-NUMBER, or the
 *  bare data for the active destination). Returns the length or a turn_err. */
int turn_wrap(struct turn_alloc *a, const struct ice_addr *peer, const void *data, size_t len,
	      uint8_t *out, size_t cap);
/** Unwrap a Data indication or ChannelData from the server: peer and payload (pointing
 *  into p). MS-TURN: a 0x0115 Data Indication (plain REMOTE-ADDRESS), or a datagram that is
 *  not MS-TURN control while an active destination is set. Returns 0 or a negative turn_err. */
int turn_unwrap(const struct turn_alloc *a, const uint8_t *p, size_t len, struct ice_addr *peer,
		const uint8_t **data, size_t *dlen);

const char *turn_state_name(enum turn_state s);

#endif
