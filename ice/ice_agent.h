/* The ICE agent: one sans-IO state machine for RFC 8445 (full and lite), MS-ICE2 and
 * MS-ICE, used inline on dataplane cores, in tests under a virtual clock, and in icepeer. */
#ifndef ICE_AGENT_H
#define ICE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ice_addr.h"
#include "stun.h"

/* Compile-time caps; every agent has the same size and no allocation after init.
 * [MS-ICE] §3.1.4.8.1 caps an MS endpoint at 20 candidates and 40 pairs (amplification). */
#define ICE_MAX_COMPS 2
#define ICE_MAX_LOCAL 8
#define ICE_MAX_REMOTE 20
#define ICE_MAX_PAIRS 40
#define ICE_MAX_FND 12          /* foundation characters kept (remote: for traces) */
#define ICE_UFRAG_MAX 32
#define ICE_PWD_MAX 64
#define ICE_MS_ID_MAX 32        /* decoded MS-ICE candidate identifier (base64 of 32 bytes) */
#define ICE_MS_PWD_MAX 16
#define ICE_MS_ID_B64 43        /* its base64 form in SDP, '=' padding stripped */
#define ICE_MS_PWD_B64 22
#define ICE_EVQ 16
#define ICE_EARLY 4             /* requests cached before the remote candidates arrive */

enum ice_dialect {
	ICE_DIALECT_RFC8445 = 0,
	ICE_DIALECT_MSICE2,     /* OCS 2007 R2 and later; libnice "OC2007R2" */
	ICE_DIALECT_MSICE,      /* OCS 2007, ICE draft-06; libnice "OC2007" */
};

enum ice_role { ICE_ROLE_CONTROLLING = 0, ICE_ROLE_CONTROLLED = 1 };
enum ice_nomination { ICE_NOM_REGULAR = 0, ICE_NOM_AGGRESSIVE = 1 };
enum ice_cand_type { ICE_CAND_HOST = 0, ICE_CAND_SRFLX, ICE_CAND_PRFLX, ICE_CAND_RELAY };

enum ice_pair_state {
	ICE_PAIR_FROZEN = 0,
	ICE_PAIR_WAITING,
	ICE_PAIR_IN_PROGRESS,
	ICE_PAIR_SUCCEEDED,
	ICE_PAIR_FAILED,
};

enum ice_state {
	ICE_STATE_NEW = 0,      /* no check list yet */
	ICE_STATE_RUNNING,
	ICE_STATE_COMPLETED,
	ICE_STATE_FAILED,
};

enum ice_event_type {
	ICE_EV_PAIR_VALID = 1,  /* a pair entered the valid list */
	ICE_EV_SELECTED,        /* a component has a selected (nominated) pair */
	ICE_EV_COMPLETED,       /* every component selected */
	ICE_EV_FAILED,          /* see ice_agent_warn() */
	ICE_EV_CONSENT_LOST,    /* RFC 7675 §5.1: no consent for the expiry time */
	ICE_EV_ROLE_CHANGED,    /* role conflict resolved by switching (RFC 8445 §7.3.1.1) */
	ICE_EV_FINAL_OFFER,     /* MS-ICE: the caller must send the final offer with this pair */
};

struct ice_event {
	uint8_t type;
	uint8_t comp;
	uint8_t pair;           /* pair index where relevant */
};

/* Errors */
enum ice_err {
	ICE_E_INVAL = -1,
	ICE_E_FULL = -2,        /* a cap was reached; the item was dropped and counted */
	ICE_E_STATE = -3,       /* not allowed in the agent's current state */
	ICE_E_NOSPACE = -4,     /* output buffer too small */
};
const char *ice_strerror(int err);

/* What ice_agent_recv() did with a datagram. */
enum ice_rx {
	ICE_RX_NOT_STUN = 0,    /* not STUN: the caller's media */
	ICE_RX_HANDLED,         /* consumed (response matched, indication, ...) */
	ICE_RX_REPLIED,         /* a request was answered: the reply is in *reply */
	ICE_RX_DROPPED,         /* bad or unexpected STUN: counted in ice_agent_stats */
};

/* Per-agent counters (drops by reason and protocol events). */
struct ice_stats {
	uint32_t rx_requests, rx_responses, rx_indications;
	uint32_t tx_checks, tx_retrans, tx_responses, tx_errors, tx_keepalives, tx_consent;
	uint32_t drop_malformed, drop_unknown_user, drop_integrity, drop_no_integrity;
	uint32_t drop_no_txn, drop_unknown_attr, drop_early_response, drop_queue_full;
	uint32_t drop_role_conflict, remote_cands_dropped, pairs_dropped;
	uint32_t prflx_local, prflx_remote, triggered;
};

struct ice_config {
	enum ice_dialect dialect;
	enum ice_role role;
	enum ice_nomination nomination;
	bool lite;                   /* we are an ICE-lite agent (RFC 8445 §2.5) */
	uint8_t ncomp;               /* 1 (rtcp-mux) or 2 */
	const char *ufrag, *pwd;     /* local credentials (RFC / MS-ICE2) */
	uint64_t tie_breaker;        /* 0 = draw from rng */
	/* Timers in microseconds; 0 = default. */
	uint32_t ta_us;              /* 20 ms (RFC 8445 §14.2) */
	uint32_t rto_us;             /* 100 ms, doubling */
	uint8_t max_tx;              /* 7 transmissions (RFC 8489 Rc) */
	uint32_t max_rto_us;         /* cap of the doubling: 1.6 s */
	uint32_t nominate_delay_us;  /* regular nomination: wait for better pairs, 400 ms */
	uint32_t check_timeout_us;   /* whole check phase; MS: 10 s (then 3 s), RFC: 30 s */
	uint32_t consent_us;         /* RFC 7675: 5 s randomised 0.8-1.2 */
	uint32_t consent_expiry_us;  /* RFC 7675: 30 s */
	uint32_t keepalive_us;       /* RFC 8445 §11: 15 s; MS-ICE <= 19 s */
	uint16_t max_pairs;          /* <= ICE_MAX_PAIRS; MS-ICE 40 */
	uint8_t max_remote;          /* <= ICE_MAX_REMOTE; MS-ICE 20 */
	/* Randomness (transaction ids, tie-breaker, consent jitter) comes from the caller so
	 * that runs are reproducible. Required. */
	uint64_t (*rng)(void *ctx);
	void *rng_ctx;
	/* Trace lines in pjnath's wording; NULL = none (and no formatting cost). */
	void (*trace)(void *ctx, uint64_t now_us, const char *line);
	void *trace_ctx;
	const char *name;            /* prefix of trace lines, e.g. "leg12.audio" */
};

/* A remote candidate as signalled. */
struct ice_remote_cand {
	uint8_t comp;
	uint8_t type;                /* enum ice_cand_type */
	uint32_t prio;               /* MS-ICE: q-value * 1000 */
	struct ice_addr addr;
	const char *foundation;      /* RFC / MS-ICE2 */
	const char *ms_id, *ms_pwd;  /* MS-ICE: base64 candidate identifier and password */
};

struct ice_cand {
	struct ice_addr addr;
	uint32_t prio;
	uint32_t fnd;                /* foundation hash (local: generated id) */
	uint8_t comp, type, base, cred; /* base: local index of the base; cred: MS cred slot */
	char fnd_str[ICE_MAX_FND];
};

struct ice_pair {
	uint64_t next_us;            /* next retransmission or the transaction's end */
	uint8_t tid[STUN_LEGACY_TID_LEN];
	uint8_t local, remote;       /* candidate indices */
	uint8_t state;               /* enum ice_pair_state */
	uint8_t flags;               /* ICE_PF_* */
	uint8_t ntx;
	uint8_t comp;
	uint8_t valid_local;         /* local index of the valid pair's mapped candidate */
	uint8_t retries;             /* MS-ICE error retries */
};

#define ICE_PF_VALID 0x01        /* in the valid list */
#define ICE_PF_NOMINATED 0x02
#define ICE_PF_USE_CAND 0x04     /* our in-flight check carries USE-CANDIDATE */
#define ICE_PF_NOM_ON_SUCCESS 0x08 /* controlled: USE-CANDIDATE seen before success */
#define ICE_PF_TRIGGERED 0x10
#define ICE_PF_RECV_VALID 0x20   /* MS-ICE: a valid check came in on it */
#define ICE_PF_TXN_OPEN 0x40     /* a transaction is in flight */
#define ICE_PF_TXN_CONTROLLING 0x80 /* its requests carry ICE-CONTROLLING (role at its start) */

struct ice_ms_cred {
	uint8_t id[ICE_MS_ID_MAX];
	uint8_t pwd[ICE_MS_PWD_MAX];
	uint8_t idlen, pwdlen;
};


struct ice_early {
	struct ice_addr from;
	uint32_t prio;
	uint8_t local, use_cand, used, pad;
};

/* The agent. Treat as opaque; the layout is public only so callers can embed it. */
struct ice_agent {
	struct ice_config cfg;
	uint8_t state, role, remote_lite, remote_eoc;
	uint8_t nlocal, nremote, npairs, ncomp;
	uint8_t selected[ICE_MAX_COMPS];     /* pair index or 0xff */
	uint8_t nlocal_ms, nremote_ms;
	uint8_t peer_impl_version;           /* MS-ICE2: peer showed IMPLEMENTATION-VERSION */
	uint8_t ms_got_req, ms_got_resp;     /* MS-ICE 3 s rule */
	uint8_t final_sent;
	uint8_t ms_local_type[ICE_MAX_LOCAL / 2]; /* MS-ICE: preset for type + 1, 0 = drawn */
	uint64_t start_us, check_deadline_us, next_check_us, nominate_at_us;
	uint64_t consent_next_us[ICE_MAX_COMPS], consent_ok_us[ICE_MAX_COMPS];
	uint64_t last_tx_us[ICE_MAX_COMPS];
	uint8_t consent_tid[ICE_MAX_COMPS][STUN_TID_LEN];
	uint8_t consent_lost;
	uint8_t tx_consent, tx_keepalive;    /* per-component bit masks */
	uint64_t tx_pairs;                   /* pairs with a check due */
	uint64_t tie_breaker;
	uint32_t warn;                       /* ICEWarn flags (seed 000) */
	char ufrag[ICE_UFRAG_MAX + 1], pwd[ICE_PWD_MAX + 1];
	char rufrag[ICE_UFRAG_MAX + 1];
	struct stun_key lkey, rkey;          /* RFC / MS-ICE2 */
	uint8_t have_rkey;
	struct ice_cand local[ICE_MAX_LOCAL];
	struct ice_cand remote[ICE_MAX_REMOTE];
	struct ice_pair pairs[ICE_MAX_PAIRS];
	struct ice_ms_cred ms_local[ICE_MAX_LOCAL / 2];
	struct ice_ms_cred ms_remote[ICE_MAX_REMOTE / 2];
	uint8_t trig[ICE_MAX_PAIRS];         /* triggered-check FIFO */
	uint8_t trig_head, trig_len;
	struct ice_early early[ICE_EARLY];
	struct ice_event ev[ICE_EVQ];
	uint8_t ev_head, ev_len;
	struct ice_stats stats;
};

/* Output of the agent: a datagram to send from a local base to a remote address. */
struct ice_out {
	uint8_t *buf;
	size_t cap;
	size_t len;
	struct ice_addr from;        /* local base address to send from */
	struct ice_addr to;
	uint8_t comp;
};

/** Initialise an agent in caller memory. Returns 0 or ICE_E_INVAL. */
int ice_agent_init(struct ice_agent *a, const struct ice_config *cfg);

/**
 * Add a local candidate. base_idx is the index of the host candidate it is derived from
 * (-1 for a host or relayed candidate, which are their own base). local_pref orders
 * several candidates of one type (65535 = most preferred).
 * Returns the candidate index, or a negative ice_err.
 */
int ice_agent_add_local(struct ice_agent *a, uint8_t comp, enum ice_cand_type type,
			const struct ice_addr *addr, int base_idx, uint16_t local_pref);
/**
 * The same, at now_us. On a running full agent (a candidate gathered late: a TURN relay
 * allocated after the checks began; RFC 8838 §8.1.1) it is paired at once with the remote
 * candidates of its component and family, pruned as at the start (a base already paired
 * with a remote is not paired again), each new pair Waiting unless a pair of its foundation
 * is Waiting or In Progress (then Frozen); at the pair cap it takes the place of the
 * lowest-priority Frozen / Waiting pair below it, or is dropped and counted. A completed
 * agent keeps the candidate and its selected pairs and checks no more; a failed one stays
 * failed; a lite one pairs as at its start (and sends no check).
 * ice_agent_add_local on a running agent behaves the same with its checks due at once.
 */
int ice_agent_add_local_at(struct ice_agent *a, uint64_t now_us, uint8_t comp,
			   enum ice_cand_type type, const struct ice_addr *addr, int base_idx,
			   uint16_t local_pref);

/** MS-ICE: local candidate credentials (base64 strings as in SDP); generated when unset. */
int ice_agent_local_ms_cred(struct ice_agent *a, int cand, char *id_b64, size_t idlen,
			    char *pwd_b64, size_t pwdlen);

/**
 * MS-ICE: the identifier and password (base64, as the draft-06 lines advertise them) that
 * the local candidates of a type take, shared by their components: a candidate of that type
 * already added takes them now, later ones when added. The identifier decodes to 1 ..
 * ICE_MS_ID_MAX bytes with no ':' and differs from the other local ones, the password to 1 ..
 * ICE_MS_PWD_MAX bytes. A component that already has a candidate of the type with these
 * credentials makes the next one draw its own. Returns 0, ICE_E_INVAL (bad strings, not
 * MS-ICE) or ICE_E_FULL (every credential slot taken).
 */
int ice_agent_set_local_ms_cred(struct ice_agent *a, enum ice_cand_type type, const char *id_b64,
				const char *pwd_b64);

/** Remote ufrag / pwd (RFC and MS-ICE2). */
int ice_agent_set_remote_credentials(struct ice_agent *a, const char *ufrag, const char *pwd);
void ice_agent_set_remote_lite(struct ice_agent *a, bool lite);
/** Add a remote candidate (trickled or from SDP). Over the caps: dropped and counted. */
int ice_agent_add_remote(struct ice_agent *a, uint64_t now_us, const struct ice_remote_cand *rc);
void ice_agent_end_of_candidates(struct ice_agent *a);

/** Form the check list and start checks (or, for a lite agent, wait for them). */
int ice_agent_start(struct ice_agent *a, uint64_t now_us);

/** ICE restart (RFC 8445 §9): new local credentials; remote ones follow. */
int ice_agent_restart(struct ice_agent *a, uint64_t now_us, const char *ufrag, const char *pwd);

/**
 * Hand the agent a datagram received on a local address from a remote one. A request is
 * answered into reply->buf when reply is given (the dataplane answers in place), or
 * queued for ice_agent_poll_transmit otherwise.
 */
enum ice_rx ice_agent_recv(struct ice_agent *a, uint64_t now_us, const struct ice_addr *local,
			   const struct ice_addr *remote, const uint8_t *buf, size_t len,
			   struct ice_out *reply);

/** Next datagram to send, if any. Returns 1 with out filled, 0 when nothing is due. */
int ice_agent_poll_transmit(struct ice_agent *a, uint64_t now_us, struct ice_out *out);
/** Next event, if any. */
bool ice_agent_poll_event(struct ice_agent *a, struct ice_event *ev);
/** When ice_agent_handle_timeout must be called next (UINT64_MAX = never). */
uint64_t ice_agent_next_timeout(const struct ice_agent *a);
void ice_agent_handle_timeout(struct ice_agent *a, uint64_t now_us);

/** The caller sent media on a component: keep-alives are only needed in silence. */
static inline void ice_agent_note_media_sent(struct ice_agent *a, uint8_t comp, uint64_t now_us)
{
	if (comp >= 1 && comp <= ICE_MAX_COMPS)
		a->last_tx_us[comp - 1] = now_us;
}

/** The selected pair of a component (1-based): 0 with addresses, ICE_E_STATE if none. */
int ice_agent_selected(const struct ice_agent *a, uint8_t comp, struct ice_addr *local,
		       struct ice_addr *remote);
/** MS-ICE: the caller received the final offer naming the remote candidate id. */
int ice_agent_ms_final_offer(struct ice_agent *a, uint64_t now_us, const char *remote_id_b64);

static inline enum ice_state ice_agent_state(const struct ice_agent *a)
{
	return (enum ice_state)a->state;
}
static inline uint32_t ice_agent_warn(const struct ice_agent *a)
{
	return a->warn;
}
static inline enum ice_role ice_agent_role(const struct ice_agent *a)
{
	return (enum ice_role)a->role;
}

const char *ice_pair_state_name(enum ice_pair_state s);
const char *ice_cand_type_name(enum ice_cand_type t);
const char *ice_dialect_name(enum ice_dialect d);

/** Candidate priority (RFC 8445 §5.1.2.1, or MS-ICE2's layout). */
uint32_t ice_cand_priority(enum ice_dialect d, enum ice_cand_type type, uint16_t local_pref,
			   uint8_t comp);
/** Pair priority (RFC 8445 §6.1.2.3). */
uint64_t ice_pair_priority(uint32_t controlling, uint32_t controlled);

/** Write the check list (pjnath's "Checklist" format) to the trace. */
void ice_agent_dump(struct ice_agent *a, uint64_t now_us);

#endif
