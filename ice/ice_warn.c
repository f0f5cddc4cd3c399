/* ICEWarn flags: the seed 000 table expanded from foreach_ice_warn_flag, value parsing and
 * formatting, and the ms-client-diagnostics header reader. No heap use. */
#include "ice_warn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct ice_warn_flag flags[] = {
#define _(n, v, s, m, a) {v##u, #n, m, a, ICE_WARN_SEV_##s},
	foreach_ice_warn_flag
#undef _
};

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

static const char *const err_names[] = {
	[0] = "success",
	[-ICE_WARN_E_EMPTY] = "empty value: no digits",
	[-ICE_WARN_E_SYNTAX] = "not a number: give hex as 0x320 (or 320h) or decimal as 800",
	[-ICE_WARN_E_NEGATIVE] = "negative value: ICEWarn is an unsigned 32-bit flag set",
	[-ICE_WARN_E_RANGE] = "value does not fit in 32 bits",
	[-ICE_WARN_E_NOSPACE] = "output buffer too small",
	[-ICE_WARN_E_NOT_HEADER] = "not an ms-client-diagnostics header",
	[-ICE_WARN_E_CODE] = "diagnostic code missing or not a number",
	[-ICE_WARN_E_TRUNCATED] = "header truncated: a quoted value is not closed",
	[-ICE_WARN_E_TOO_LONG] = "header too long",
	[-ICE_WARN_E_TOO_MANY] = "too many ICEWarn values in one header",
};

const char *ice_warn_strerror(int err)
{
	if (err > 0 || err < ICE_WARN_E_ERR_MIN)
		return "unknown error";
	return err_names[-err];
}

const char *ice_warn_sev_name(enum ice_warn_sev sev)
{
	switch (sev) {
	case ICE_WARN_SEV_INFO:
		return "informational";
	case ICE_WARN_SEV_EXPECTED:
		return "expected, may cause ICE failure";
	case ICE_WARN_SEV_FAILURE:
		return "unexpected, likely ICE failure";
	}
	return "unknown";
}

const struct ice_warn_flag *ice_warn_table(size_t *count)
{
	if (count)
		*count = NFLAGS;
	return flags;
}

const struct ice_warn_flag *ice_warn_lookup(uint32_t bit)
{
	if (bit == 0 || (bit & (bit - 1)) != 0 || (bit & ICE_WARN_KNOWN_MASK) == 0)
		return NULL;
	for (size_t i = 0; i < NFLAGS; i++)
		if (flags[i].value == bit)
			return &flags[i];
	return NULL;
}

uint32_t ice_warn_next(uint32_t value, unsigned *pos)
{
	while (*pos < 32) {
		uint32_t bit = 1u << *pos;
		(*pos)++;
		if (value & bit)
			return bit;
	}
	return 0;
}

const struct ice_warn_flag *ice_warn_worst(uint32_t value)
{
	const struct ice_warn_flag *worst = NULL;

	for (size_t i = 0; i < NFLAGS; i++)
		if ((value & flags[i].value) && (!worst || flags[i].sev >= worst->sev))
			worst = &flags[i];
	return worst;
}

/* ------------------------------------------------------------------ formatting */

struct out {
	char *buf;
	size_t size, len;
	bool full;
};

static void out_init(struct out *o, char *buf, size_t size)
{
	o->buf = buf;
	o->size = size;
	o->len = 0;
	o->full = size == 0;
	if (size)
		buf[0] = '\0';
}

__attribute__((format(printf, 2, 3)))
static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->full)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len) {
		/* vsnprintf has left a terminated prefix; remember it is one */
		o->len = o->size - 1;
		o->full = true;
		return;
	}
	o->len += (size_t)n;
}

static int out_result(const struct out *o)
{
	return o->full ? ICE_WARN_E_NOSPACE : (int)o->len;
}

int ice_warn_format(char *buf, size_t size, uint32_t value)
{
	struct out o;
	const char *sep = "";

	out_init(&o, buf, size);
	out_printf(&o, "0x%x = ", value);
	if (value == 0)
		out_printf(&o, "NONE");
	for (size_t i = 0; i < NFLAGS; i++) {
		if (value & flags[i].value) {
			out_printf(&o, "%s%s", sep, flags[i].name);
			sep = "|";
		}
	}
	if (value & ~(uint32_t)ICE_WARN_KNOWN_MASK)
		out_printf(&o, "%sUNKNOWN(0x%x)", sep, value & ~(uint32_t)ICE_WARN_KNOWN_MASK);
	return out_result(&o);
}

static unsigned popcount32(uint32_t v)
{
	unsigned n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

int ice_warn_format_reason(char *buf, size_t size, uint32_t value)
{
	const struct ice_warn_flag *worst = ice_warn_worst(value);
	unsigned others = popcount32(value) - (worst ? 1 : 0);
	struct out o;

	out_init(&o, buf, size);
	out_printf(&o, "ICEWarn=0x%x; reason=\"", value);
	if (value == 0)
		out_printf(&o, "%s", ICE_WARN_NONE_MEANING);
	else if (worst)
		out_printf(&o, "%s", worst->meaning);
	else
		out_printf(&o, "Unknown ICEWarn flags 0x%x", value);
	if (worst && others)
		out_printf(&o, " (and %u more warning%s)", others, others == 1 ? "" : "s");
	out_printf(&o, "\"");
	return out_result(&o);
}

/* ------------------------------------------------------------------ value parsing */

static int digit_value(char c, unsigned base)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (base == 16 && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (base == 16 && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ice_warn_parse(const char *s, size_t len, uint32_t *value)
{
	size_t i = 0, end = len;
	unsigned base = 10;
	uint64_t v = 0;

	if (!s || len == 0)
		return ICE_WARN_E_EMPTY;
	if (s[0] == '-')
		return ICE_WARN_E_NEGATIVE;
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	} else if (s[len - 1] == 'h' || s[len - 1] == 'H') {
		/* "320h" cannot be read any other way: h is neither a decimal nor a hex digit */
		base = 16;
		end = len - 1;
	}
	if (i == end)
		return ICE_WARN_E_EMPTY;
	/* syntax first, so that "99999999999zz" is called garbage rather than too big */
	for (size_t k = i; k < end; k++)
		if (digit_value(s[k], base) < 0)
			return ICE_WARN_E_SYNTAX;
	for (; i < end; i++) {
		v = v * base + (unsigned)digit_value(s[i], base);
		if (v > UINT32_MAX)
			return ICE_WARN_E_RANGE;
	}
	*value = (uint32_t)v;
	return ICE_WARN_OK;
}

/* ------------------------------------------------------------------ header parsing */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_token(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

static struct ice_warn_str trim(const char *p, size_t n)
{
	while (n && is_ws(p[0])) {
		p++;
		n--;
	}
	while (n && is_ws(p[n - 1]))
		n--;
	return (struct ice_warn_str){p, n};
}

static bool str_eq_ci(struct ice_warn_str s, const char *lit)
{
	size_t n = strlen(lit);

	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = s.p[i], b = lit[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (char)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

/* Byte length of a quote mark at p: ASCII '"', or the UTF-8 of the marks that word
 * processors and blogs substitute for it (seed 002 has all three of U+201C U+201D U+2033). */
static size_t quote_len(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;

	if (n >= 1 && u[0] == '"')
		return 1;
	if (n >= 3 && u[0] == 0xe2 && u[1] == 0x80 &&
	    (u[2] == 0x9c || u[2] == 0x9d || u[2] == 0x9e || u[2] == 0xb3))
		return 3;
	return 0;
}

/* Pick the ICEWarn fields out of one parameter value. */
static int scan_media(struct ice_warn_str param, struct ice_warn_str val, struct ice_warn_diag *out)
{
	struct ice_warn_str label = {val.p, 0};
	size_t i = 0;

	while (i <= val.len) {
		size_t start = i;
		while (i < val.len && val.p[i] != ',' && val.p[i] != '|')
			i++;
		struct ice_warn_str f = trim(val.p + start, i - start);
		bool new_section = i < val.len && val.p[i] == '|';
		i++;

		const char *colon = memchr(f.p, ':', f.len);
		const char *eq = memchr(f.p, '=', f.len);
		if (colon && (!eq || colon < eq)) {
			label = trim(f.p, (size_t)(colon - f.p));
			f = trim(colon + 1, f.len - (size_t)(colon + 1 - f.p));
			eq = memchr(f.p, '=', f.len);
		}
		if (eq && str_eq_ci(trim(f.p, (size_t)(eq - f.p)), "ICEWarn")) {
			struct ice_warn_str v = trim(eq + 1, f.len - (size_t)(eq + 1 - f.p));
			uint32_t value;
			int rc = ice_warn_parse(v.p, v.len, &value);
			if (rc < 0)
				return rc;
			if (out->n == ICE_WARN_MAX_MEDIA)
				return ICE_WARN_E_TOO_MANY;
			out->media[out->n++] = (struct ice_warn_media){param, label, value};
		}
		if (new_section)
			label = (struct ice_warn_str){val.p + i, 0};
	}
	return 0;
}

int ice_warn_parse_header(const char *hdr, size_t len, struct ice_warn_diag *out)
{
	size_t i = 0, k;

	if (!hdr || !out)
		return ICE_WARN_E_NOT_HEADER;
	if (len > ICE_WARN_HEADER_MAX)
		return ICE_WARN_E_TOO_LONG;
	memset(out, 0, sizeof(*out));
	out->reason.p = hdr;
	while (len && is_ws(hdr[len - 1]))
		len--;
	while (i < len && is_ws(hdr[i]))
		i++;

	/* optional header name */
	k = i;
	while (k < len && is_token(hdr[k]))
		k++;
	size_t name_end = k;
	while (k < len && is_ws(hdr[k]))
		k++;
	bool named = k < len && hdr[k] == ':';
	if (named) {
		if (!str_eq_ci((struct ice_warn_str){hdr + i, name_end - i}, "ms-client-diagnostics"))
			return ICE_WARN_E_NOT_HEADER;
		i = k + 1;
		while (i < len && is_ws(hdr[i]))
			i++;
	}

	/* the diagnostic code */
	uint64_t code = 0;
	k = i;
	while (i < len && hdr[i] >= '0' && hdr[i] <= '9') {
		code = code * 10 + (unsigned)(hdr[i] - '0');
		if (code > UINT32_MAX)
			return ICE_WARN_E_CODE;
		i++;
	}
	if (i == k || (i < len && !is_ws(hdr[i]) && hdr[i] != ';'))
		return named ? ICE_WARN_E_CODE : ICE_WARN_E_NOT_HEADER;
	out->code = (uint32_t)code;

	/* ;name=value parameters */
	for (;;) {
		while (i < len && is_ws(hdr[i]))
			i++;
		if (i == len)
			break;
		if (hdr[i] != ';')
			return ICE_WARN_E_NOT_HEADER;
		i++;
		while (i < len && is_ws(hdr[i]))
			i++;
		k = i;
		while (i < len && hdr[i] != '=' && hdr[i] != ';')
			i++;
		struct ice_warn_str name = trim(hdr + k, i - k);
		if (i == len || hdr[i] == ';') {
			if (name.len == 0)
				continue; /* ";;" or a trailing ';' */
			return ICE_WARN_E_NOT_HEADER;
		}
		if (name.len == 0)
			return ICE_WARN_E_NOT_HEADER;
		for (size_t j = 0; j < name.len; j++)
			if (!is_token(name.p[j]))
				return ICE_WARN_E_NOT_HEADER;
		i++; /* '=' */
		while (i < len && is_ws(hdr[i]))
			i++;

		struct ice_warn_str val;
		size_t q = quote_len(hdr + i, len - i);
		if (q) {
			bool ascii = hdr[i] == '"';
			i += q;
			k = i;
			for (;;) {
				if (i >= len)
					return ICE_WARN_E_TRUNCATED;
				if (ascii && hdr[i] == '\\') {
					/* quoted-pair (RFC 3261 §25.1): the next byte is literal */
					i += 2;
					continue;
				}
				q = quote_len(hdr + i, len - i);
				if (q)
					break;
				i++;
			}
			val = (struct ice_warn_str){hdr + k, i - k};
			i += q;
		} else {
			k = i;
			while (i < len && hdr[i] != ';')
				i++;
			val = trim(hdr + k, i - k);
		}

		if (str_eq_ci(name, "reason")) {
			out->reason = val;
		} else {
			int rc = scan_media(name, val, out);
			if (rc < 0)
				return rc;
		}
	}
	return (int)out->n;
}
