/*
 * objid.c — object ids (pure; OpenSSL for HMAC and randomness).
 *
 * An id is 32 bytes, shown as 64 lowercase hex characters:
 *   bytes  0..15  HMAC-SHA256(key, name)[0..16] for a named object, or
 *                 random for a unique one (POST /<ns>/.new);
 *   bytes 16..31  HMAC-SHA256(key, bytes 0..15)[0..16], a MAC that lets
 *                 durod refuse ids its namespace key did not make.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#include "durod.h"

#define HALF (DURO_ID_BYTES / 2)

static void
hmac16(const uint8_t key[DURO_KEY_BYTES], const void *data, size_t len,
    uint8_t out[HALF])
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	HMAC(EVP_sha256(), key, DURO_KEY_BYTES, data, len, mac, &maclen);
	memcpy(out, mac, HALF);
}

void
objid_from_name(const uint8_t key[DURO_KEY_BYTES], const char *name, size_t len,
    uint8_t id[DURO_ID_BYTES])
{
	hmac16(key, name, len, id);
	hmac16(key, id, HALF, id + HALF);
}

int
objid_new_unique(const uint8_t key[DURO_KEY_BYTES], uint8_t id[DURO_ID_BYTES])
{
	if (RAND_bytes(id, HALF) != 1)
		return (-1);
	hmac16(key, id, HALF, id + HALF);
	return (0);
}

int
objid_verify(const uint8_t key[DURO_KEY_BYTES], const uint8_t id[DURO_ID_BYTES])
{
	uint8_t mac[HALF];

	hmac16(key, id, HALF, mac);
	/* Constant time, so timing does not leak how much of a forgery matched.
	 */
	return (CRYPTO_memcmp(mac, id + HALF, HALF) == 0);
}

void
objid_to_hex(const uint8_t id[DURO_ID_BYTES], char hex[DURO_ID_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < DURO_ID_BYTES; i++) {
		hex[2 * i] = digits[id[i] >> 4];
		hex[2 * i + 1] = digits[id[i] & 0xf];
	}
	hex[DURO_ID_HEX] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1); /* uppercase is not an id: ids have one spelling */
}

int
objid_from_hex(const char *hex, size_t len, uint8_t id[DURO_ID_BYTES])
{
	if (len != DURO_ID_HEX)
		return (-1);
	for (size_t i = 0; i < DURO_ID_BYTES; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return (-1);
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return (0);
}
