/* TURN client allocations (RFC 8656 over UDP, [MS-TURN] Allocate): the transaction state
 * machine, retransmission timers, permission / channel upkeep and data (un)wrapping. */
#include <string.h>

#include <openssl/evp.h>

#include "turn.h"

enum turn_txn_kind {
	TX_NONE = 0,
	TX_ALLOCATE,
	TX_REFRESH,
	TX_DEALLOC,
	TX_PERM,
	TX_CHAN,
	TX_SAD,     /* [MS-TURN] Set-Active-Destination */
};

const char *turn_strerror(int err)
{
	switch (err) {
	case TURN_OK: return "ok";
	case TURN_E_INVAL: return "invalid argument";
	case TURN_E_STATE: return "not allowed in this state";
	case TURN_E_FULL: return "no free slot";
	case TURN_E_NOSPACE: return "buffer too small";
	case TURN_E_NOTFOUND: return "unknown peer or channel";
	case TURN_E_NOT_TURN: return "not TURN data";
	}
	return "unknown error";
}

const char *turn_state_name(enum turn_state s)
{
	static const char *const n[] = {"idle", "allocating", "allocated", "deallocating",
					"deallocated", "failed"};
	return (unsigned)s < sizeof(n) / sizeof(n[0]) ? n[s] : "?";
}

/* RFC 8489: 12 random bytes after the cookie; [MS-TURN] §2.2.1: 16 bytes, no cookie. */
static void new_tid(struct turn_alloc *a, uint8_t tid[STUN_LEGACY_TID_LEN])
{
	uint64_t r1 = a->cfg.rng(a->cfg.rng_ctx), r2 = a->cfg.rng(a->cfg.rng_ctx);

	memcpy(tid, &r1, 8);
	memcpy(tid + 8, &r2, a->cfg.ms_turn ? 8 : 4);
}

static size_t tid_len(const struct turn_alloc *a)
{
	return a->cfg.ms_turn ? STUN_LEGACY_TID_LEN : STUN_TID_LEN;
}

static void push_event(struct turn_alloc *a, const struct turn_event *ev)
{
	if (a->ev_n == TURN_EVQ) {
		a->ev_dropped++;
		return;
	}
	a->evq[(a->ev_head + a->ev_n) % TURN_EVQ] = *ev;
	a->ev_n++;
}

bool turn_poll_event(struct turn_alloc *a, struct turn_event *ev)
{
	if (!a->ev_n)
		return false;
	*ev = a->evq[a->ev_head];
	a->ev_head = (uint8_t)((a->ev_head + 1) % TURN_EVQ);
	a->ev_n--;
	return true;
}

static void txn_start(struct turn_alloc *a, struct turn_txn *tx, uint8_t kind)
{
	new_tid(a, tx->tid);
	tx->kind = kind;
	tx->sent = 0;
	tx->want = true;
	tx->rto_us = a->cfg.rto_us;
	tx->due_us = 0;
}

static void txn_stop(struct turn_txn *tx)
{
	tx->kind = TX_NONE;
	tx->want = false;
}

/* [MS-TURN] §3.1.5.1: the Edge hands out base64 user names and passwords. */
static int b64_decode(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in);
	uint8_t tmp[STUN_LT_MAX * 3 / 4 + 4];
	int len;

	if (n == 0 || n % 4 || n > STUN_LT_MAX)
		return -1;
	len = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	if (in[n - 1] == '=')
		len--;
	if (in[n - 2] == '=')
		len--;
	if ((size_t)len >= cap || memchr(tmp, 0, (size_t)len))
		return -1;
	memcpy(out, tmp, (size_t)len);
	out[len] = 0;
	return 0;
}

int turn_init(struct turn_alloc *a, const struct turn_config *cfg)
{
	char user[STUN_LT_MAX + 1], pass[STUN_LT_MAX + 1];
	const char *u = cfg ? cfg->user : NULL, *p = cfg ? cfg->pass : NULL;

	if (!a || !cfg || !cfg->rng || !u || !p)
		return TURN_E_INVAL;
	if (cfg->server.family != ICE_AF_INET && cfg->server.family != ICE_AF_INET6)
		return TURN_E_INVAL;
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	a->cfg.user = a->cfg.pass = NULL; /* copied into lt; the caller's strings may go */
	if (!a->cfg.lifetime_s)
		a->cfg.lifetime_s = TURN_DEFAULT_LIFETIME_S;
	if (!a->cfg.rto_us)
		a->cfg.rto_us = TURN_RTO_US;
	if (!a->cfg.max_tx)
		a->cfg.max_tx = TURN_RC;
	if (cfg->ms_turn) {
		if (b64_decode(u, user, sizeof(user)) || b64_decode(p, pass, sizeof(pass)))
			return TURN_E_INVAL;
		u = user;
		p = pass;
	}
	if (stun_lt_init(&a->lt, u, p, cfg->ms_turn) != 0)
		return TURN_E_INVAL;
	a->server = cfg->server;
	for (unsigned i = 0; i < MSTURN_MS_SEQ_CONN_ID_LEN; i += 4) {
		uint32_t r = (uint32_t)cfg->rng(cfg->rng_ctx);
		memcpy(a->ms_conn_id + i, &r, 4);
	}
	return TURN_OK;
}

int turn_start(struct turn_alloc *a, uint64_t now_us)
{
	(void)now_us;
	if (a->state != TURN_S_IDLE)
		return TURN_E_STATE;
	a->state = TURN_S_ALLOCATING;
	txn_start(a, &a->tx, TX_ALLOCATE);
	return TURN_OK;
}

int turn_permit(struct turn_alloc *a, uint64_t now_us, const struct ice_addr *peer)
{
	int free_slot = -1;

	(void)now_us;
	if (a->state != TURN_S_ALLOCATED)
		return TURN_E_STATE;
	if (a->cfg.ms_turn) /* [MS-TURN]: permissions come with Send; not modelled here */
		return TURN_E_STATE;
	for (int i = 0; i < TURN_MAX_PERMS; i++) {
		if (a->perm[i].state && ice_addr_eq_ip(&a->perm[i].peer, peer))
			return i;
		if (!a->perm[i].state && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return TURN_E_FULL;
	a->perm[free_slot].peer = *peer;
	a->perm[free_slot].state = 1;
	txn_start(a, &a->perm[free_slot].tx, TX_PERM);
	return free_slot;
}

int turn_bind_channel(struct turn_alloc *a, uint64_t now_us, const struct ice_addr *peer)
{
	int free_slot = -1;

	(void)now_us;
	if (a->state != TURN_S_ALLOCATED || a->cfg.ms_turn)
		return TURN_E_STATE;
	for (int i = 0; i < TURN_MAX_CHANNELS; i++) {
		if (a->chan[i].state && ice_addr_eq(&a->chan[i].peer, peer))
			return i;
		if (!a->chan[i].state && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return TURN_E_FULL;
	/* RFC 8656 §12: a channel number stays with its peer for the allocation's life */
	a->chan[free_slot].peer = *peer;
	a->chan[free_slot].number = (uint16_t)(TURN_CHANNEL_MIN + free_slot);
	a->chan[free_slot].state = 1;
	txn_start(a, &a->chan[free_slot].tx, TX_CHAN);
	return free_slot;
}

int turn_refresh(struct turn_alloc *a, uint64_t now_us)
{
	(void)now_us;
	if (a->state != TURN_S_ALLOCATED)
		return TURN_E_STATE;
	if (a->tx.kind != TX_REFRESH)
		txn_start(a, &a->tx, TX_REFRESH);
	return TURN_OK;
}

static void stop_all(struct turn_alloc *a)
{
	txn_stop(&a->tx);
	txn_stop(&a->sad_tx);
	for (int i = 0; i < TURN_MAX_PERMS; i++)
		txn_stop(&a->perm[i].tx);
	for (int i = 0; i < TURN_MAX_CHANNELS; i++)
		txn_stop(&a->chan[i].tx);
}

int turn_release(struct turn_alloc *a, uint64_t now_us)
{
	struct turn_event ev = {.type = TURN_EV_DEALLOCATED};

	(void)now_us;
	if (a->state == TURN_S_IDLE || a->state == TURN_S_ALLOCATING) {
		/* nothing granted yet: forget it without a word to the server */
		stop_all(a);
		a->state = TURN_S_DEALLOCATED;
		push_event(a, &ev);
		return TURN_OK;
	}
	if (a->state != TURN_S_ALLOCATED)
		return TURN_E_STATE;
	stop_all(a);
	a->state = TURN_S_DEALLOCATING;
	txn_start(a, &a->tx, TX_DEALLOC);
	return TURN_OK;
}

static void sad_start(struct turn_alloc *a)
{
	/* every Set-Active-Destination takes the next number; retransmissions repeat it */
	a->sad_seq = ++a->ms_seq;
	txn_start(a, &a->sad_tx, TX_SAD);
}

static void sad_failed(struct turn_alloc *a, uint32_t warn, int code)
{
	struct turn_event ev = {.type = TURN_EV_ACTIVE_DEST_FAILED, .code = code};

	txn_stop(&a->sad_tx);
	a->active_state = 0;
	a->warn |= warn;
	a->last_code = code;
	ev.peer = a->active_dest;
	ev.warn = a->warn;
	push_event(a, &ev);
}

int turn_set_active_dest(struct turn_alloc *a, uint64_t now_us, const struct ice_addr *peer)
{
	(void)now_us;
	if (!a || !peer)
		return TURN_E_INVAL;
	if (a->state != TURN_S_ALLOCATED || !a->cfg.ms_turn)
		return TURN_E_STATE;
	if (peer->family != ICE_AF_INET && peer->family != ICE_AF_INET6)
		return TURN_E_INVAL;
	if (a->active_state && ice_addr_eq(&a->active_dest, peer))
		return TURN_OK;
	a->active_dest = *peer;
	a->active_state = 1;
	sad_start(a);
	return TURN_OK;
}

static void fail(struct turn_alloc *a, uint32_t warn, int code)
{
	struct turn_event ev = {.type = TURN_EV_FAILED, .code = code};

	stop_all(a);
	a->warn |= warn;
	a->last_code = code;
	a->state = TURN_S_FAILED;
	ev.warn = a->warn;
	push_event(a, &ev);
}

/* ------------------------------------------------------------------ building requests */

static unsigned build_flags(const struct turn_alloc *a)
{
	return a->cfg.ms_turn ? (STUN_BF_UNPADDED | STUN_BF_LEGACY) : 0;
}

static enum stun_mi_mode mi_mode(const struct turn_alloc *a)
{
	return a->cfg.ms_turn ? STUN_MI_PAD64 : STUN_MI_RFC;
}

static unsigned parse_flags(const struct turn_alloc *a)
{
	return a->cfg.ms_turn ? (STUN_PF_MS_ATTRS | STUN_PF_UNPADDED) : 0;
}

/* [MS-TURN] §2.2.2.21: 20-byte connection id (the server's) then a 32-bit counter. */
static void ms_build_seq(const struct turn_alloc *a, struct stun_builder *b, uint32_t seq)
{
	uint8_t v[MSTURN_MS_SEQ_LEN];

	if (!a->ms_seq_valid)
		return;
	memcpy(v, a->ms_conn_id, MSTURN_MS_SEQ_CONN_ID_LEN);
	v[20] = (uint8_t)(seq >> 24);
	v[21] = (uint8_t)(seq >> 16);
	v[22] = (uint8_t)(seq >> 8);
	v[23] = (uint8_t)seq;
	stun_build_attr(b, MSTURN_A_MS_SEQUENCE_NUMBER, v, sizeof(v));
}

/* The signed Allocate after the challenge. The attribute order is libnice's OC2007 order
 * (REALM, NONCE, USERNAME), checked byte for byte by tests/interop/msturn_check.c. */
static void ms_sign_allocate(struct turn_alloc *a, struct stun_builder *b)
{
	if (!a->lt.have_key)
		return;
	stun_build_str(b, MSTURN_A_REALM, a->lt.realm);
	stun_build_str(b, MSTURN_A_NONCE, a->lt.nonce);
	stun_build_str(b, STUN_A_USERNAME, a->lt.user);
	stun_build_integrity(b, &a->lt.key, STUN_MI_PAD64);
}

/* [MS-TURN] §2.2.2: Set-Active-Destination. Send and Set-Active-Destination carry no NONCE;
 * the realm keys their MESSAGE-INTEGRITY. Edge clients leave REALM out, libnice sends it and
 * the Edge accepts it: we send it, so that the server needs no per-allocation realm memory. */
static void ms_build_sad(struct turn_alloc *a, struct stun_builder *b)
{
	stun_build_u32(b, MSTURN_A_MAGIC_COOKIE, MSTURN_MAGIC_COOKIE_VALUE);
	if (a->lt.have_key)
		stun_build_str(b, STUN_A_USERNAME, a->lt.user);
	ms_build_seq(a, b, a->sad_seq);
	if (a->lt.have_key)
		stun_build_str(b, MSTURN_A_REALM, a->lt.realm);
	stun_build_addr(b, MSTURN_A_DESTINATION_ADDRESS, &a->active_dest);
	if (a->lt.have_key)
		stun_build_integrity(b, &a->lt.key, STUN_MI_PAD64);
}

static int build_request(struct turn_alloc *a, const struct turn_txn *tx, int idx, uint8_t *buf,
			 size_t cap)
{
	struct stun_builder b;
	uint16_t method;
	bool ms = a->cfg.ms_turn;

	switch (tx->kind) {
	case TX_ALLOCATE:
		method = TURN_M_ALLOCATE;
		break;
	case TX_REFRESH:
	case TX_DEALLOC:
		/* [MS-TURN] has no Refresh (0x004 is its Send): an Allocate with LIFETIME */
		method = ms ? TURN_M_ALLOCATE : TURN_M_REFRESH;
		break;
	case TX_PERM:
		method = TURN_M_CREATE_PERMISSION;
		break;
	case TX_SAD:
		method = MSTURN_M_SET_ACTIVE_DEST;
		break;
	default:
		method = TURN_M_CHANNEL_BIND;
		break;
	}
	stun_build_init(&b, buf, cap, stun_type(method, STUN_C_REQUEST), tx->tid, build_flags(a));
	if (ms && tx->kind == TX_SAD) {
		ms_build_sad(a, &b);
		return stun_build_finish(&b);
	}
	if (ms && method == TURN_M_ALLOCATE) {
		stun_build_u32(&b, MSTURN_A_MAGIC_COOKIE, MSTURN_MAGIC_COOKIE_VALUE);
		stun_build_u32(&b, MSTURN_A_MS_VERSION, MSTURN_VERSION);
	}
	switch (tx->kind) {
	case TX_ALLOCATE:
		if (!ms) /* RFC 8656 §7.1: UDP relay */
			stun_build_u32(&b, TURN_A_REQUESTED_TRANSPORT, (uint32_t)TURN_PROTO_UDP << 24);
		stun_build_u32(&b, TURN_A_LIFETIME, a->cfg.lifetime_s);
		break;
	case TX_REFRESH:
		stun_build_u32(&b, TURN_A_LIFETIME, a->cfg.lifetime_s);
		break;
	case TX_DEALLOC:
		stun_build_u32(&b, TURN_A_LIFETIME, 0); /* RFC 8656 §7.2 */
		break;
	case TX_PERM:
		stun_build_addr(&b, TURN_A_XOR_PEER_ADDRESS, &a->perm[idx].peer);
		break;
	case TX_CHAN:
		stun_build_u32(&b, TURN_A_CHANNEL_NUMBER, (uint32_t)a->chan[idx].number << 16);
		stun_build_addr(&b, TURN_A_XOR_PEER_ADDRESS, &a->chan[idx].peer);
		break;
	}
	if (ms)
		ms_sign_allocate(a, &b);
	else
		stun_lt_sign(&a->lt, &b, mi_mode(a));
	if (!ms)
		stun_build_fingerprint(&b, false);
	return stun_build_finish(&b);
}

/* ------------------------------------------------------------------ transmit / timers */

static struct turn_txn *txn_at(struct turn_alloc *a, int i, int *idx)
{
	if (i == 0) {
		*idx = 0;
		return &a->tx;
	}
	if (i == 1 + TURN_MAX_PERMS + TURN_MAX_CHANNELS) {
		*idx = 0;
		return &a->sad_tx;
	}
	if (i <= TURN_MAX_PERMS) {
		*idx = i - 1;
		return &a->perm[i - 1].tx;
	}
	*idx = i - 1 - TURN_MAX_PERMS;
	return &a->chan[*idx].tx;
}
#define TXN_SLOTS (2 + TURN_MAX_PERMS + TURN_MAX_CHANNELS)

int turn_poll_transmit(struct turn_alloc *a, uint64_t now_us, uint8_t *buf, size_t cap,
		       struct ice_addr *to)
{
	for (int i = 0; i < TXN_SLOTS; i++) {
		int idx, n;
		struct turn_txn *tx = txn_at(a, i, &idx);

		if (tx->kind == TX_NONE || !tx->want)
			continue;
		n = build_request(a, tx, idx, buf, cap);
		if (n < 0)
			return TURN_E_NOSPACE;
		tx->want = false;
		tx->sent++;
		/* RFC 8489 §6.2.1: RTO doubles; after the last of Rc sends wait Rm * RTO */
		if (tx->sent < a->cfg.max_tx) {
			tx->due_us = now_us + tx->rto_us;
			tx->rto_us *= 2;
		} else {
			tx->due_us = now_us + (uint64_t)TURN_RM * a->cfg.rto_us;
		}
		*to = a->server;
		return n;
	}
	return 0;
}

uint64_t turn_next_timeout(const struct turn_alloc *a)
{
	uint64_t t = UINT64_MAX;

	for (int i = 0; i < TXN_SLOTS; i++) {
		int idx;
		const struct turn_txn *tx = txn_at((struct turn_alloc *)a, i, &idx);

		if (tx->kind != TX_NONE && !tx->want && tx->due_us < t)
			t = tx->due_us;
	}
	if (a->state != TURN_S_ALLOCATED)
		return t;
	if (a->tx.kind == TX_NONE && a->refresh_us < t)
		t = a->refresh_us;
	for (int i = 0; i < TURN_MAX_PERMS; i++)
		if (a->perm[i].state == 2 && a->perm[i].tx.kind == TX_NONE && a->perm[i].refresh_us < t)
			t = a->perm[i].refresh_us;
	for (int i = 0; i < TURN_MAX_CHANNELS; i++)
		if (a->chan[i].state == 2 && a->chan[i].tx.kind == TX_NONE && a->chan[i].refresh_us < t)
			t = a->chan[i].refresh_us;
	return t;
}

static void on_txn_timeout(struct turn_alloc *a, struct turn_txn *tx, int idx)
{
	struct turn_event ev = {0};
	uint8_t kind = tx->kind;

	txn_stop(tx);
	switch (kind) {
	case TX_ALLOCATE:
		fail(a, a->heard ? TURN_WARN_ALLOC_FAILED : TURN_WARN_UNREACHABLE, 0);
		break;
	case TX_REFRESH:
		fail(a, TURN_WARN_UNREACHABLE, 0);
		break;
	case TX_DEALLOC:
		/* the server will expire it anyway; report what happened */
		a->warn |= TURN_WARN_UNREACHABLE;
		a->state = TURN_S_DEALLOCATED;
		ev.type = TURN_EV_DEALLOCATED;
		ev.warn = a->warn;
		push_event(a, &ev);
		break;
	case TX_PERM:
		ev.type = TURN_EV_PERMISSION_FAILED;
		ev.idx = (uint8_t)idx;
		ev.peer = a->perm[idx].peer;
		a->perm[idx].state = 0;
		push_event(a, &ev);
		break;
	case TX_CHAN:
		ev.type = TURN_EV_CHANNEL_FAILED;
		ev.idx = (uint8_t)idx;
		ev.peer = a->chan[idx].peer;
		ev.channel = a->chan[idx].number;
		a->chan[idx].state = 0;
		push_event(a, &ev);
		break;
	case TX_SAD:
		sad_failed(a, TURN_WARN_SEND_FAILED, 0);
		break;
	}
}

void turn_handle_timeout(struct turn_alloc *a, uint64_t now_us)
{
	for (int i = 0; i < TXN_SLOTS; i++) {
		int idx;
		struct turn_txn *tx = txn_at(a, i, &idx);

		if (tx->kind == TX_NONE || tx->want || now_us < tx->due_us)
			continue;
		if (tx->sent < a->cfg.max_tx)
			tx->want = true;
		else
			on_txn_timeout(a, tx, idx);
	}
	if (a->state != TURN_S_ALLOCATED)
		return;
	if (a->tx.kind == TX_NONE && now_us >= a->refresh_us)
		txn_start(a, &a->tx, TX_REFRESH);
	for (int i = 0; i < TURN_MAX_PERMS; i++)
		if (a->perm[i].state == 2 && a->perm[i].tx.kind == TX_NONE &&
		    now_us >= a->perm[i].refresh_us)
			txn_start(a, &a->perm[i].tx, TX_PERM);
	for (int i = 0; i < TURN_MAX_CHANNELS; i++)
		if (a->chan[i].state == 2 && a->chan[i].tx.kind == TX_NONE &&
		    now_us >= a->chan[i].refresh_us)
			txn_start(a, &a->chan[i].tx, TX_CHAN);
}

/* ------------------------------------------------------------------ responses */

static void follow_alternate(struct turn_alloc *a, const struct ice_addr *alt)
{
	struct stun_lt_client old = a->lt;

	/* RFC 8489 §10: a new server, a new realm and nonce; the credentials stay */
	a->warn |= TURN_WARN_ALTERNATE;
	a->redirected = true;
	a->server = *alt;
	a->heard = false;
	stun_lt_init(&a->lt, old.user, old.pass, old.ms_turn);
	txn_start(a, &a->tx, TX_ALLOCATE);
}

static void on_success(struct turn_alloc *a, struct turn_txn *tx, int idx,
		       const struct stun_msg *m, uint64_t now)
{
	struct turn_event ev = {0};
	uint32_t life = 0;
	uint8_t kind = tx->kind;

	stun_lt_on_success(&a->lt);
	txn_stop(tx);
	switch (kind) {
	case TX_ALLOCATE:
	case TX_REFRESH:
		if (stun_msg_get_u32(m, TURN_A_LIFETIME, &life) != 0)
			life = kind == TX_ALLOCATE ? TURN_DEFAULT_LIFETIME_S : a->cfg.lifetime_s;
		a->lifetime_s = life;
		/* refresh at 80 % of the granted lifetime */
		a->refresh_us = now + (uint64_t)life * 800000u;
		ev.lifetime_s = life;
		if (kind == TX_REFRESH) {
			ev.type = TURN_EV_REFRESHED;
			push_event(a, &ev);
			break;
		}
		if (a->cfg.ms_turn) { /* [MS-TURN] §2.2.2: relayed in MAPPED-ADDRESS */
			if (stun_msg_get_addr(m, STUN_A_MAPPED_ADDRESS, &a->relayed) != 0) {
				fail(a, TURN_WARN_ALLOC_FAILED, 0);
				return;
			}
			stun_msg_get_addr(m, MSTURN_A_XOR_MAPPED_ADDRESS, &a->mapped);
			/* [MS-TURN] §3.2.5.1: the connection id and first number for Send and
			 * Set-Active-Destination */
			const uint8_t *sq;
			uint16_t sl;
			if (stun_msg_get_bytes(m, MSTURN_A_MS_SEQUENCE_NUMBER, &sq, &sl) == 0 &&
			    sl == MSTURN_MS_SEQ_LEN) {
				memcpy(a->ms_conn_id, sq, MSTURN_MS_SEQ_CONN_ID_LEN);
				a->ms_seq = ((uint32_t)sq[20] << 24) | ((uint32_t)sq[21] << 16) |
					    ((uint32_t)sq[22] << 8) | sq[23];
				a->ms_seq_valid = true;
			}
		} else {
			if (stun_msg_get_addr(m, TURN_A_XOR_RELAYED_ADDRESS, &a->relayed) != 0) {
				fail(a, TURN_WARN_ALLOC_FAILED, 0);
				return;
			}
			stun_msg_get_addr(m, STUN_A_XOR_MAPPED_ADDRESS, &a->mapped);
		}
		a->state = TURN_S_ALLOCATED;
		ev.type = TURN_EV_ALLOCATED;
		ev.relayed = a->relayed;
		ev.mapped = a->mapped;
		push_event(a, &ev);
		break;
	case TX_DEALLOC:
		a->state = TURN_S_DEALLOCATED;
		ev.type = TURN_EV_DEALLOCATED;
		ev.warn = a->warn;
		push_event(a, &ev);
		break;
	case TX_PERM:
		a->perm[idx].refresh_us = now + (uint64_t)TURN_PERM_REFRESH_S * 1000000u;
		if (a->perm[idx].state != 2) {
			a->perm[idx].state = 2;
			ev.type = TURN_EV_PERMISSION;
			ev.idx = (uint8_t)idx;
			ev.peer = a->perm[idx].peer;
			push_event(a, &ev);
		}
		break;
	case TX_CHAN:
		a->chan[idx].refresh_us = now + (uint64_t)TURN_CHAN_REFRESH_S * 1000000u;
		if (a->chan[idx].state != 2) {
			a->chan[idx].state = 2;
			ev.type = TURN_EV_CHANNEL_BOUND;
			ev.idx = (uint8_t)idx;
			ev.channel = a->chan[idx].number;
			ev.peer = a->chan[idx].peer;
			push_event(a, &ev);
		}
		break;
	case TX_SAD:
		a->active_state = 2;
		ev.type = TURN_EV_ACTIVE_DEST;
		ev.peer = a->active_dest;
		push_event(a, &ev);
		break;
	}
}

static void on_error(struct turn_alloc *a, struct turn_txn *tx, int idx, const struct stun_msg *m)
{
	struct turn_event ev = {0};
	struct ice_addr alt;
	int code = 0, v;

	stun_msg_get_error(m, &code, NULL, NULL);
	a->last_code = code;
	if (code == 401 || code == 438) {
		v = stun_lt_on_error(&a->lt, m);
		if (v == STUN_LT_RETRY) {
			if (tx->kind == TX_SAD)
				sad_start(a);
			else
				txn_start(a, tx, tx->kind);
			return;
		}
		if (tx->kind == TX_SAD) {
			sad_failed(a, TURN_WARN_SEND_FAILED |
				   (v == STUN_LT_REJECTED ? TURN_WARN_CREDENTIALS : 0), code);
			return;
		}
		if (tx->kind == TX_ALLOCATE || tx->kind == TX_REFRESH) {
			fail(a, v == STUN_LT_REJECTED ? TURN_WARN_CREDENTIALS : TURN_WARN_ALLOC_FAILED,
			     code);
			return;
		}
	}
	switch (tx->kind) {
	case TX_ALLOCATE:
		/* RFC 8489 §10 / RFC 8656 §7.4: 300 Try Alternate, followed once */
		if (code == 300 && !a->redirected &&
		    stun_msg_get_addr(m, a->cfg.ms_turn ? MSTURN_A_ALTERNATE_SERVER
							: STUN_A_ALTERNATE_SERVER, &alt) == 0) {
			follow_alternate(a, &alt);
			return;
		}
		if (code == 300)
			a->warn |= TURN_WARN_ALTERNATE;
		/* 403 Forbidden and 441 Wrong Credentials are credential matters */
		fail(a, (code == 403 || code == 441) ? TURN_WARN_CREDENTIALS : TURN_WARN_ALLOC_FAILED,
		     code);
		break;
	case TX_REFRESH:
		fail(a, TURN_WARN_ALLOC_FAILED, code);
		break;
	case TX_DEALLOC:
		/* 437: already gone, which is what we wanted */
		txn_stop(tx);
		a->state = TURN_S_DEALLOCATED;
		ev.type = TURN_EV_DEALLOCATED;
		ev.code = code;
		ev.warn = a->warn;
		push_event(a, &ev);
		break;
	case TX_PERM:
		txn_stop(tx);
		a->perm[idx].state = 0;
		ev.type = TURN_EV_PERMISSION_FAILED;
		ev.idx = (uint8_t)idx;
		ev.code = code;
		ev.peer = a->perm[idx].peer;
		push_event(a, &ev);
		break;
	case TX_CHAN:
		txn_stop(tx);
		a->chan[idx].state = 0;
		ev.type = TURN_EV_CHANNEL_FAILED;
		ev.idx = (uint8_t)idx;
		ev.code = code;
		ev.channel = a->chan[idx].number;
		ev.peer = a->chan[idx].peer;
		push_event(a, &ev);
		break;
	case TX_SAD:
		sad_failed(a, TURN_WARN_SEND_FAILED, code);
		break;
	}
}

bool turn_msturn_is_control(const uint8_t *p, size_t len)
{
	/* [MS-TURN] §3.1.10: the header, then MAGIC-COOKIE (type, length 4, value) first */
	static const uint8_t cookie_attr[8] = {0x00, 0x0F, 0x00, 0x04, 0x72, 0xc6, 0x4b, 0xc6};

	if (stun_classify(p, len) == STUN_KIND_NONE || len < STUN_HDR_LEN + sizeof(cookie_attr))
		return false;
	return memcmp(p + STUN_HDR_LEN, cookie_attr, sizeof(cookie_attr)) == 0;
}

enum turn_rx turn_handle(struct turn_alloc *a, uint64_t now_us, const struct ice_addr *from,
			 const uint8_t *p, size_t len)
{
	struct stun_msg m;
	enum stun_kind k;

	if (!ice_addr_eq(from, &a->server))
		return TURN_RX_NOT_MINE;
	if (a->cfg.ms_turn) {
		if (!turn_msturn_is_control(p, len))
			return a->active_state == 2 ? TURN_RX_DATA : TURN_RX_NOT_MINE;
		if (stun_parse(&m, p, len, parse_flags(a)) != 0)
			return TURN_RX_NOT_MINE;
		if (m.type == MSTURN_T_DATA_IND)
			return TURN_RX_DATA;
		goto response;
	}
	k = stun_classify(p, len);
	if (k == STUN_KIND_CHANNELDATA)
		return TURN_RX_DATA;
	if (k != STUN_KIND_RFC || stun_parse(&m, p, len, parse_flags(a)) != 0)
		return TURN_RX_NOT_MINE;
	if (m.method == TURN_M_DATA && m.cls == STUN_C_INDICATION)
		return TURN_RX_DATA;
response:
	if (m.cls != STUN_C_SUCCESS && m.cls != STUN_C_ERROR)
		return TURN_RX_NOT_MINE;
	for (int i = 0; i < TXN_SLOTS; i++) {
		int idx;
		struct turn_txn *tx = txn_at(a, i, &idx);

		if (tx->kind == TX_NONE || tx->sent == 0 ||
		    memcmp(tx->tid, stun_msg_tid(&m), tid_len(a)))
			continue;
		/* RFC 8489 §9.2.5: a response to a signed request must carry good integrity;
		 * the challenge errors themselves come unsigned */
		if (a->lt.have_key && m.cls == STUN_C_SUCCESS &&
		    stun_msg_check_integrity(&m, &a->lt.key, mi_mode(a)) != 0)
			return TURN_RX_HANDLED;
		a->heard = true;
		if (m.cls == STUN_C_SUCCESS)
			on_success(a, tx, idx, &m, now_us);
		else
			on_error(a, tx, idx, &m);
		return TURN_RX_HANDLED;
	}
	return TURN_RX_NOT_MINE;
}

/* ------------------------------------------------------------------ data */

int turn_wrap(struct turn_alloc *a, const struct ice_addr *peer, const void *data, size_t len,
	      uint8_t *out, size_t cap)
{
	struct stun_builder b;
	uint8_t tid[STUN_LEGACY_TID_LEN];
	int n;

	if (a->state != TURN_S_ALLOCATED)
		return TURN_E_STATE;
	if (len > STUN_MAX_MSG)
		return TURN_E_INVAL;
	if (a->cfg.ms_turn && a->active_state == 2 && ice_addr_eq(&a->active_dest, peer)) {
		/* [MS-TURN] §3.2.4.5: data for the active destination goes unencapsulated */
		if (len > cap)
			return TURN_E_NOSPACE;
		memmove(out, data, len);
		return (int)len;
	}
	for (int i = 0; i < TURN_MAX_CHANNELS; i++) {
		if (a->chan[i].state == 2 && ice_addr_eq(&a->chan[i].peer, peer)) {
			n = stun_channeldata_build(out, cap, a->chan[i].number, data, len, false);
			return n < 0 ? TURN_E_NOSPACE : n;
		}
	}
	new_tid(a, tid);
	if (a->cfg.ms_turn) {
		/* [MS-TURN] §3.2.4.4: a Send request, signed, numbered; no answer comes. The
		 * order is libnice's OC2007 one (tests/interop/msturn_check.c compares bytes). */
		bool key = a->lt.have_key;

		stun_build_init(&b, out, cap, stun_type(MSTURN_M_SEND, STUN_C_REQUEST), tid,
				build_flags(a));
		stun_build_u32(&b, MSTURN_A_MAGIC_COOKIE, MSTURN_MAGIC_COOKIE_VALUE);
		if (key)
			stun_build_str(&b, STUN_A_USERNAME, a->lt.user);
		stun_build_addr(&b, MSTURN_A_DESTINATION_ADDRESS, peer);
		stun_build_u32(&b, MSTURN_A_MS_VERSION, MSTURN_VERSION);
		ms_build_seq(a, &b, ++a->ms_seq);
		if (key)
			stun_build_str(&b, MSTURN_A_REALM, a->lt.realm);
		stun_build_attr(&b, TURN_A_DATA, data, len);
		if (key)
			stun_build_integrity(&b, &a->lt.key, STUN_MI_PAD64);
	} else {
		/* RFC 8656 §11.1: Send indication, unsigned */
		stun_build_init(&b, out, cap, stun_type(TURN_M_SEND, STUN_C_INDICATION), tid, 0);
		stun_build_addr(&b, TURN_A_XOR_PEER_ADDRESS, peer);
		stun_build_attr(&b, TURN_A_DATA, data, len);
		stun_build_fingerprint(&b, false);
	}
	n = stun_build_finish(&b);
	return n < 0 ? TURN_E_NOSPACE : n;
}

/* An address attribute read without XOR, whatever its number ([MS-TURN] REMOTE-ADDRESS
 * shares 0x0012 with RFC 8656's XOR-PEER-ADDRESS). */
static int ms_get_plain_addr(const struct stun_msg *m, uint16_t type, struct ice_addr *addr)
{
	const struct stun_attr *at = stun_msg_find(m, type);
	struct stun_msg one;

	if (!at)
		return STUN_E_MISSING;
	one.buf = m->buf;
	one.len = m->len;
	one.flags = m->flags;
	one.nattr = 1;
	one.attr[0] = *at;
	one.attr[0].type = STUN_A_MAPPED_ADDRESS;
	return stun_msg_get_addr(&one, STUN_A_MAPPED_ADDRESS, addr);
}

int turn_unwrap(const struct turn_alloc *a, const uint8_t *p, size_t len, struct ice_addr *peer,
		const uint8_t **data, size_t *dlen)
{
	struct stun_msg m;
	const uint8_t *d;
	uint16_t ch, l;

	if (a->cfg.ms_turn) {
		if (!turn_msturn_is_control(p, len)) {
			if (a->active_state != 2)
				return TURN_E_NOT_TURN;
			*peer = a->active_dest;
			*data = p;
			*dlen = len;
			return TURN_OK;
		}
		/* [MS-TURN] §2.2.1: type 0x0115; REMOTE-ADDRESS is a plain address there */
		if (stun_parse(&m, p, len, parse_flags(a)) != 0 || m.type != MSTURN_T_DATA_IND ||
		    ms_get_plain_addr(&m, TURN_A_XOR_PEER_ADDRESS, peer) != 0 ||
		    stun_msg_get_bytes(&m, TURN_A_DATA, &d, &l) != 0)
			return TURN_E_NOT_TURN;
		*data = d;
		*dlen = l;
		return TURN_OK;
	}
	switch (stun_classify(p, len)) {
	case STUN_KIND_CHANNELDATA:
		if (stun_channeldata_parse(p, len, &ch, &d, &l) != 0)
			return TURN_E_NOT_TURN;
		for (int i = 0; i < TURN_MAX_CHANNELS; i++) {
			if (a->chan[i].state && a->chan[i].number == ch) {
				*peer = a->chan[i].peer;
				*data = d;
				*dlen = l;
				return TURN_OK;
			}
		}
		return TURN_E_NOTFOUND;
	case STUN_KIND_RFC:
		if (stun_parse(&m, p, len, parse_flags(a)) != 0 || m.method != TURN_M_DATA ||
		    m.cls != STUN_C_INDICATION)
			return TURN_E_NOT_TURN;
		/* RFC 8656 §11.4 (MS-TURN: REMOTE-ADDRESS, the same number) */
		if (stun_msg_get_addr(&m, TURN_A_XOR_PEER_ADDRESS, peer) != 0 ||
		    stun_msg_get_bytes(&m, TURN_A_DATA, &d, &l) != 0)
			return TURN_E_NOT_TURN;
		*data = d;
		*dlen = l;
		return TURN_OK;
	default:
		return TURN_E_NOT_TURN;
	}
}
