/* Bencode for the NG control protocol: a bounded, non-allocating parser into a caller-provided
 * node arena (strings point into the input), node builders, and an encoder with sorted dict keys. */
#ifndef NG_BENCODE_H
#define NG_BENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting a request legitimately needs: dict -> list -> string is depth 2; rtpengine's richest
 * replies (query: dict -> totals -> dict -> dict) stay under 6. 32 leaves room, bounds the stack. */
#define NG_BENC_DEPTH_MAX 32
/* A string's length prefix: more digits than this cannot be a length inside a datagram. */
#define NG_BENC_LEN_DIGITS_MAX 9
#define NG_BENC_NONE UINT32_MAX

enum ng_benc_err {
	NG_BENC_OK = 0,
	NG_BENC_E_INVAL = -1,      /* NULL argument or empty input */
	NG_BENC_E_TRUNC = -2,      /* input ends inside a value */
	NG_BENC_E_SYNTAX = -3,     /* byte that starts no value, missing ':' or 'e' */
	NG_BENC_E_INT = -4,        /* leading zero, "-0", no digits, out of int64 range */
	NG_BENC_E_LEN = -5,        /* string length with leading zero, too many digits, beyond input */
	NG_BENC_E_DEPTH = -6,      /* nested deeper than NG_BENC_DEPTH_MAX */
	NG_BENC_E_NODES = -7,      /* node arena full */
	NG_BENC_E_KEY = -8,        /* dict key that is not a string */
	NG_BENC_E_TRAILING = -9,   /* bytes after the top-level value */
	NG_BENC_E_NOSPACE = -10,   /* encoder output buffer too small */
	NG_BENC_E_TYPE = -11,      /* builder used on the wrong node type */
	NG_BENC_E_ERR_MIN = -11,
};

const char *ng_benc_strerror(int err);

enum ng_benc_type {
	NG_BENC_INT = 1,
	NG_BENC_STR,
	NG_BENC_LIST,
	NG_BENC_DICT,
};

/*
 * One value. Containers link their children by index (child .. last, then next); a dict's
 * children alternate key, value. Strings reference the input (or the builder's caller memory)
 * without copying: str is not NUL-terminated.
 */
struct ng_benc_node {
	uint8_t type;
	uint32_t count;   /* children (a dict has 2 per entry) */
	uint32_t child;   /* first child or NG_BENC_NONE */
	uint32_t last;    /* last child or NG_BENC_NONE */
	uint32_t next;    /* next sibling or NG_BENC_NONE */
	int64_t ival;
	const char *str;  /* NG_BENC_STR: bytes; containers: start of their encoding when parsed */
	size_t len;       /* NG_BENC_STR: byte count; containers: encoded length when parsed */
};

/* A document: the arena and how much of it is used. Node 0 is the root after a parse. */
struct ng_benc_doc {
	struct ng_benc_node *nodes;
	uint32_t cap;
	uint32_t used;
};

/** Attach an arena of cap nodes; the document starts empty. */
void ng_benc_init(struct ng_benc_doc *d, struct ng_benc_node *nodes, uint32_t cap);

/**
 * Parse exactly one value spanning all of buf[0..len) into d (reset first). Returns the root
 * node index (0) or a negative ng_benc_err. Dict keys need not be sorted (rtpengine's NG docs:
 * the ordering rule "is not currently honoured" by senders) and may repeat.
 */
int ng_benc_parse(struct ng_benc_doc *d, const char *buf, size_t len);

/**
 * Length of the first complete value in buf without building nodes: > 0 the value's length,
 * 0 when buf holds a valid prefix that needs more bytes, or a negative ng_benc_err. For
 * reassembling a TCP stream.
 */
long ng_benc_span(const char *buf, size_t len);

/** Node by index, NULL for NG_BENC_NONE or out of range. */
const struct ng_benc_node *ng_benc_at(const struct ng_benc_doc *d, uint32_t idx);

/**
 * Value of key in a dict node, NULL if absent or node is not a dict. When a key repeats the
 * last occurrence wins, as a sender that repeats a key means to override.
 */
const struct ng_benc_node *ng_benc_dict_get(const struct ng_benc_doc *d,
					    const struct ng_benc_node *dict, const char *key);

/** First child / next sibling (NULL at the end). */
const struct ng_benc_node *ng_benc_first(const struct ng_benc_doc *d, const struct ng_benc_node *n);
const struct ng_benc_node *ng_benc_next(const struct ng_benc_doc *d, const struct ng_benc_node *n);

/** A string node equal to the NUL-terminated s (exact bytes). */
bool ng_benc_str_eq(const struct ng_benc_node *n, const char *s);

/*
 * Builders: each returns the new node's index or a negative ng_benc_err. Strings are referenced,
 * not copied: they must outlive the encode call.
 */
int ng_benc_new_int(struct ng_benc_doc *d, int64_t v);
int ng_benc_new_str(struct ng_benc_doc *d, const char *s, size_t len);
int ng_benc_new_cstr(struct ng_benc_doc *d, const char *s);
int ng_benc_new_list(struct ng_benc_doc *d);
int ng_benc_new_dict(struct ng_benc_doc *d);
/** Append node idx to list. Returns 0 or a negative ng_benc_err. */
int ng_benc_list_add(struct ng_benc_doc *d, int list, int idx);
/** Add key -> node idx to dict. Returns 0 or a negative ng_benc_err. */
int ng_benc_dict_add(struct ng_benc_doc *d, int dict, const char *key, int idx);
/** Shorthands: add a C string / integer value under key. */
int ng_benc_dict_add_cstr(struct ng_benc_doc *d, int dict, const char *key, const char *val);
int ng_benc_dict_add_str(struct ng_benc_doc *d, int dict, const char *key, const char *val, size_t len);
int ng_benc_dict_add_int(struct ng_benc_doc *d, int dict, const char *key, int64_t v);

/**
 * Encode node idx into buf. Dict entries are written with keys in byte order (the bencode
 * rule; stable for equal keys). Returns the length written (no NUL) or a negative ng_benc_err.
 */
long ng_benc_encode(const struct ng_benc_doc *d, uint32_t idx, char *buf, size_t cap);

#endif
