/* stundump: read a pcap, find every STUN / TURN ChannelData datagram on UDP, decode it
 * with icegw's codec and print it readably, checking credentials when given. */
#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icegw_config.h"
#include "pcap_udp.h"
#include "stun.h"

struct pw {
	const char *pw;
	struct stun_key key;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: icegw-stundump [options] FILE.pcap\n"
		"Decode every STUN message and TURN ChannelData datagram in a capture.\n\n"
		"  -p, --password PW   try PW as short-term key for MESSAGE-INTEGRITY (repeatable)\n"
		"  -m, --ms            parse with the Microsoft dialect rules (unpadded attributes,\n"
		"                      MS-TURN attributes, legacy MS-ICE2 FINGERPRINT)\n"
		"  -q, --quiet         print only the summary\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"password", required_argument, NULL, 'p'},
		{"ms", no_argument, NULL, 'm'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct pw pws[8];
	unsigned npw = 0, pflags = STUN_PF_LEGACY_FP;
	bool quiet = false;
	int c;

	while ((c = getopt_long(argc, argv, "p:mqhV", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (npw == 8) {
				fprintf(stderr, "icegw-stundump: at most 8 passwords\n");
				return 2;
			}
			pws[npw].pw = optarg;
			stun_key_init(&pws[npw].key, optarg, strlen(optarg));
			npw++;
			break;
		case 'm':
			pflags |= STUN_PF_UNPADDED | STUN_PF_MS_ATTRS;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("icegw-stundump %s\n", ICEGW_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}

	struct pcap_udp_reader rd;
	char err[PCAP_ERRBUF_SIZE + 64];
	if (pcap_udp_open(&rd, argv[optind], err, sizeof(err)) < 0) {
		fprintf(stderr, "icegw-stundump: %s\n", err);
		return 1;
	}

	unsigned long frames = 0, udp = 0, stun = 0, bad = 0, chdata = 0, mi_ok = 0, mi_bad = 0;
	unsigned long by_kind[3] = {0};
	struct pcap_udp_pkt pkt;
	int r;

	while ((r = pcap_udp_next(&rd, &pkt)) >= 0) {
		char src[ICE_ADDR_STRLEN], dst[ICE_ADDR_STRLEN];
		struct stun_msg m;
		enum stun_kind kind;
		char text[4096];

		frames++;
		if (r == 0)
			continue;
		udp++;
		kind = stun_classify(pkt.payload, pkt.len);
		if (kind == STUN_KIND_NONE)
			continue;
		ice_addr_fmt(&pkt.src, src, sizeof(src));
		ice_addr_fmt(&pkt.dst, dst, sizeof(dst));
		if (kind == STUN_KIND_CHANNELDATA) {
			chdata++;
			if (!quiet) {
				printf("#%lu %ld.%06ld %s -> %s ChannelData 0x%02x%02x len=%u\n", frames,
				       (long)pkt.ts.tv_sec, (long)pkt.ts.tv_usec, src, dst,
				       pkt.payload[0], pkt.payload[1],
				       (unsigned)((pkt.payload[2] << 8) | pkt.payload[3]));
			}
			continue;
		}
		stun++;
		by_kind[kind]++;
		r = stun_parse(&m, pkt.payload, pkt.len,
			       pflags | (kind == STUN_KIND_LEGACY ? STUN_PF_UNPADDED : 0));
		if (r < 0 && r != STUN_E_UNKNOWN_REQUIRED) {
			bad++;
			if (!quiet)
				printf("#%lu %ld.%06ld %s -> %s STUN rejected: %s\n", frames,
				       (long)pkt.ts.tv_sec, (long)pkt.ts.tv_usec, src, dst,
				       stun_strerror(r));
			continue;
		}
		if (quiet && !npw)
			continue;
		stun_msg_format(&m, text, sizeof(text));
		if (!quiet)
			printf("#%lu %ld.%06ld %s -> %s %s", frames, (long)pkt.ts.tv_sec,
			       (long)pkt.ts.tv_usec, src, dst, text);
		if (r == STUN_E_UNKNOWN_REQUIRED && !quiet)
			printf("  (has unknown comprehension-required attributes)\n");
		if (npw && m.mi_off) {
			const char *which = NULL;
			for (unsigned i = 0; i < npw && !which; i++) {
				static const enum stun_mi_mode modes[] = {STUN_MI_RFC, STUN_MI_MSICE2,
									  STUN_MI_PAD64};
				for (unsigned k = 0; k < 3 && !which; k++)
					if (stun_msg_check_integrity(&m, &pws[i].key, modes[k]) == 0)
						which = pws[i].pw;
			}
			if (which)
				mi_ok++;
			else
				mi_bad++;
			if (!quiet)
				printf("  integrity: %s%s\n", which ? "ok with " : "no password matches",
				       which ? which : "");
		}
	}
	if (r != PCAP_UDP_EOF) {
		fprintf(stderr, "icegw-stundump: %s: read error: %s\n", argv[optind], rd.err);
		pcap_udp_close(&rd);
		return 1;
	}
	pcap_udp_close(&rd);
	printf("\nsummary: %lu frames, %lu UDP, %lu STUN (%lu with cookie, %lu legacy), "
	       "%lu rejected, %lu ChannelData",
	       frames, udp, stun, by_kind[STUN_KIND_RFC], by_kind[STUN_KIND_LEGACY], bad, chdata);
	if (npw)
		printf(", integrity ok %lu / failed %lu", mi_ok, mi_bad);
	printf("\n");
	return bad ? 3 : 0;
}
