/* Long-term credential client (RFC 8489 §9.2): the 401 / 438 challenge flow and request
 * signing, shared by the TURN client for RFC 8656 and MS-TURN servers. */
#include <string.h>

#include "stun.h"

#define LT_MAX_CHALLENGES 3

int stun_lt_init(struct stun_lt_client *c, const char *user, const char *pass, bool ms_turn)
{
	memset(c, 0, sizeof(*c));
	if (!user || !pass || !*user || strlen(user) > STUN_LT_MAX || strlen(pass) > STUN_LT_MAX)
		return STUN_E_BAD_ATTR;
	memcpy(c->user, user, strlen(user));
	memcpy(c->pass, pass, strlen(pass));
	c->ms_turn = ms_turn;
	return 0;
}

static int take(const struct stun_msg *m, uint16_t type, char *out)
{
	const uint8_t *p;
	uint16_t l;

	if (stun_msg_get_bytes(m, type, &p, &l) != 0 || l == 0 || l > STUN_LT_MAX)
		return -1;
	/* quoted-string values (RFC 3261 style) are taken as sent; NULs are not allowed */
	if (memchr(p, 0, l))
		return -1;
	memcpy(out, p, l);
	out[l] = 0;
	return 0;
}

int stun_lt_on_error(struct stun_lt_client *c, const struct stun_msg *m)
{
	uint16_t realm_t = c->ms_turn ? MSTURN_A_REALM : STUN_A_REALM;
	uint16_t nonce_t = c->ms_turn ? MSTURN_A_NONCE : STUN_A_NONCE;
	char realm[STUN_LT_MAX + 1], nonce[STUN_LT_MAX + 1];
	int code;

	if (stun_msg_get_error(m, &code, NULL, NULL) != 0)
		return STUN_LT_BAD;
	if (code != 401 && code != 438)
		return STUN_LT_OTHER;
	if (take(m, nonce_t, nonce))
		return STUN_LT_BAD;
	if (take(m, realm_t, realm)) {
		/* RFC 8489 §9.2.5: a 438 may omit REALM, the old one stands */
		if (code != 438 || !c->realm[0])
			return STUN_LT_BAD;
		memcpy(realm, c->realm, sizeof(realm));
	}
	if (++c->retries > LT_MAX_CHALLENGES)
		return STUN_LT_REJECTED;
	/* a 401 to a request we signed with this realm is a refusal, unless the nonce moved */
	if (code == 401 && c->have_key && !strcmp(realm, c->realm) && !strcmp(nonce, c->nonce))
		return STUN_LT_REJECTED;
	if (!c->have_key || strcmp(realm, c->realm)) {
		if (stun_key_init_long_term(&c->key, c->user, realm, c->pass) != 0)
			return STUN_LT_BAD;
		c->have_key = true;
	}
	memcpy(c->realm, realm, sizeof(realm));
	memcpy(c->nonce, nonce, sizeof(nonce));
	return STUN_LT_RETRY;
}

void stun_lt_on_success(struct stun_lt_client *c)
{
	c->retries = 0;
}

int stun_lt_sign(struct stun_lt_client *c, struct stun_builder *b, enum stun_mi_mode mode)
{
	if (!c->have_key)
		return 0;
	stun_build_str(b, STUN_A_USERNAME, c->user);
	stun_build_str(b, c->ms_turn ? MSTURN_A_REALM : STUN_A_REALM, c->realm);
	stun_build_str(b, c->ms_turn ? MSTURN_A_NONCE : STUN_A_NONCE, c->nonce);
	return stun_build_integrity(b, &c->key, mode);
}
