/* Bencode for the NG control protocol: bounded recursive-descent parser into a node arena, a
 * node-free span scanner for stream framing, builders and a sorted-key encoder. */
#include "ng_bencode.h"

#include <limits.h>
#include <string.h>

static const char *const benc_errs[] = {
	[0] = "ok",
	[1] = "invalid argument or empty input",
	[2] = "input ends inside a value",
	[3] = "syntax error",
	[4] = "malformed integer (leading zero, -0, no digits or out of range)",
	[5] = "malformed string length (leading zero, too long or beyond the input)",
	[6] = "nested too deep",
	[7] = "too many values",
	[8] = "dictionary key is not a string",
	[9] = "trailing bytes after the value",
	[10] = "output buffer too small",
	[11] = "wrong node type",
};

const char *ng_benc_strerror(int err)
{
	if (err > 0 || err < NG_BENC_E_ERR_MIN)
		return "unknown bencode error";
	return benc_errs[-err];
}

void ng_benc_init(struct ng_benc_doc *d, struct ng_benc_node *nodes, uint32_t cap)
{
	d->nodes = nodes;
	d->cap = nodes ? cap : 0;
	d->used = 0;
}

/* Parser state: the cursor and the arena (NULL arena = span scan only). */
struct benc_p {
	const char *buf;
	size_t len;
	size_t pos;
	struct ng_benc_doc *d;
};

static int node_alloc(struct ng_benc_doc *d, uint8_t type)
{
	struct ng_benc_node *n;

	if (d->used >= d->cap || d->used >= (uint32_t)INT_MAX)
		return NG_BENC_E_NODES;
	n = &d->nodes[d->used];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->child = n->last = n->next = NG_BENC_NONE;
	return (int)d->used++;
}

static void link_child(struct ng_benc_doc *d, uint32_t parent, uint32_t child)
{
	struct ng_benc_node *p = &d->nodes[parent];

	if (p->last == NG_BENC_NONE)
		p->child = child;
	else
		d->nodes[p->last].next = child;
	p->last = child;
	p->count++;
}

/* i<digits>e: "i-0e", "i03e", "ie", "i-e" are not integers (BEP 3). */
static int parse_int(struct benc_p *p, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0;
	size_t start;

	p->pos++; /* 'i' */
	if (p->pos < p->len && p->buf[p->pos] == '-') {
		neg = true;
		p->pos++;
	}
	start = p->pos;
	while (p->pos < p->len && p->buf[p->pos] >= '0' && p->buf[p->pos] <= '9') {
		unsigned dg = (unsigned)(p->buf[p->pos] - '0');

		if (v > (UINT64_MAX - dg) / 10)
			return NG_BENC_E_INT;
		v = v * 10 + dg;
		p->pos++;
	}
	if (p->pos >= p->len)
		return NG_BENC_E_TRUNC;
	if (p->buf[p->pos] != 'e' || p->pos == start)
		return p->pos == start ? NG_BENC_E_INT : NG_BENC_E_SYNTAX;
	if (p->buf[start] == '0' && (p->pos - start > 1 || neg))
		return NG_BENC_E_INT;
	if ((!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1))
		return NG_BENC_E_INT;
	p->pos++; /* 'e' */
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* <len>:<bytes>. */
static int parse_str(struct benc_p *p, const char **s, size_t *slen)
{
	size_t start = p->pos, v = 0;

	while (p->pos < p->len && p->buf[p->pos] >= '0' && p->buf[p->pos] <= '9') {
		if (p->pos - start >= NG_BENC_LEN_DIGITS_MAX)
			return NG_BENC_E_LEN;
		v = v * 10 + (size_t)(p->buf[p->pos] - '0');
		p->pos++;
	}
	if (p->pos >= p->len)
		return NG_BENC_E_TRUNC;
	if (p->buf[p->pos] != ':')
		return NG_BENC_E_SYNTAX;
	if (p->buf[start] == '0' && p->pos - start > 1)
		return NG_BENC_E_LEN;
	p->pos++; /* ':' */
	if (v > p->len - p->pos)
		return p->d ? NG_BENC_E_LEN : NG_BENC_E_TRUNC;
	*s = p->buf + p->pos;
	*slen = v;
	p->pos += v;
	return 0;
}

/* One value at p->pos; returns its node index (or 0 in scan mode) or an error. The depth
 * bound makes the recursion safe on hostile input. */
static int parse_value(struct benc_p *p, unsigned depth)
{
	size_t start = p->pos;
	int idx = 0, rc;
	char c;

	if (p->pos >= p->len)
		return NG_BENC_E_TRUNC;
	c = p->buf[p->pos];
	if (c == 'i') {
		int64_t v;

		if ((rc = parse_int(p, &v)) < 0)
			return rc;
		if (p->d) {
			if ((idx = node_alloc(p->d, NG_BENC_INT)) < 0)
				return idx;
			p->d->nodes[idx].ival = v;
		}
		return idx;
	}
	if (c >= '0' && c <= '9') {
		const char *s;
		size_t sl;

		if ((rc = parse_str(p, &s, &sl)) < 0)
			return rc;
		if (p->d) {
			if ((idx = node_alloc(p->d, NG_BENC_STR)) < 0)
				return idx;
			p->d->nodes[idx].str = s;
			p->d->nodes[idx].len = sl;
		}
		return idx;
	}
	if (c != 'l' && c != 'd')
		return NG_BENC_E_SYNTAX;
	if (depth >= NG_BENC_DEPTH_MAX)
		return NG_BENC_E_DEPTH;
	if (p->d && (idx = node_alloc(p->d, c == 'l' ? NG_BENC_LIST : NG_BENC_DICT)) < 0)
		return idx;
	p->pos++;
	for (unsigned k = 0;; k++) {
		if (p->pos >= p->len)
			return NG_BENC_E_TRUNC;
		if (p->buf[p->pos] == 'e')
			break;
		/* a dict's even children are keys and must be strings */
		if (c == 'd' && !(k & 1) && !(p->buf[p->pos] >= '0' && p->buf[p->pos] <= '9'))
			return NG_BENC_E_KEY;
		if ((rc = parse_value(p, depth + 1)) < 0)
			return rc;
		if (p->d)
			link_child(p->d, (uint32_t)idx, (uint32_t)rc);
		if (c == 'd' && (k & 1) == 0 && p->pos >= p->len)
			return NG_BENC_E_TRUNC;
		if (c == 'd' && (k & 1) == 0 && p->buf[p->pos] == 'e')
			return NG_BENC_E_SYNTAX; /* key without a value */
	}
	p->pos++; /* 'e' */
	if (p->d) {
		p->d->nodes[idx].str = p->buf + start;
		p->d->nodes[idx].len = p->pos - start;
	}
	return idx;
}

int ng_benc_parse(struct ng_benc_doc *d, const char *buf, size_t len)
{
	struct benc_p p = { buf, len, 0, d };
	int rc;

	if (!d || !buf || !len)
		return NG_BENC_E_INVAL;
	d->used = 0;
	rc = parse_value(&p, 0);
	if (rc < 0)
		return rc;
	if (p.pos != len)
		return NG_BENC_E_TRAILING;
	return rc;
}

long ng_benc_span(const char *buf, size_t len)
{
	struct benc_p p = { buf, len, 0, NULL };
	int rc;

	if (!buf)
		return NG_BENC_E_INVAL;
	if (!len)
		return 0;
	rc = parse_value(&p, 0);
	if (rc == NG_BENC_E_TRUNC)
		return 0;
	if (rc < 0)
		return rc;
	return (long)p.pos;
}

const struct ng_benc_node *ng_benc_at(const struct ng_benc_doc *d, uint32_t idx)
{
	if (!d || idx == NG_BENC_NONE || idx >= d->used)
		return NULL;
	return &d->nodes[idx];
}

const struct ng_benc_node *ng_benc_first(const struct ng_benc_doc *d, const struct ng_benc_node *n)
{
	return n ? ng_benc_at(d, n->child) : NULL;
}

const struct ng_benc_node *ng_benc_next(const struct ng_benc_doc *d, const struct ng_benc_node *n)
{
	return n ? ng_benc_at(d, n->next) : NULL;
}

bool ng_benc_str_eq(const struct ng_benc_node *n, const char *s)
{
	size_t sl = strlen(s);

	return n && n->type == NG_BENC_STR && n->len == sl && (sl == 0 || memcmp(n->str, s, sl) == 0);
}

const struct ng_benc_node *ng_benc_dict_get(const struct ng_benc_doc *d,
					    const struct ng_benc_node *dict, const char *key)
{
	const struct ng_benc_node *k, *v, *found = NULL;

	if (!dict || dict->type != NG_BENC_DICT || !key)
		return NULL;
	for (k = ng_benc_first(d, dict); k && (v = ng_benc_next(d, k)); k = ng_benc_next(d, v))
		if (ng_benc_str_eq(k, key))
			found = v;
	return found;
}

/* ---- builders ---- */

int ng_benc_new_int(struct ng_benc_doc *d, int64_t v)
{
	int idx = node_alloc(d, NG_BENC_INT);

	if (idx >= 0)
		d->nodes[idx].ival = v;
	return idx;
}

int ng_benc_new_str(struct ng_benc_doc *d, const char *s, size_t len)
{
	int idx;

	if (!s && len)
		return NG_BENC_E_INVAL;
	idx = node_alloc(d, NG_BENC_STR);
	if (idx >= 0) {
		d->nodes[idx].str = s ? s : "";
		d->nodes[idx].len = len;
	}
	return idx;
}

int ng_benc_new_cstr(struct ng_benc_doc *d, const char *s)
{
	return s ? ng_benc_new_str(d, s, strlen(s)) : NG_BENC_E_INVAL;
}

int ng_benc_new_list(struct ng_benc_doc *d)
{
	return node_alloc(d, NG_BENC_LIST);
}

int ng_benc_new_dict(struct ng_benc_doc *d)
{
	return node_alloc(d, NG_BENC_DICT);
}

static int check_container(const struct ng_benc_doc *d, int idx, uint8_t type)
{
	if (idx < 0)
		return idx;
	if ((uint32_t)idx >= d->used || d->nodes[idx].type != type)
		return NG_BENC_E_TYPE;
	return 0;
}

/* A child must be a free-standing node: not the container itself, not linked elsewhere. */
static int check_child(const struct ng_benc_doc *d, int parent, int idx)
{
	if (idx < 0)
		return idx;
	if ((uint32_t)idx >= d->used || idx == parent)
		return NG_BENC_E_TYPE;
	return 0;
}

int ng_benc_list_add(struct ng_benc_doc *d, int list, int idx)
{
	int rc;

	if ((rc = check_container(d, list, NG_BENC_LIST)) < 0 || (rc = check_child(d, list, idx)) < 0)
		return rc;
	link_child(d, (uint32_t)list, (uint32_t)idx);
	return 0;
}

int ng_benc_dict_add(struct ng_benc_doc *d, int dict, const char *key, int idx)
{
	int rc, k;

	if ((rc = check_container(d, dict, NG_BENC_DICT)) < 0 || (rc = check_child(d, dict, idx)) < 0)
		return rc;
	if ((k = ng_benc_new_cstr(d, key)) < 0)
		return k;
	link_child(d, (uint32_t)dict, (uint32_t)k);
	link_child(d, (uint32_t)dict, (uint32_t)idx);
	return 0;
}

int ng_benc_dict_add_cstr(struct ng_benc_doc *d, int dict, const char *key, const char *val)
{
	return ng_benc_dict_add(d, dict, key, ng_benc_new_cstr(d, val));
}

int ng_benc_dict_add_str(struct ng_benc_doc *d, int dict, const char *key, const char *val, size_t len)
{
	return ng_benc_dict_add(d, dict, key, ng_benc_new_str(d, val, len));
}

int ng_benc_dict_add_int(struct ng_benc_doc *d, int dict, const char *key, int64_t v)
{
	return ng_benc_dict_add(d, dict, key, ng_benc_new_int(d, v));
}

/* ---- encoder ---- */

struct benc_w {
	char *buf;
	size_t cap, len;
};

static int w_put(struct benc_w *w, const void *p, size_t n)
{
	if (n > w->cap - w->len)
		return NG_BENC_E_NOSPACE;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

static int w_dec(struct benc_w *w, char pre, uint64_t v, bool neg, char post)
{
	char tmp[24];
	size_t n = sizeof(tmp);

	if (post)
		tmp[--n] = post;
	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		tmp[--n] = '-';
	if (pre)
		tmp[--n] = pre;
	return w_put(w, tmp + n, sizeof(tmp) - n);
}

static int key_cmp(const struct ng_benc_node *a, const struct ng_benc_node *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = n ? memcmp(a->str, b->str, n) : 0;

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int encode_node(const struct ng_benc_doc *d, uint32_t idx, struct benc_w *w, unsigned depth);

/* Dict entries in key order without scratch memory: repeatedly pick the smallest key above the
 * last one written (ties broken by position). Quadratic, but dicts here are small and the node
 * arena bounds them. */
static int encode_dict(const struct ng_benc_doc *d, const struct ng_benc_node *n, struct benc_w *w,
		       unsigned depth)
{
	const struct ng_benc_node *prev = NULL;
	uint32_t prev_pos = 0;
	int rc;

	for (uint32_t done = 0; done < n->count / 2; done++) {
		const struct ng_benc_node *best = NULL;
		uint32_t best_pos = 0, pos = 0;

		for (const struct ng_benc_node *k = ng_benc_first(d, n), *v; k && (v = ng_benc_next(d, k));
		     k = ng_benc_next(d, v), pos++) {
			int cp;

			if (k->type != NG_BENC_STR)
				return NG_BENC_E_KEY;
			if (prev) {
				cp = key_cmp(k, prev);
				if (cp < 0 || (cp == 0 && pos <= prev_pos))
					continue;
			}
			if (!best || key_cmp(k, best) < 0) {
				best = k;
				best_pos = pos;
			}
		}
		if (!best)
			break;
		if ((rc = encode_node(d, (uint32_t)(best - d->nodes), w, depth + 1)) < 0 ||
		    (rc = encode_node(d, best->next, w, depth + 1)) < 0)
			return rc;
		prev = best;
		prev_pos = best_pos;
	}
	return 0;
}

static int encode_node(const struct ng_benc_doc *d, uint32_t idx, struct benc_w *w, unsigned depth)
{
	const struct ng_benc_node *n = ng_benc_at(d, idx);
	int rc;

	if (!n)
		return NG_BENC_E_INVAL;
	if (depth > NG_BENC_DEPTH_MAX)
		return NG_BENC_E_DEPTH;
	switch (n->type) {
	case NG_BENC_INT:
		return w_dec(w, 'i', n->ival < 0 ? 0 - (uint64_t)n->ival : (uint64_t)n->ival, n->ival < 0, 'e');
	case NG_BENC_STR:
		if ((rc = w_dec(w, 0, n->len, false, ':')) < 0)
			return rc;
		return w_put(w, n->str, n->len);
	case NG_BENC_LIST:
		if ((rc = w_put(w, "l", 1)) < 0)
			return rc;
		for (const struct ng_benc_node *c = ng_benc_first(d, n); c; c = ng_benc_next(d, c))
			if ((rc = encode_node(d, (uint32_t)(c - d->nodes), w, depth + 1)) < 0)
				return rc;
		return w_put(w, "e", 1);
	case NG_BENC_DICT:
		if ((rc = w_put(w, "d", 1)) < 0 || (rc = encode_dict(d, n, w, depth)) < 0)
			return rc;
		return w_put(w, "e", 1);
	default:
		return NG_BENC_E_TYPE;
	}
}

long ng_benc_encode(const struct ng_benc_doc *d, uint32_t idx, char *buf, size_t cap)
{
	struct benc_w w = { buf, cap, 0 };
	int rc;

	if (!d || !buf)
		return NG_BENC_E_INVAL;
	if ((rc = encode_node(d, idx, &w, 0)) < 0)
		return rc;
	return (long)w.len;
}
