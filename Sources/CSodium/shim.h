#ifndef CSODIUM_SHIM_H
#define CSODIUM_SHIM_H
#include <sodium.h>

/*
 * Why these wrappers exist: libsodium takes `unsigned char *`, which Swift imports as
 * UnsafeMutablePointer<UInt8>; our buffers are raw (sodium_malloc'd) memory. Taking
 * `void *` here means Swift never has to rebind memory to call libsodium.
 */

static inline int csodium_aead_xchacha20poly1305_encrypt(
    void *ciphertext, const void *message, unsigned long long message_len,
    const void *ad, unsigned long long ad_len, const void *nonce, const void *key) {
    unsigned long long written = 0;
    return crypto_aead_xchacha20poly1305_ietf_encrypt(
        ciphertext, &written, message, message_len, ad, ad_len, NULL, nonce, key);
}

static inline int csodium_aead_xchacha20poly1305_decrypt(
    void *message, const void *ciphertext, unsigned long long ciphertext_len,
    const void *ad, unsigned long long ad_len, const void *nonce, const void *key) {
    unsigned long long written = 0;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(
        message, &written, NULL, ciphertext, ciphertext_len, ad, ad_len, nonce, key);
}

static inline int csodium_pwhash_argon2id13(
    void *out, unsigned long long out_len, const void *password,
    unsigned long long password_len, const void *salt,
    unsigned long long opslimit, size_t memlimit) {
    return crypto_pwhash(out, out_len, (const char *)password, password_len, salt,
                         opslimit, memlimit, crypto_pwhash_ALG_ARGON2ID13);
}

static inline int csodium_generichash(
    void *out, size_t out_len, const void *in, unsigned long long in_len,
    const void *key, size_t key_len) {
    return crypto_generichash(out, out_len, in, in_len, key, key_len);
}

static inline int csodium_hmacsha256(
    void *out, const void *in, unsigned long long in_len, const void *key, size_t key_len) {
    crypto_auth_hmacsha256_state state;
    if (crypto_auth_hmacsha256_init(&state, key, key_len) != 0) return -1;
    if (crypto_auth_hmacsha256_update(&state, in, in_len) != 0) return -1;
    return crypto_auth_hmacsha256_final(&state, out);
}

static inline int csodium_sha256(void *out, const void *in, unsigned long long in_len) {
    return crypto_hash_sha256(out, in, in_len);
}

static inline int csodium_box_keypair(void *public_key, void *secret_key) {
    return crypto_box_keypair(public_key, secret_key);
}

static inline int csodium_box_seal(
    void *out, const void *message, unsigned long long message_len, const void *public_key) {
    return crypto_box_seal(out, message, message_len, public_key);
}

static inline int csodium_box_seal_open(
    void *out, const void *sealed, unsigned long long sealed_len,
    const void *public_key, const void *secret_key) {
    return crypto_box_seal_open(out, sealed, sealed_len, public_key, secret_key);
}

#endif
