/* libFuzzer target for ice/sdp: parse a body and a single line, re-emit what was accepted, and
 * require that the emitted text parses back to the same candidates with nothing skipped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"

static struct sdp_session sess, back;
static char out[1 << 17];
static char body[(1 << 17) + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_candidate(const struct sdp_candidate *c)
{
	struct sdp_candidate again;
	char line[2048];
	int n = sdp_fmt_candidate(line, sizeof(line), c, (enum sdp_form)c->form);

	/* whatever the parser accepted, the emitter must write and the parser must read back */
	if (n < 0 || sdp_parse_candidate(&again, line) != 0)
		abort();
	if (!(c->flags & SDP_CAND_F_X_IPV6) && !sdp_candidate_eq(c, &again))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdp_candidate c;

	if (sdp_parse_candidate_n(&c, (const char *)data, size) == 0)
		check_candidate(&c);
	if (sdp_parse(&sess, (const char *)data, size) != 0)
		return 0;
	for (unsigned i = 0; i < sess.n_media; i++) {
		const struct sdp_ice_media *m = &sess.media[i].ice;
		int n, hdr;

		for (unsigned k = 0; k < m->n_cand; k++)
			check_candidate(&m->cand[k]);
		n = sdp_fmt_ice_media(out, sizeof(out), m);
		if (n < 0)
			abort();
		hdr = snprintf(body, sizeof(body), "m=audio %u RTP/AVP 0\r\n", m->port);
		memcpy(body + hdr, out, (size_t)n);
		if (sdp_parse(&back, body, (size_t)hdr + (size_t)n) != 0 || back.lines_skipped ||
		    back.media[0].ice.n_cand != m->n_cand)
			abort();
		for (unsigned k = 0; k < m->n_cand; k++)
			if (!sdp_candidate_eq(&m->cand[k], &back.media[0].ice.cand[k]))
				abort();
		if (strcmp(back.media[0].ice.params.ufrag, m->params.ufrag) ||
		    strcmp(back.media[0].ice.params.pwd, m->params.pwd) ||
		    strcmp(back.media[0].ice.remote_candidate, m->remote_candidate) ||
		    back.media[0].ice.n_remote != m->n_remote || back.media[0].ice.n_info != m->n_info)
			abort();
		sdp_ice_merge(&sess.media[i].ice.params, &sess.params);
	}
	return 0;
}
