/* icewarn: decode ICEWarn values, given as numbers or inside ms-client-diagnostics headers,
 * into the ICE protocol warning table's words (meaning and administrator's action). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "icegw_config.h"
#include "ice_warn.h"

static bool short_out;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: icewarn [options] VALUE...\n"
		"       icewarn [options] --header 'ms-client-diagnostics: 24; reason=...'\n"
		"       icewarn [options] -     (headers on stdin, one per line)\n"
		"Decode ICEWarn flags (Lync / Skype for Business ms-client-diagnostics) into the\n"
		"meaning and administrator's action of each flag.\n\n"
		"  VALUE              0x320 or 320h (hex), 800 (decimal)\n"
		"  -H, --header HDR   decode every ICEWarn value in an ms-client-diagnostics header\n"
		"                     (repeatable; log text before the header name is skipped)\n"
		"  -s, --short        one line per value\n"
		"  -l, --list         print the whole flag table\n"
		"  -h, --help         this text\n"
		"  -V, --version      print the version\n\n"
		"Exit status: 0 decoded, 2 bad usage or a value or header that does not parse.\n");
}

static void print_flag_long(uint32_t bit)
{
	const struct ice_warn_flag *f = ice_warn_lookup(bit);

	if (!f) {
		printf("  0x%-8x UNKNOWN: not in the ICE protocol warning flag table\n", bit);
		return;
	}
	printf("  0x%-8x %s (%s)\n", f->value, f->name, ice_warn_sev_name(f->sev));
	printf("             %s.\n", f->meaning);
	printf("             Action: %s\n", f->action);
}

static void print_value(const char *prefix, uint32_t v)
{
	char buf[ICE_WARN_FORMAT_MAX];

	if (short_out) {
		ice_warn_format(buf, sizeof(buf), v);
		printf("%s%s\n", prefix, buf);
		return;
	}
	if (v == 0) {
		printf("%sICEWarn=0x0 (0): %s.\n", prefix, ICE_WARN_NONE_MEANING);
		return;
	}
	unsigned n = 0, pos;
	uint32_t bit;
	ice_warn_foreach_bit(bit, pos, v)
		n++;
	printf("%sICEWarn=0x%x (%u): %u flag%s set\n", prefix, v, v, n, n == 1 ? "" : "s");
	ice_warn_foreach_bit(bit, pos, v)
		print_flag_long(bit);
	ice_warn_format_reason(buf, sizeof(buf), v);
	printf("  Summary: %s\n", buf);
}

static void print_table(void)
{
	size_t n;
	const struct ice_warn_flag *t = ice_warn_table(&n);

	printf("  0x0        NONE\n             %s.\n", ICE_WARN_NONE_MEANING);
	for (size_t i = 0; i < n; i++)
		print_flag_long(t[i].value);
}

/* Decode one header; returns 0 or an ice_warn_err. */
static int decode_header(const char *hdr, size_t len)
{
	struct ice_warn_diag d;
	int rc = ice_warn_parse_header(hdr, len, &d);

	if (rc < 0)
		return rc;
	if (!short_out)
		printf("ms-client-diagnostics %u: %.*s\n", d.code, (int)d.reason.len, d.reason.p);
	if (d.n == 0)
		printf("%u: no ICEWarn value in this header\n", d.code);
	for (unsigned i = 0; i < d.n; i++) {
		const struct ice_warn_media *m = &d.media[i];
		char prefix[256];
		if (short_out)
			snprintf(prefix, sizeof(prefix), "%u %.*s %.*s: ", d.code, (int)m->param.len,
				 m->param.p, (int)m->label.len, m->label.p);
		else
			snprintf(prefix, sizeof(prefix), "\n%.*s %.*s: ", (int)m->param.len,
				 m->param.p, (int)m->label.len, m->label.p);
		print_value(prefix, m->value);
	}
	return 0;
}

/* Skip log text before the header name, so that grep output can be piped in. */
static const char *header_start(const char *line, size_t *len)
{
	static const char name[] = "ms-client-diagnostics";
	size_t nl = sizeof(name) - 1;

	for (size_t i = 0; i + nl <= *len; i++) {
		if (strncasecmp(line + i, name, nl) == 0) {
			*len -= i;
			return line + i;
		}
	}
	return line;
}

static int decode_arg_header(const char *hdr)
{
	size_t len = strlen(hdr);
	const char *p = header_start(hdr, &len);
	int rc = decode_header(p, len);

	if (rc < 0)
		fprintf(stderr, "icewarn: --header: %s\n", ice_warn_strerror(rc));
	return rc;
}

static int decode_stdin(void)
{
	static char line[ICE_WARN_HEADER_MAX + 2];
	unsigned lineno = 0, decoded = 0;
	int ret = 0;

	while (fgets(line, sizeof(line), stdin)) {
		size_t len = strlen(line);
		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			int c;
			while ((c = getchar()) != EOF && c != '\n')
				;
			fprintf(stderr, "icewarn: stdin line %u: %s\n", lineno,
				ice_warn_strerror(ICE_WARN_E_TOO_LONG));
			ret = ICE_WARN_E_TOO_LONG;
			continue;
		}
		size_t k = 0;
		while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r' ||
				   line[k] == '\n'))
			k++;
		if (k == len)
			continue;
		const char *p = header_start(line, &len);
		int rc = decode_header(p, len);
		if (rc < 0) {
			fprintf(stderr, "icewarn: stdin line %u: %s\n", lineno, ice_warn_strerror(rc));
			ret = rc;
		} else {
			decoded++;
		}
	}
	if (ret == 0 && decoded == 0) {
		fprintf(stderr, "icewarn: no header on stdin\n");
		ret = ICE_WARN_E_NOT_HEADER;
	}
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"header", required_argument, NULL, 'H'},
		{"short", no_argument, NULL, 's'},
		{"list", no_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *headers[16];
	unsigned nheaders = 0;
	bool list = false;
	int c, status = 0;

	opterr = 0; /* our own messages: "-5" is a negative value, not an unknown option */
	while ((c = getopt_long(argc, argv, ":H:slhV", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			if (nheaders == sizeof(headers) / sizeof(headers[0])) {
				fprintf(stderr, "icewarn: at most 16 --header options\n");
				return 2;
			}
			headers[nheaders++] = optarg;
			break;
		case 's':
			short_out = true;
			break;
		case 'l':
			list = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("icewarn %s\n", ICEGW_VERSION);
			return 0;
		case ':':
			fprintf(stderr, "icewarn: %s needs an argument\n", argv[optind - 1]);
			return 2;
		default:
			if (optopt >= '0' && optopt <= '9')
				fprintf(stderr, "icewarn: '%.64s': %s\n", argv[optind - 1],
					ice_warn_strerror(ICE_WARN_E_NEGATIVE));
			else
				fprintf(stderr, "icewarn: unknown option '%.64s'\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (!list && nheaders == 0 && optind == argc) {
		usage(stderr);
		return 2;
	}
	if (list)
		print_table();
	for (unsigned i = 0; i < nheaders; i++)
		if (decode_arg_header(headers[i]) < 0)
			status = 2;
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			if (decode_stdin() < 0)
				status = 2;
			continue;
		}
		uint32_t v;
		int rc = ice_warn_parse(argv[i], strlen(argv[i]), &v);
		if (rc < 0) {
			fprintf(stderr, "icewarn: '%.64s': %s\n", argv[i], ice_warn_strerror(rc));
			status = 2;
			continue;
		}
		print_value("", v);
	}
	return status;
}
