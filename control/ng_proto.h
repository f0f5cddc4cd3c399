/* The NG control protocol's message layer: "<cookie> <bencoded dict>" framing (UDP datagrams and
 * TCP stream reassembly), request decoding into typed fields, reply building and the reply cache. */
#ifndef NG_PROTO_H
#define NG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ice_addr.h"
#include "ng_bencode.h"

/* Kamailio's cookies are "<pid>_<counter>" (well under 32 bytes); 64 leaves room for others. */
#define NG_COOKIE_MAX 64
#define NG_FLAGS_MAX 32      /* "flags" entries kept */
#define NG_UNKNOWN_MAX 16    /* unknown keys remembered for the warning */
#define NG_NODES_MAX 1024    /* bencode nodes in one request: a flagged offer uses ~60 */

enum ng_err {
	NG_OK = 0,
	NG_E_FRAME = -100,      /* no cookie, no space, cookie too long or not printable */
	NG_E_BENCODE = -101,    /* the body is not one bencoded value */
	NG_E_NOT_DICT = -102,   /* the body is not a dictionary */
	NG_E_NO_COMMAND = -103, /* "command" missing or not a string */
	NG_E_COMMAND = -104,    /* command we do not implement */
	NG_E_MISSING = -105,    /* a key the command needs is absent (see ng_request.missing) */
	NG_E_VALUE = -106,      /* a known key with a value of the wrong type or out of range */
	NG_E_NOSPACE = -107,    /* output buffer too small */
	NG_E_STREAM = -108,     /* stream buffer overflow or garbage between messages */
	NG_E_INVAL = -109,
	NG_E_ERR_MIN = -109,
};

/** Also accepts ng_benc_err values. */
const char *ng_strerror(int err);

enum ng_cmd {
	NG_CMD_NONE = 0,
	NG_CMD_PING,
	NG_CMD_OFFER,
	NG_CMD_ANSWER,
	NG_CMD_DELETE,
	NG_CMD_QUERY,
	NG_CMD_LIST,
	NG_CMD_STATISTICS,
};

const char *ng_cmd_name(enum ng_cmd c);

/* "ICE" key (rtpengine ng_control_protocol.md, offer message). */
enum ng_ice {
	NG_ICE_UNSET = 0,
	NG_ICE_REMOVE,
	NG_ICE_FORCE,
	NG_ICE_DEFAULT,
	NG_ICE_FORCE_RELAY,
	NG_ICE_OPTIONAL,
};

/* "ICE-lite" key. */
enum ng_ice_lite {
	NG_ICE_LITE_UNSET = 0,
	NG_ICE_LITE_FORWARD,
	NG_ICE_LITE_BACKWARD,
	NG_ICE_LITE_BOTH,
	NG_ICE_LITE_OFF,
};

/* "replace" list entries. */
#define NG_REPLACE_ORIGIN 0x01
#define NG_REPLACE_SESSION_CONNECTION 0x02

/* "rtcp-mux" list entries. */
#define NG_RTCP_MUX_OFFER 0x01
#define NG_RTCP_MUX_REQUIRE 0x02
#define NG_RTCP_MUX_DEMUX 0x04
#define NG_RTCP_MUX_ACCEPT 0x08
#define NG_RTCP_MUX_REJECT 0x10

/* "supports" list entries: what the client understands in a reply (rtpengine
 * ng_control_protocol.md "supports"; Kamailio's rtpengine module sends ["load limit"]). */
#define NG_SUPPORTS_LOAD_LIMIT 0x01

/* A byte range inside the request datagram (not NUL-terminated). */
struct ng_str {
	const char *p;
	size_t n;
};

struct ng_request {
	enum ng_cmd cmd;
	struct ng_str cookie;
	struct ng_str call_id, from_tag, to_tag, via_branch, sdp;
	struct ng_str flags[NG_FLAGS_MAX];
	unsigned n_flags, flags_dropped;
	uint8_t replace;            /* NG_REPLACE_* */
	uint8_t rtcp_mux;           /* NG_RTCP_MUX_* */
	enum ng_ice ice;
	enum ng_ice_lite ice_lite;
	struct ng_str direction[2];
	unsigned n_direction;
	struct ng_str transport_protocol;
	bool has_media_address;
	struct ice_addr media_address;
	bool has_received_from;
	struct ice_addr received_from;  /* port 0 */
	int64_t limit;              /* "limit" of list; -1 when absent */
	uint8_t supports;           /* NG_SUPPORTS_* */
	/* Keys and list values we do not act on: reported in the reply's "warning". */
	struct ng_str unknown[NG_UNKNOWN_MAX];
	unsigned n_unknown, unknown_dropped;
	const char *missing;        /* on NG_E_MISSING: the key */
	const char *bad_key;        /* on NG_E_VALUE: the key */
};

/**
 * Split a datagram (or a reassembled stream message) into cookie and body. The cookie is
 * 1..NG_COOKIE_MAX printable bytes without spaces, followed by exactly one space.
 */
int ng_split(const char *msg, size_t len, struct ng_str *cookie, struct ng_str *body);

/**
 * Decode one request: frame, parse the bencode body into d, read "command" and the keys of that
 * command. Key names match rtpengine's tolerance: case-insensitive, with ' ', '-' and '_'
 * interchangeable ("received from" == "received-from"). Fields point into msg. On error the
 * cookie is still filled when the framing was valid, so an error reply can be sent.
 */
int ng_request_parse(struct ng_request *r, struct ng_benc_doc *d, const char *msg, size_t len);

/** The request carries flag name in its "flags" list (same key matching rules). */
bool ng_request_has_flag(const struct ng_request *r, const char *name);

/**
 * The "warning" text for what the request carried but we ignore, e.g.
 * "unsupported keys ignored: SDES, DTLS". Returns the length (0: nothing to warn) or NG_E_NOSPACE.
 */
int ng_request_warning(const struct ng_request *r, char *buf, size_t cap);

/*
 * Replies: "<cookie> " then a bencoded dict, written into buf. Return the length or a negative
 * error. The shapes follow rtpengine's ng_control_protocol.md: result "pong" for ping; "ok"
 * with optional "sdp" and "warning"; "error" with "error-reason" and no other key.
 */
long ng_reply_pong(char *buf, size_t cap, struct ng_str cookie);
long ng_reply_ok(char *buf, size_t cap, struct ng_str cookie, const char *sdp, size_t sdp_len,
		 const char *warning);
long ng_reply_error(char *buf, size_t cap, struct ng_str cookie, const char *reason);
/**
 * rtpengine's overload reply, {"result": "load limit", "message": ...}: only for a client that
 * listed "load limit" in "supports". Kamailio's module then tries the next gateway of the set
 * without marking this one down, where an "error" fails the call outright.
 */
long ng_reply_load_limit(char *buf, size_t cap, struct ng_str cookie, const char *message);
/** Cookie plus any dict built by the caller in d (query, list, statistics replies). */
long ng_reply_dict(char *buf, size_t cap, struct ng_str cookie, const struct ng_benc_doc *d, int dict);

/*
 * TCP reassembly. Messages arrive back to back on the stream ("<cookie> <dict>" each; the dict
 * delimits itself). Feed bytes, then take complete messages until none is left.
 */
struct ng_stream {
	char *buf;
	size_t cap, len, off;
};

void ng_stream_init(struct ng_stream *s, char *buf, size_t cap);
/** Append bytes. NG_E_STREAM when they do not fit (the connection should be closed). */
int ng_stream_feed(struct ng_stream *s, const void *data, size_t len);
/**
 * Next complete message: returns its length (> 0) with *msg pointing into the stream buffer,
 * valid until the next feed; 0 when more bytes are needed; negative on garbage (close).
 */
long ng_stream_next(struct ng_stream *s, const char **msg);

/*
 * Reply cache (rtpengine answers a retransmitted cookie with the stored reply, never running the
 * command twice). Keyed by caller bytes (the cookie, optionally prefixed by the peer address);
 * bounded by entry count, total reply bytes and age; the oldest go first.
 */
#define NG_CACHE_TTL_MS 30000   /* Kamailio retries within rtpengine_tout_ms * rtpengine_retr */
#define NG_CACHE_KEY_MAX 96

struct ng_cache_entry;
struct ng_cache {
	struct ng_cache_entry *e;
	uint32_t *bucket;
	uint32_t cap, nbucket;
	uint32_t head, count;        /* ring of entries, oldest at head */
	size_t bytes, max_bytes;
	uint64_t ttl_ms;
	uint64_t hits, misses, evicted;
};

/** Allocate room for max_entries replies totalling at most max_bytes. 0 or -ENOMEM/-EINVAL. */
int ng_cache_init(struct ng_cache *c, uint32_t max_entries, size_t max_bytes, uint64_t ttl_ms);
void ng_cache_free(struct ng_cache *c);
/** Stored reply for key if younger than the TTL at now_ms; NULL otherwise. */
const char *ng_cache_get(struct ng_cache *c, const void *key, size_t klen, uint64_t now_ms, size_t *reply_len);
/** Store a copy of reply. 0, or a negative errno (-E2BIG: reply larger than the byte budget). */
int ng_cache_put(struct ng_cache *c, const void *key, size_t klen, const char *reply, size_t reply_len,
		 uint64_t now_ms);

#endif
