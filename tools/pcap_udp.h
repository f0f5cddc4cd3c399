/* UDP datagrams in and out of pcap files (libpcap): Ethernet, Linux cooked, loopback and
 * raw IP link types in; Ethernet + IPv4/IPv6 + UDP with valid checksums out. Tool-side only. */
#ifndef PCAP_UDP_H
#define PCAP_UDP_H

#include <pcap/pcap.h>
#include <stdint.h>
#include <sys/time.h>

#include "ice_addr.h"

#define PCAP_UDP_EOF (-1)
#define PCAP_UDP_ERROR (-2)

struct pcap_udp_reader {
	pcap_t *p;
	int dlt;
	char err[PCAP_ERRBUF_SIZE];
};

struct pcap_udp_pkt {
	struct timeval ts;
	struct ice_addr src, dst;
	const uint8_t *payload;
	uint32_t len;
};

/** Open a capture for reading. Returns 0 or -1 with a message in err. */
int pcap_udp_open(struct pcap_udp_reader *r, const char *path, char *err, size_t errlen);
/** Next frame: 1 with a UDP datagram in pkt, 0 for a frame that is not UDP (or is a
 *  fragment), PCAP_UDP_EOF at the end, PCAP_UDP_ERROR on a read error (r->err says why). */
int pcap_udp_next(struct pcap_udp_reader *r, struct pcap_udp_pkt *pkt);
void pcap_udp_close(struct pcap_udp_reader *r);

struct pcap_udp_writer {
	pcap_t *p;
	pcap_dumper_t *d;
	uint16_t ip_id;
};

/** Create an Ethernet capture file. Returns 0 or -1 with a message in err. */
int pcap_udp_create(struct pcap_udp_writer *w, const char *path, char *err, size_t errlen);
/** Append one UDP datagram in Ethernet/IP/UDP with correct checksums. Returns 0 or -1. */
int pcap_udp_write(struct pcap_udp_writer *w, const struct timeval *ts, const struct ice_addr *src,
		   const struct ice_addr *dst, const void *payload, size_t len);
void pcap_udp_finish(struct pcap_udp_writer *w);

#endif
