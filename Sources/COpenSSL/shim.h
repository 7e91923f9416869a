#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

/*
 * Why these wrappers exist: a memory BIO must outlive every read from it, and that
 * lifetime bug shows only in release builds when the BIO is created from Swift. Here the
 * BIO is made, read and freed inside one C call, over a buffer the caller keeps alive.
 * The password callback refuses, so an encrypted PEM fails instead of prompting on a tty.
 */

static int copenssl_refuse_password(char *buf, int size, int rwflag, void *u) {
    (void)buf; (void)size; (void)rwflag; (void)u;
    return -1;
}

/* Returns an RSA key of at least `min_bits`, or NULL: *reason is 1 for unparsable PEM,
 * 2 for a key that is not RSA, 3 for a key shorter than min_bits. */
static inline EVP_PKEY *copenssl_rsa_key_from_pem(
    const void *pem, int pem_len, int is_private, int min_bits, int *reason) {
    *reason = 0;
    ERR_clear_error();
    BIO *bio = BIO_new_mem_buf(pem, pem_len);
    if (bio == NULL) { *reason = 1; return NULL; }
    EVP_PKEY *key = is_private
        ? PEM_read_bio_PrivateKey(bio, NULL, copenssl_refuse_password, NULL)
        : PEM_read_bio_PUBKEY(bio, NULL, copenssl_refuse_password, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (key == NULL) { *reason = 1; return NULL; }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) { EVP_PKEY_free(key); *reason = 2; return NULL; }
    if (EVP_PKEY_get_bits(key) < min_bits) { EVP_PKEY_free(key); *reason = 3; return NULL; }
    return key;
}

static inline int copenssl_rsa_size(EVP_PKEY *key) { return EVP_PKEY_get_size(key); }

/* RSASSA-PKCS1-v1_5 with SHA-256 (JWS "RS256"). Returns 1 on success. */
static inline int copenssl_rs256_sign(
    EVP_PKEY *key, const void *msg, size_t msg_len, void *sig, size_t *sig_len) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) return 0;
    int ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1
          && EVP_DigestSign(ctx, sig, sig_len, msg, msg_len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* Returns 1 when the signature is valid, 0 otherwise. */
static inline int copenssl_rs256_verify(
    EVP_PKEY *key, const void *msg, size_t msg_len, const void *sig, size_t sig_len) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) return 0;
    int ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1
          && EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* Writes the SubjectPublicKeyInfo PEM of `key` into buf; returns its length or -1. */
static inline int copenssl_public_key_pem(EVP_PKEY *key, char *buf, int buf_len) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) return -1;
    int n = -1;
    if (PEM_write_bio_PUBKEY(bio, key) == 1) {
        char *data = NULL;
        long len = BIO_get_mem_data(bio, &data);
        if (len > 0 && len <= buf_len) { memcpy(buf, data, (size_t)len); n = (int)len; }
    }
    BIO_free(bio);
    ERR_clear_error();
    return n;
}

/* SHA-256 and HMAC-SHA-256 through OpenSSL, which uses the CPU's SHA extensions where
 * present (libsodium's portable SHA-256 cost ~10x more on the audit path). */
static inline int copenssl_sha256(void *out, const void *in, size_t in_len) {
    return SHA256((const unsigned char *)in, in_len, (unsigned char *)out) != NULL ? 0 : -1;
}

static inline int copenssl_hmac_sha256(void *out, const void *key, int key_len, const void *in, size_t in_len) {
    unsigned int out_len = 0;
    return HMAC(EVP_sha256(), key, key_len, (const unsigned char *)in, in_len, (unsigned char *)out, &out_len) != NULL
        && out_len == 32 ? 0 : -1;
}

#endif
