/* The NG control protocol's message layer: framing, request decoding with rtpengine's key
 * spellings, reply shapes, TCP stream reassembly and the retransmission reply cache. */
#include "ng_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ng_errs[] = {
	"invalid message framing (cookie)",
	"message body is not valid bencode",
	"message body is not a dictionary",
	"no command in message",
	"unknown command",
	"mandatory key missing",
	"invalid value for key",
	"reply buffer too small",
	"stream buffer overflow or garbage",
	"invalid argument",
};

const char *ng_strerror(int err)
{
	if (err == 0)
		return "ok";
	if (err < 0 && err >= NG_BENC_E_ERR_MIN)
		return ng_benc_strerror(err);
	if (err <= NG_E_FRAME && err >= NG_E_ERR_MIN)
		return ng_errs[NG_E_FRAME - err];
	return "unknown NG error";
}

static const char *const cmd_names[] = {
	[NG_CMD_NONE] = "", [NG_CMD_PING] = "ping", [NG_CMD_OFFER] = "offer",
	[NG_CMD_ANSWER] = "answer", [NG_CMD_DELETE] = "delete", [NG_CMD_QUERY] = "query",
	[NG_CMD_LIST] = "list", [NG_CMD_STATISTICS] = "statistics",
};

const char *ng_cmd_name(enum ng_cmd c)
{
	return (unsigned)c < sizeof(cmd_names) / sizeof(cmd_names[0]) ? cmd_names[c] : "";
}

static char key_fold(char c)
{
	if (c == ' ' || c == '_')
		return '-';
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	return c;
}

/* rtpengine accepts "media address" and "media-address", "ICE" and (newer) "ice": fold case and
 * the three separators. */
static bool key_eq(const char *p, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n && name[i]; i++)
		if (key_fold(p[i]) != key_fold(name[i]))
			return false;
	return i == n && name[i] == '\0';
}

static bool node_key_eq(const struct ng_benc_node *n, const char *name)
{
	return n && n->type == NG_BENC_STR && key_eq(n->str, n->len, name);
}

int ng_split(const char *msg, size_t len, struct ng_str *cookie, struct ng_str *body)
{
	size_t i;

	if (!msg || !cookie || !body)
		return NG_E_INVAL;
	for (i = 0; i < len && i <= NG_COOKIE_MAX; i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c == ' ')
			break;
		if (c < 0x21 || c > 0x7e)
			return NG_E_FRAME;
	}
	if (i == 0 || i > NG_COOKIE_MAX || i >= len || msg[i] != ' ')
		return NG_E_FRAME;
	cookie->p = msg;
	cookie->n = i;
	body->p = msg + i + 1;
	body->n = len - i - 1;
	return 0;
}

static void add_unknown(struct ng_request *r, const char *p, size_t n)
{
	if (r->n_unknown < NG_UNKNOWN_MAX)
		r->unknown[r->n_unknown++] = (struct ng_str){ p, n };
	else
		r->unknown_dropped++;
}

static int bad(struct ng_request *r, const char *key)
{
	r->bad_key = key;
	return NG_E_VALUE;
}

static int get_str(struct ng_request *r, const struct ng_benc_node *v, const char *key, struct ng_str *out)
{
	if (v->type != NG_BENC_STR)
		return bad(r, key);
	out->p = v->str;
	out->n = v->len;
	return 0;
}

/* Maps a string value onto a table index (1-based); 0 if absent. */
static int pick(const struct ng_benc_node *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (node_key_eq(v, names[i]))
			return i + 1;
	return 0;
}

static const char *const ice_names[] = { "remove", "force", "default", "force-relay", "optional" };
static const char *const lite_names[] = { "forward", "backward", "both", "off" };
static const char *const mux_names[] = { "offer", "require", "demux", "accept", "reject" };
/* rtpengine ng_control_protocol.md "transport protocol"; "accept" only means something in answers */
static const char *const proto_names[] = { "RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF",
					   "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF", "accept" };

static int parse_addr_str(const struct ng_benc_node *v, struct ice_addr *a)
{
	char tmp[64];

	if (v->type != NG_BENC_STR || v->len == 0 || v->len >= sizeof(tmp) || memchr(v->str, 0, v->len))
		return -1;
	memcpy(tmp, v->str, v->len);
	tmp[v->len] = 0;
	return ice_addr_parse_ip_port(a, tmp, 0);
}

static int parse_key(struct ng_request *r, struct ng_benc_doc *d, const struct ng_benc_node *k,
		     const struct ng_benc_node *v)
{
	const struct ng_benc_node *it;
	int i;

	if (node_key_eq(k, "command"))
		return 0;
	if (node_key_eq(k, "call-id"))
		return get_str(r, v, "call-id", &r->call_id);
	if (node_key_eq(k, "from-tag"))
		return get_str(r, v, "from-tag", &r->from_tag);
	if (node_key_eq(k, "to-tag"))
		return get_str(r, v, "to-tag", &r->to_tag);
	if (node_key_eq(k, "via-branch"))
		return get_str(r, v, "via-branch", &r->via_branch);
	if (node_key_eq(k, "sdp"))
		return get_str(r, v, "sdp", &r->sdp);
	if (node_key_eq(k, "flags")) {
		if (v->type != NG_BENC_LIST)
			return bad(r, "flags");
		for (it = ng_benc_first(d, v); it; it = ng_benc_next(d, it)) {
			if (it->type != NG_BENC_STR)
				return bad(r, "flags");
			if (r->n_flags < NG_FLAGS_MAX)
				r->flags[r->n_flags++] = (struct ng_str){ it->str, it->len };
			else
				r->flags_dropped++;
		}
		return 0;
	}
	if (node_key_eq(k, "replace")) {
		if (v->type != NG_BENC_LIST)
			return bad(r, "replace");
		for (it = ng_benc_first(d, v); it; it = ng_benc_next(d, it)) {
			if (it->type != NG_BENC_STR)
				return bad(r, "replace");
			if (node_key_eq(it, "origin"))
				r->replace |= NG_REPLACE_ORIGIN;
			else if (node_key_eq(it, "session-connection"))
				r->replace |= NG_REPLACE_SESSION_CONNECTION;
			else
				add_unknown(r, it->str, it->len);
		}
		return 0;
	}
	if (node_key_eq(k, "rtcp-mux")) {
		if (v->type != NG_BENC_LIST)
			return bad(r, "rtcp-mux");
		for (it = ng_benc_first(d, v); it; it = ng_benc_next(d, it)) {
			if (it->type != NG_BENC_STR)
				return bad(r, "rtcp-mux");
			if ((i = pick(it, mux_names, 5)) > 0)
				r->rtcp_mux |= (uint8_t)(1u << (i - 1));
			else
				add_unknown(r, it->str, it->len);
		}
		return 0;
	}
	if (node_key_eq(k, "supports")) {
		if (v->type != NG_BENC_LIST)
			return bad(r, "supports");
		for (it = ng_benc_first(d, v); it; it = ng_benc_next(d, it)) {
			if (it->type != NG_BENC_STR)
				return bad(r, "supports");
			/* a capability of the client we make no use of asks nothing of us: no warning */
			if (node_key_eq(it, "load limit"))
				r->supports |= NG_SUPPORTS_LOAD_LIMIT;
		}
		return 0;
	}
	if (node_key_eq(k, "direction")) {
		if (v->type != NG_BENC_LIST)
			return bad(r, "direction");
		for (it = ng_benc_first(d, v); it; it = ng_benc_next(d, it)) {
			if (it->type != NG_BENC_STR || r->n_direction >= 2)
				return bad(r, "direction");
			r->direction[r->n_direction++] = (struct ng_str){ it->str, it->len };
		}
		return 0;
	}
	if (node_key_eq(k, "ICE")) {
		if ((i = pick(v, ice_names, 5)) == 0)
			return bad(r, "ICE");
		r->ice = (enum ng_ice)i;
		return 0;
	}
	if (node_key_eq(k, "ICE-lite")) {
		if ((i = pick(v, lite_names, 4)) == 0)
			return bad(r, "ICE-lite");
		r->ice_lite = (enum ng_ice_lite)i;
		return 0;
	}
	if (node_key_eq(k, "transport-protocol")) {
		if (pick(v, proto_names, 7) == 0)
			return bad(r, "transport-protocol");
		return get_str(r, v, "transport-protocol", &r->transport_protocol);
	}
	if (node_key_eq(k, "media-address")) {
		if (parse_addr_str(v, &r->media_address) != 0)
			return bad(r, "media-address");
		r->has_media_address = true;
		return 0;
	}
	if (node_key_eq(k, "received-from")) {
		const struct ng_benc_node *fam = ng_benc_first(d, v), *addr = ng_benc_next(d, fam);

		/* rtpengine docs: "a list of exactly two elements", family then address */
		if (v->type != NG_BENC_LIST || v->count != 2 || !fam || !addr ||
		    parse_addr_str(addr, &r->received_from) != 0)
			return bad(r, "received-from");
		if (!(node_key_eq(fam, "IP4") && r->received_from.family == ICE_AF_INET) &&
		    !(node_key_eq(fam, "IP6") && r->received_from.family == ICE_AF_INET6))
			return bad(r, "received-from");
		r->has_received_from = true;
		return 0;
	}
	if (node_key_eq(k, "limit")) {
		if (v->type != NG_BENC_INT || v->ival < 0)
			return bad(r, "limit");
		r->limit = v->ival;
		return 0;
	}
	add_unknown(r, k->str, k->len);
	return 0;
}

static const char *need(const struct ng_request *r)
{
	switch (r->cmd) {
	case NG_CMD_ANSWER:
		if (!r->to_tag.p)
			return "to-tag";
		/* fall through */
	case NG_CMD_OFFER:
		if (!r->sdp.p)
			return "sdp";
		if (!r->from_tag.p)
			return "from-tag";
		/* fall through */
	case NG_CMD_DELETE:
	case NG_CMD_QUERY:
		if (!r->call_id.p)
			return "call-id";
		return NULL;
	default:
		return NULL;
	}
}

int ng_request_parse(struct ng_request *r, struct ng_benc_doc *d, const char *msg, size_t len)
{
	const struct ng_benc_node *root, *k, *v, *cmd = NULL;
	struct ng_str body;
	int rc;

	if (!r || !d || !msg)
		return NG_E_INVAL;
	memset(r, 0, sizeof(*r));
	r->limit = -1;
	if ((rc = ng_split(msg, len, &r->cookie, &body)) < 0)
		return rc;
	if (body.n == 0 || (rc = ng_benc_parse(d, body.p, body.n)) < 0)
		return NG_E_BENCODE;
	root = ng_benc_at(d, (uint32_t)rc);
	if (!root || root->type != NG_BENC_DICT)
		return NG_E_NOT_DICT;
	for (k = ng_benc_first(d, root); k && (v = ng_benc_next(d, k)); k = ng_benc_next(d, v))
		if (node_key_eq(k, "command"))
			cmd = v;
	if (!cmd || cmd->type != NG_BENC_STR)
		return NG_E_NO_COMMAND;
	for (int i = NG_CMD_PING; i <= NG_CMD_STATISTICS; i++)
		if (node_key_eq(cmd, cmd_names[i]))
			r->cmd = (enum ng_cmd)i;
	if (r->cmd == NG_CMD_NONE)
		return NG_E_COMMAND;
	for (k = ng_benc_first(d, root); k && (v = ng_benc_next(d, k)); k = ng_benc_next(d, v))
		if ((rc = parse_key(r, d, k, v)) < 0)
			return rc;
	if ((r->missing = need(r)) != NULL)
		return NG_E_MISSING;
	return 0;
}

bool ng_request_has_flag(const struct ng_request *r, const char *name)
{
	for (unsigned i = 0; i < r->n_flags; i++)
		if (key_eq(r->flags[i].p, r->flags[i].n, name))
			return true;
	return false;
}

/* Appends printable bytes only: the warning goes back into a bencoded string and to logs. */
static int put_clean(char *buf, size_t cap, size_t *len, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (*len + 1 >= cap)
			return NG_E_NOSPACE;
		buf[(*len)++] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
	}
	buf[*len] = 0;
	return 0;
}

int ng_request_warning(const struct ng_request *r, char *buf, size_t cap)
{
	static const char head[] = "unsupported keys ignored: ";
	size_t len = 0;
	char more[48];

	if (!buf || cap == 0)
		return NG_E_NOSPACE;
	buf[0] = 0;
	if (r->n_unknown == 0 && r->flags_dropped == 0)
		return 0;
	if (r->n_unknown && put_clean(buf, cap, &len, head, sizeof(head) - 1) < 0)
		return NG_E_NOSPACE;
	for (unsigned i = 0; i < r->n_unknown; i++) {
		/* a key is at most shown in 64 bytes so one hostile key cannot crowd out the rest */
		size_t n = r->unknown[i].n > 64 ? 64 : r->unknown[i].n;

		if ((i && put_clean(buf, cap, &len, ", ", 2) < 0) ||
		    put_clean(buf, cap, &len, r->unknown[i].p, n) < 0)
			return NG_E_NOSPACE;
	}
	if (r->unknown_dropped) {
		snprintf(more, sizeof(more), " (+%u more)", r->unknown_dropped);
		if (put_clean(buf, cap, &len, more, strlen(more)) < 0)
			return NG_E_NOSPACE;
	}
	if (r->flags_dropped) {
		snprintf(more, sizeof(more), "%s%u flags beyond %u ignored", len ? "; " : "",
			 r->flags_dropped, NG_FLAGS_MAX);
		if (put_clean(buf, cap, &len, more, strlen(more)) < 0)
			return NG_E_NOSPACE;
	}
	return (int)len;
}

long ng_reply_dict(char *buf, size_t cap, struct ng_str cookie, const struct ng_benc_doc *d, int dict)
{
	long n;

	if (!buf || !cookie.p || cookie.n == 0 || cookie.n > NG_COOKIE_MAX || dict < 0)
		return dict < 0 ? dict : NG_E_INVAL;
	if (cap < cookie.n + 1)
		return NG_E_NOSPACE;
	memcpy(buf, cookie.p, cookie.n);
	buf[cookie.n] = ' ';
	n = ng_benc_encode(d, (uint32_t)dict, buf + cookie.n + 1, cap - cookie.n - 1);
	if (n == NG_BENC_E_NOSPACE)
		return NG_E_NOSPACE;
	if (n < 0)
		return n;
	return (long)cookie.n + 1 + n;
}

long ng_reply_pong(char *buf, size_t cap, struct ng_str cookie)
{
	struct ng_benc_node nodes[4];
	struct ng_benc_doc d;
	int dict;

	ng_benc_init(&d, nodes, 4);
	dict = ng_benc_new_dict(&d);
	if (ng_benc_dict_add_cstr(&d, dict, "result", "pong") < 0)
		return NG_E_INVAL;
	return ng_reply_dict(buf, cap, cookie, &d, dict);
}

long ng_reply_ok(char *buf, size_t cap, struct ng_str cookie, const char *sdp, size_t sdp_len,
		 const char *warning)
{
	struct ng_benc_node nodes[8];
	struct ng_benc_doc d;
	int dict, rc;

	ng_benc_init(&d, nodes, 8);
	dict = ng_benc_new_dict(&d);
	rc = ng_benc_dict_add_cstr(&d, dict, "result", "ok");
	if (rc == 0 && sdp)
		rc = ng_benc_dict_add_str(&d, dict, "sdp", sdp, sdp_len);
	if (rc == 0 && warning && *warning)
		rc = ng_benc_dict_add_cstr(&d, dict, "warning", warning);
	if (rc < 0)
		return NG_E_INVAL;
	return ng_reply_dict(buf, cap, cookie, &d, dict);
}

long ng_reply_error(char *buf, size_t cap, struct ng_str cookie, const char *reason)
{
	struct ng_benc_node nodes[6];
	struct ng_benc_doc d;
	int dict;

	ng_benc_init(&d, nodes, 6);
	dict = ng_benc_new_dict(&d);
	if (ng_benc_dict_add_cstr(&d, dict, "result", "error") < 0 ||
	    ng_benc_dict_add_cstr(&d, dict, "error-reason", reason ? reason : "error") < 0)
		return NG_E_INVAL;
	return ng_reply_dict(buf, cap, cookie, &d, dict);
}

long ng_reply_load_limit(char *buf, size_t cap, struct ng_str cookie, const char *message)
{
	struct ng_benc_node nodes[6];
	struct ng_benc_doc d;
	int dict;

	ng_benc_init(&d, nodes, 6);
	dict = ng_benc_new_dict(&d);
	if (ng_benc_dict_add_cstr(&d, dict, "result", "load limit") < 0 ||
	    ng_benc_dict_add_cstr(&d, dict, "message", message ? message : "load limit") < 0)
		return NG_E_INVAL;
	return ng_reply_dict(buf, cap, cookie, &d, dict);
}

/* ---- TCP stream ---- */

void ng_stream_init(struct ng_stream *s, char *buf, size_t cap)
{
	s->buf = buf;
	s->cap = cap;
	s->len = s->off = 0;
}

int ng_stream_feed(struct ng_stream *s, const void *data, size_t len)
{
	if (s->off) {
		memmove(s->buf, s->buf + s->off, s->len - s->off);
		s->len -= s->off;
		s->off = 0;
	}
	if (len > s->cap - s->len)
		return NG_E_STREAM;
	if (len)
		memcpy(s->buf + s->len, data, len);
	s->len += len;
	return 0;
}

long ng_stream_next(struct ng_stream *s, const char **msg)
{
	const char *p;
	size_t avail, i;
	long span;

	/* line breaks between messages are tolerated (a hand-typed session, a CRLF-ending client) */
	while (s->off < s->len && (s->buf[s->off] == '\r' || s->buf[s->off] == '\n'))
		s->off++;
	p = s->buf + s->off;
	avail = s->len - s->off;
	for (i = 0; i < avail && i <= NG_COOKIE_MAX && p[i] != ' '; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
			return NG_E_STREAM;
	if (i > NG_COOKIE_MAX || (i == 0 && avail > 0))
		return NG_E_STREAM;
	if (i >= avail)
		return avail >= s->cap - s->off ? NG_E_STREAM : 0;
	span = ng_benc_span(p + i + 1, avail - i - 1);
	if (span < 0)
		return NG_E_STREAM;
	if (span == 0)
		/* a message that cannot fit the buffer will never complete */
		return s->off == 0 && s->len == s->cap ? NG_E_STREAM : 0;
	*msg = p;
	s->off += i + 1 + (size_t)span;
	return (long)(i + 1 + (size_t)span);
}

/* ---- reply cache ---- */

struct ng_cache_entry {
	uint8_t key[NG_CACHE_KEY_MAX];
	uint8_t klen;
	uint32_t chain;   /* next slot in the bucket, UINT32_MAX at the end */
	uint64_t t_ms;
	char *reply;
	size_t rlen;
};

static uint32_t fnv1a(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u; /* FNV-1a 32-bit offset basis (draft-eastlake-fnv) */

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u; /* FNV 32-bit prime */
	return h;
}

int ng_cache_init(struct ng_cache *c, uint32_t max_entries, size_t max_bytes, uint64_t ttl_ms)
{
	memset(c, 0, sizeof(*c));
	if (max_entries == 0 || max_entries > (1u << 24) || max_bytes == 0)
		return -EINVAL;
	c->nbucket = 1;
	while (c->nbucket < max_entries)
		c->nbucket <<= 1;
	c->e = calloc(max_entries, sizeof(*c->e));
	c->bucket = malloc(c->nbucket * sizeof(*c->bucket));
	if (!c->e || !c->bucket) {
		ng_cache_free(c);
		return -ENOMEM;
	}
	memset(c->bucket, 0xff, c->nbucket * sizeof(*c->bucket));
	c->cap = max_entries;
	c->max_bytes = max_bytes;
	c->ttl_ms = ttl_ms;
	return 0;
}

void ng_cache_free(struct ng_cache *c)
{
	if (c->e)
		for (uint32_t i = 0; i < c->cap; i++)
			free(c->e[i].reply);
	free(c->e);
	free(c->bucket);
	memset(c, 0, sizeof(*c));
}

static void evict_oldest(struct ng_cache *c)
{
	uint32_t slot = c->head;
	struct ng_cache_entry *e = &c->e[slot];
	uint32_t *pp = &c->bucket[fnv1a(e->key, e->klen) & (c->nbucket - 1)];

	while (*pp != UINT32_MAX && *pp != slot)
		pp = &c->e[*pp].chain;
	if (*pp == slot)
		*pp = e->chain;
	c->bytes -= e->rlen;
	free(e->reply);
	e->reply = NULL;
	e->rlen = 0;
	c->head = (c->head + 1) % c->cap;
	c->count--;
	c->evicted++;
}

static void expire(struct ng_cache *c, uint64_t now_ms)
{
	/* entries sit in insertion (time) order, so the expired ones are all at the head; a clock
	 * that went backwards leaves them until the count or byte bound pushes them out */
	while (c->count && now_ms >= c->e[c->head].t_ms && now_ms - c->e[c->head].t_ms >= c->ttl_ms)
		evict_oldest(c);
}

const char *ng_cache_get(struct ng_cache *c, const void *key, size_t klen, uint64_t now_ms, size_t *reply_len)
{
	uint32_t slot;

	if (!c->e || !key || klen == 0 || klen > NG_CACHE_KEY_MAX)
		return NULL;
	expire(c, now_ms);
	for (slot = c->bucket[fnv1a(key, klen) & (c->nbucket - 1)]; slot != UINT32_MAX; slot = c->e[slot].chain) {
		struct ng_cache_entry *e = &c->e[slot];

		if (e->klen == klen && memcmp(e->key, key, klen) == 0) {
			c->hits++;
			if (reply_len)
				*reply_len = e->rlen;
			return e->reply;
		}
	}
	c->misses++;
	return NULL;
}

int ng_cache_put(struct ng_cache *c, const void *key, size_t klen, const char *reply, size_t reply_len,
		 uint64_t now_ms)
{
	struct ng_cache_entry *e;
	uint32_t slot, *b;
	char *copy;

	if (!c->e || !key || klen == 0 || klen > NG_CACHE_KEY_MAX || !reply)
		return -EINVAL;
	if (reply_len > c->max_bytes)
		return -E2BIG;
	expire(c, now_ms);
	while (c->count && (c->count == c->cap || c->bytes + reply_len > c->max_bytes))
		evict_oldest(c);
	if (!(copy = malloc(reply_len ? reply_len : 1)))
		return -ENOMEM;
	memcpy(copy, reply, reply_len);
	slot = (c->head + c->count) % c->cap;
	e = &c->e[slot];
	memcpy(e->key, key, klen);
	e->klen = (uint8_t)klen;
	e->t_ms = now_ms;
	e->reply = copy;
	e->rlen = reply_len;
	b = &c->bucket[fnv1a(key, klen) & (c->nbucket - 1)];
	e->chain = *b;
	*b = slot;
	c->count++;
	c->bytes += reply_len;
	return 0;
}
