/* The daemon's configuration: key table, value parsers, the [section] file reader and the
 * command-line overlay, each error tied to a file:line (or argument) and a reason. */
#include "ctl_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cfg_errs[] = {
	"ok",
	"invalid argument",
	"cannot read configuration file",
	"syntax error",
	"unknown section",
	"unknown key",
	"invalid value",
	"too many interfaces",
	"invalid configuration",
};

const char *ctl_config_strerror(int err)
{
	if (err == 0)
		return cfg_errs[0];
	if (err > CTL_CFG_E_INVAL || err < CTL_CFG_E_ERR_MIN)
		return "unknown configuration error";
	return cfg_errs[CTL_CFG_E_INVAL - err + 1];
}

static int fail(struct ctl_config_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

static void set_where(struct ctl_config_err *err, const char *where, unsigned line)
{
	if (!err)
		return;
	snprintf(err->where, sizeof(err->where), "%s", where ? where : "");
	err->line = line;
}

void ctl_config_defaults(struct ctl_config *c)
{
	memset(c, 0, sizeof(*c));
	ice_addr_parse(&c->listen_ng, CTL_DEFAULT_LISTEN_NG);
	c->port_min = CTL_DEFAULT_PORT_MIN;
	c->port_max = CTL_DEFAULT_PORT_MAX;
	c->log_level = CTL_DEFAULT_LOG_LEVEL;
}

/* Whole-string unsigned decimal within [lo, hi]. */
static bool parse_uint(const char *v, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long x;

	if (!*v || *v < '0' || *v > '9' || strlen(v) > 10)
		return false;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return false;
	*out = x;
	return true;
}

/* "ip:port" / "[ip6]:port" with a port that is not 0. */
static int parse_listen(const char *key, const char *v, struct ice_addr *a, struct ctl_config_err *err)
{
	if (ice_addr_parse(a, v) != 0 || a->port == 0)
		return fail(err, CTL_CFG_E_VALUE, "%s: expected ADDRESS:PORT, got \"%s\"", key, v);
	return 0;
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '.' || ch == ':';
}

static int parse_ip_only(const char *s, size_t n, struct ice_addr *a)
{
	char tmp[64];

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	return ice_addr_parse_ip_port(a, tmp, 0);
}

/* [NAME/]IP[!ADVERTISED] (rtpengine's --interface form), several separated by ';'. */
static int add_interfaces(struct ctl_config *c, const char *v, struct ctl_config_err *err)
{
	const char *p = v;

	if (!*v)
		return fail(err, CTL_CFG_E_VALUE, "interface: empty value");
	while (*p) {
		const char *end = strchr(p, ';'), *slash, *bang;
		struct ctl_iface f;
		size_t n;

		if (!end)
			end = p + strlen(p);
		n = (size_t)(end - p);
		memset(&f, 0, sizeof(f));
		slash = memchr(p, '/', n);
		bang = memchr(p, '!', n);
		if (slash && bang && bang < slash)
			slash = NULL;
		if (slash) {
			size_t nl = (size_t)(slash - p);

			if (nl == 0 || nl > CTL_IFACE_NAME_MAX)
				return fail(err, CTL_CFG_E_VALUE, "interface: name must be 1..%d characters",
					    CTL_IFACE_NAME_MAX);
			for (size_t i = 0; i < nl; i++)
				if (!name_char(p[i]))
					return fail(err, CTL_CFG_E_VALUE, "interface: bad character in name \"%.*s\"",
						    (int)nl, p);
			memcpy(f.name, p, nl);
		} else {
			strcpy(f.name, "default");
		}
		{
			const char *ip = slash ? slash + 1 : p;
			const char *ip_end = bang ? bang : end;

			if (parse_ip_only(ip, (size_t)(ip_end - ip), &f.local) != 0)
				return fail(err, CTL_CFG_E_VALUE, "interface: bad local address \"%.*s\"",
					    (int)(ip_end - ip), ip);
			if (bang) {
				if (parse_ip_only(bang + 1, (size_t)(end - bang - 1), &f.advertised) != 0)
					return fail(err, CTL_CFG_E_VALUE,
						    "interface: bad advertised address \"%.*s\"",
						    (int)(end - bang - 1), bang + 1);
				f.has_advertised = true;
			}
		}
		if (c->n_iface >= CTL_IFACE_MAX)
			return fail(err, CTL_CFG_E_TOO_MANY, "interface: more than %d", CTL_IFACE_MAX);
		c->iface[c->n_iface++] = f;
		p = *end ? end + 1 : end;
	}
	return 0;
}

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

int ctl_config_set(struct ctl_config *c, const char *key, const char *v, struct ctl_config_err *err)
{
	unsigned long x;

	if (!c || !key || !v)
		return CTL_CFG_E_INVAL;
	if (!strcmp(key, "listen-ng"))
		return parse_listen(key, v, &c->listen_ng, err);
	if (!strcmp(key, "listen-tcp-ng")) {
		int rc = parse_listen(key, v, &c->listen_tcp_ng, err);

		c->has_listen_tcp_ng = rc == 0;
		return rc;
	}
	if (!strcmp(key, "interface"))
		return add_interfaces(c, v, err);
	if (!strcmp(key, "port-min") || !strcmp(key, "port-max")) {
		if (!parse_uint(v, 1, 65535, &x))
			return fail(err, CTL_CFG_E_VALUE, "%s: expected a port 1..65535, got \"%s\"", key, v);
		if (!strcmp(key, "port-min"))
			c->port_min = (uint16_t)x;
		else
			c->port_max = (uint16_t)x;
		return 0;
	}
	if (!strcmp(key, "max-sessions")) {
		if (!parse_uint(v, 0, UINT32_MAX, &x))
			return fail(err, CTL_CFG_E_VALUE, "max-sessions: expected 0 (no limit) or a count, got \"%s\"", v);
		c->max_sessions = (uint32_t)x;
		return 0;
	}
	if (!strcmp(key, "log-level")) {
		if (parse_uint(v, 0, 7, &x)) {
			c->log_level = (int)x;
			return 0;
		}
		for (int i = 0; i < 8; i++)
			if (!strcmp(v, level_names[i])) {
				c->log_level = i;
				return 0;
			}
		return fail(err, CTL_CFG_E_VALUE, "log-level: expected 0..7 or emerg..debug, got \"%s\"", v);
	}
	if (!strncmp(key, "turn-", 5))
		return ctl_config_set_turn(&c->turn, key, v, err);
	return fail(err, CTL_CFG_E_KEY, "unknown key \"%s\"", key);
}

int ctl_config_set_turn(struct ctl_turn_cfg *t, const char *key, const char *v,
			struct ctl_config_err *err)
{
	unsigned long x;
	char *dst = NULL;

	if (!strcmp(key, "turn-server")) {
		struct ice_addr a;

		if (t->n_server == CTL_TURN_MAX)
			return fail(err, CTL_CFG_E_TOO_MANY, "turn-server: more than %d", CTL_TURN_MAX);
		if (ice_addr_parse(&a, v) != 0 || a.family != ICE_AF_INET || !a.port)
			return fail(err, CTL_CFG_E_VALUE, "turn-server: expected IPv4:PORT, got \"%s\"", v);
		t->server[t->n_server++] = a;
		return 0;
	}
	if (!strcmp(key, "turn-username"))
		dst = t->user;
	else if (!strcmp(key, "turn-password"))
		dst = t->pass;
	else if (!strcmp(key, "turn-realm"))
		dst = t->realm;
	if (dst) {
		if (strlen(v) > CTL_TURN_CRED_MAX)
			return fail(err, CTL_CFG_E_VALUE, "%s: longer than %d bytes", key, CTL_TURN_CRED_MAX);
		memcpy(dst, v, strlen(v) + 1);
		return 0;
	}
	if (!strcmp(key, "turn-ms")) {
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
			t->ms_turn = true;
		else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
			t->ms_turn = false;
		else
			return fail(err, CTL_CFG_E_VALUE, "turn-ms: expected yes or no, got \"%s\"", v);
		return 0;
	}
	if (!strcmp(key, "turn-timeout-ms")) {
		if (!parse_uint(v, 100, 60000, &x))
			return fail(err, CTL_CFG_E_VALUE, "turn-timeout-ms: expected 100..60000, got \"%s\"", v);
		t->timeout_ms = (uint32_t)x;
		return 0;
	}
	return fail(err, CTL_CFG_E_KEY, "unknown key \"%s\"", key);
}

static void trim(char **s, char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

int ctl_config_parse(struct ctl_config *c, const char *text, size_t len, const char *name,
		     struct ctl_config_err *err)
{
	const char *p = text, *end = text + len;
	unsigned lineno = 0;

	if (!c || (!text && len))
		return CTL_CFG_E_INVAL;
	set_where(err, name, 0);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		char line[CTL_CFG_LINE_MAX + 1], *s, *e, *eq, *ks, *ke;
		int rc;

		lineno++;
		set_where(err, name, lineno);
		if (n > CTL_CFG_LINE_MAX)
			return fail(err, CTL_CFG_E_SYNTAX, "line longer than %d bytes", CTL_CFG_LINE_MAX);
		if (memchr(p, 0, n))
			return fail(err, CTL_CFG_E_SYNTAX, "NUL byte in line");
		memcpy(line, p, n);
		line[n] = 0;
		p = nl ? nl + 1 : end;
		s = line;
		e = line + n;
		trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		*e = 0;
		if (*s == '[') {
			if (e[-1] != ']' || e - s < 3)
				return fail(err, CTL_CFG_E_SYNTAX, "expected [section]");
			e[-1] = 0;
			/* [rtpengine] is accepted so an rtpengine.conf can be pointed at us as is */
			if (!strcmp(s + 1, "icegw") || !strcmp(s + 1, "rtpengine"))
				continue;
			if (!strcmp(s + 1, "turn"))
				return fail(err, CTL_CFG_E_SECTION, "section [turn] is not supported yet");
			return fail(err, CTL_CFG_E_SECTION, "unknown section [%s]", s + 1);
		}
		/* keys before any [section] belong to the main one, as in coturn's flat files */
		if (!(eq = strchr(s, '=')))
			return fail(err, CTL_CFG_E_SYNTAX, "expected key = value");
		ks = s;
		ke = eq;
		trim(&ks, &ke);
		*ke = 0;
		s = eq + 1;
		trim(&s, &e);
		*e = 0;
		if (!*ks)
			return fail(err, CTL_CFG_E_SYNTAX, "missing key before '='");
		if ((rc = ctl_config_set(c, ks, s, err)) < 0)
			return rc;
	}
	set_where(err, name, 0);
	return 0;
}

int ctl_config_load(struct ctl_config *c, const char *path, struct ctl_config_err *err)
{
	char *buf;
	size_t n;
	FILE *f;
	int rc;

	if (!c || !path)
		return CTL_CFG_E_INVAL;
	set_where(err, path, 0);
	if (!(f = fopen(path, "r")))
		return fail(err, CTL_CFG_E_IO, "%s", strerror(errno));
	if (!(buf = malloc(CTL_CFG_FILE_MAX + 1))) {
		fclose(f);
		return fail(err, CTL_CFG_E_IO, "out of memory");
	}
	n = fread(buf, 1, CTL_CFG_FILE_MAX + 1, f);
	rc = ferror(f);
	fclose(f);
	if (rc) {
		free(buf);
		return fail(err, CTL_CFG_E_IO, "read error");
	}
	if (n > CTL_CFG_FILE_MAX) {
		free(buf);
		return fail(err, CTL_CFG_E_IO, "file larger than %d bytes", CTL_CFG_FILE_MAX);
	}
	snprintf(c->config_file, sizeof(c->config_file), "%s", path);
	rc = ctl_config_parse(c, buf, n, path, err);
	free(buf);
	return rc;
}

/* --key=value or --key value; *consumed is how many argv entries it took. */
static int split_arg(int argc, char *const argv[], int i, char *key, size_t kcap, const char **val, int *consumed)
{
	const char *a = argv[i], *eq;
	size_t kn;

	if (strncmp(a, "--", 2) || !a[2])
		return -1;
	a += 2;
	eq = strchr(a, '=');
	kn = eq ? (size_t)(eq - a) : strlen(a);
	if (kn == 0 || kn >= kcap)
		return -1;
	memcpy(key, a, kn);
	key[kn] = 0;
	if (eq) {
		*val = eq + 1;
		*consumed = 1;
	} else {
		if (i + 1 >= argc)
			return -2;
		*val = argv[i + 1];
		*consumed = 2;
	}
	return 0;
}

int ctl_config_from_args(struct ctl_config *c, int argc, char *const argv[], struct ctl_config_err *err)
{
	char key[64];
	const char *val;
	int i, used, rc;

	if (!c || argc < 0 || (argc && !argv))
		return CTL_CFG_E_INVAL;
	ctl_config_defaults(c);
	/* the file first, so that every other argument overrides it whatever the order */
	for (i = 1; i < argc; i += used) {
		set_where(err, "command line", (unsigned)i);
		rc = split_arg(argc, argv, i, key, sizeof(key), &val, &used);
		if (rc == -1)
			return fail(err, CTL_CFG_E_SYNTAX, "expected --key=value or --key value, got \"%s\"", argv[i]);
		if (rc == -2)
			return fail(err, CTL_CFG_E_VALUE, "--%s needs a value", key);
		if (!strcmp(key, "config-file") && (rc = ctl_config_load(c, val, err)) < 0)
			return rc;
	}
	for (i = 1; i < argc; i += used) {
		split_arg(argc, argv, i, key, sizeof(key), &val, &used);
		set_where(err, "command line", (unsigned)i);
		if (!strcmp(key, "config-file"))
			continue;
		if (!strcmp(key, "interface") && !c->iface_from_cli) {
			c->n_iface = 0;
			c->iface_from_cli = true;
		}
		if ((rc = ctl_config_set(c, key, val, err)) < 0)
			return rc;
	}
	return ctl_config_validate(c, err);
}

int ctl_config_validate(const struct ctl_config *c, struct ctl_config_err *err)
{
	if (!c)
		return CTL_CFG_E_INVAL;
	set_where(err, c->config_file[0] ? c->config_file : "configuration", 0);
	if (c->port_min > c->port_max)
		return fail(err, CTL_CFG_E_INVALID, "port-min %u is above port-max %u", c->port_min, c->port_max);
	/* RTP on even, RTCP on the odd port above (RFC 3550 §11): a range needs one such pair */
	if (c->port_max - c->port_min < 1)
		return fail(err, CTL_CFG_E_INVALID, "port range %u-%u holds no RTP/RTCP pair",
			    c->port_min, c->port_max);
	if (c->n_iface == 0)
		return fail(err, CTL_CFG_E_INVALID, "no interface configured (interface = [NAME/]IP[!ADVERTISED])");
	for (unsigned i = 0; i < c->n_iface; i++)
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(c->iface[i].name, c->iface[j].name) &&
			    ice_addr_eq_ip(&c->iface[i].local, &c->iface[j].local)) {
				char ip[ICE_ADDR_STRLEN];

				return fail(err, CTL_CFG_E_INVALID, "interface %s/%s given twice", c->iface[i].name,
					    ice_addr_fmt_ip(&c->iface[i].local, ip, sizeof(ip)));
			}
	if (c->turn.n_server && !c->turn.user[0])
		return fail(err, CTL_CFG_E_INVALID, "turn-server needs turn-username and turn-password");
	return 0;
}

const struct ctl_iface *ctl_config_iface(const struct ctl_config *c, const char *name)
{
	for (unsigned i = 0; c && name && i < c->n_iface; i++)
		if (!strcmp(c->iface[i].name, name))
			return &c->iface[i];
	return NULL;
}
