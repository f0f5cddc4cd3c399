/* libFuzzer target for control/ctl_sdp: any body that parses must rewrite under every ICE mode,
 * and the rewrite must parse back with the planned ports and nothing but the gateway's ICE. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_sdp.h"

static struct ctl_sdp peer, back;
static struct ctl_sdp_rewrite rw;
static char out[CTL_SDP_BODY_MAX * 2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sdp_candidate cand[2];
	const char *body = (const char *)data;

	{
		/* the multipart splitter: any input, parts inside the body, in order */
		struct ctl_body b;
		size_t end = 0;

		if (ctl_body_split(&b, body, size) == 0) {
			if (b.n_sdp == 0 || b.n_sdp > CTL_BODY_PARTS_MAX || b.primary >= b.n_sdp)
				abort();
			for (unsigned k = 0; k < b.n_sdp; k++) {
				if (b.sdp[k].off < end || b.sdp[k].off > size ||
				    b.sdp[k].len > size - b.sdp[k].off)
					abort();
				end = b.sdp[k].off + b.sdp[k].len;
			}
		}
	}
	if (ctl_sdp_parse(&peer, body, size) != 0)
		return 0;
	memset(&rw, 0, sizeof(rw));
	memset(cand, 0, sizeof(cand));
	for (unsigned c = 0; c < 2; c++) {
		strcpy(cand[c].foundation, "1");
		cand[c].component = (uint16_t)(c + 1);
		cand[c].transport = SDP_TP_UDP;
		cand[c].type = SDP_CAND_HOST;
		cand[c].priority = 2130706431u - c;
		cand[c].qvalue = 900;
		ice_addr_set_v4(&cand[c].addr, 0xcb007105, (uint16_t)(30000 + c));
	}
	rw.n_media = peer.n_media;
	for (unsigned i = 0; i < peer.n_media; i++) {
		/* every third section rejected by the gateway, the rest alternate mux / no mux */
		ice_addr_set_v4(&rw.media[i].addr, 0xcb007105, i % 3 == 2 ? 0 : (uint16_t)(30000 + 4 * i));
		rw.media[i].rtcp_mux = i & 1;
		rw.media[i].rtcp_port = (i & 1) ? 0 : (uint16_t)(30001 + 4 * i);
		rw.media[i].ufrag = "GwUf";
		rw.media[i].pwd = "GwPwd0123456789abcdefg";
		rw.media[i].cand = cand;
		rw.media[i].n_cand = 2;
		rw.media[i].form = (uint8_t)(i % 4); /* peer's, RFC, draft-06, both */
	}
	for (int mode = CTL_ICE_DEFAULT; mode <= CTL_ICE_FORCE; mode++) {
		long n;

		rw.ice = (enum ctl_ice_mode)mode;
		rw.replace_origin = mode == CTL_ICE_FORCE;
		n = ctl_sdp_rewrite(out, sizeof(out), &peer, body, size, &rw);
		if (n == CTL_SDP_E_NOSPACE)
			continue;  /* a body near the cap may grow past the output */
		if (n < 0)
			abort();
		if (n > CTL_SDP_BODY_MAX)
			continue;
		if (ctl_sdp_parse(&back, out, (size_t)n) != 0 || back.n_media != peer.n_media)
			abort();
		for (unsigned i = 0; i < peer.n_media; i++) {
			uint16_t want = peer.media[i].port ? rw.media[i].addr.port : 0;

			if (back.media[i].port != want)
				abort();
			if (mode == CTL_ICE_REMOVE && back.media[i].sdp->ice.n_cand)
				abort();
			if (back.media[i].sdp->ice.n_cand && strcmp(back.media[i].ice.ufrag, "GwUf") &&
			    back.media[i].cand_form != SDP_FORM_DRAFT06)
				abort();
		}
	}
	return 0;
}
