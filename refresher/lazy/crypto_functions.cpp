// OpenSSL libcrypto's functions the refresher calls (PKCE, SigV4, JWT client assertions,
// the macOS keychain item), forwarded to libcrypto.so.3 loaded on first use (lazy_library.h
// says why). Fingerprints, on every start's path, use sha256.h instead.
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "refresher/lazy/lazy_library.h"

using ckh::lazy_function;
using ckh::LazyLibrary;

#define CKH_CRYPTO(name) \
  static const auto real = lazy_function<decltype(&name)>(LazyLibrary::crypto, #name)

extern "C" {

int BIO_free(BIO* a) {
  CKH_CRYPTO(BIO_free);
  return real(a);
}

BIO* BIO_new_mem_buf(const void* buf, int len) {
  CKH_CRYPTO(BIO_new_mem_buf);
  return real(buf, len);
}

int BN_bn2binpad(const BIGNUM* a, unsigned char* to, int tolen) {
  CKH_CRYPTO(BN_bn2binpad);
  return real(a, to, tolen);
}

void ECDSA_SIG_free(ECDSA_SIG* sig) {
  CKH_CRYPTO(ECDSA_SIG_free);
  real(sig);
}

void ECDSA_SIG_get0(const ECDSA_SIG* sig, const BIGNUM** pr, const BIGNUM** ps) {
  CKH_CRYPTO(ECDSA_SIG_get0);
  real(sig, pr, ps);
}

ECDSA_SIG* d2i_ECDSA_SIG(ECDSA_SIG** a, const unsigned char** in, long len) {
  CKH_CRYPTO(d2i_ECDSA_SIG);
  return real(a, in, len);
}

int EC_curve_nist2nid(const char* name) {
  CKH_CRYPTO(EC_curve_nist2nid);
  return real(name);
}

int ERR_set_mark(void) {
  CKH_CRYPTO(ERR_set_mark);
  return real();
}

int ERR_pop_to_mark(void) {
  CKH_CRYPTO(ERR_pop_to_mark);
  return real();
}

int EVP_Digest(const void* data, size_t count, unsigned char* md, unsigned int* size,
               const EVP_MD* type, ENGINE* impl) {
  CKH_CRYPTO(EVP_Digest);
  return real(data, count, md, size, type, impl);
}

int EVP_DigestSignInit(EVP_MD_CTX* ctx, EVP_PKEY_CTX** pctx, const EVP_MD* type, ENGINE* e,
                       EVP_PKEY* pkey) {
  CKH_CRYPTO(EVP_DigestSignInit);
  return real(ctx, pctx, type, e, pkey);
}

int EVP_DigestSign(EVP_MD_CTX* ctx, unsigned char* sigret, size_t* siglen, const unsigned char* tbs,
                   size_t tbslen) {
  CKH_CRYPTO(EVP_DigestSign);
  return real(ctx, sigret, siglen, tbs, tbslen);
}

EVP_MD_CTX* EVP_MD_CTX_new(void) {
  CKH_CRYPTO(EVP_MD_CTX_new);
  return real();
}

void EVP_MD_CTX_free(EVP_MD_CTX* ctx) {
  CKH_CRYPTO(EVP_MD_CTX_free);
  real(ctx);
}

int EVP_PKEY_CTX_set_rsa_padding(EVP_PKEY_CTX* ctx, int pad_mode) {
  CKH_CRYPTO(EVP_PKEY_CTX_set_rsa_padding);
  return real(ctx, pad_mode);
}

int EVP_PKEY_CTX_set_rsa_pss_saltlen(EVP_PKEY_CTX* ctx, int saltlen) {
  CKH_CRYPTO(EVP_PKEY_CTX_set_rsa_pss_saltlen);
  return real(ctx, saltlen);
}

int EVP_PKEY_CTX_set_rsa_mgf1_md(EVP_PKEY_CTX* ctx, const EVP_MD* md) {
  CKH_CRYPTO(EVP_PKEY_CTX_set_rsa_mgf1_md);
  return real(ctx, md);
}

void EVP_PKEY_free(EVP_PKEY* pkey) {
  CKH_CRYPTO(EVP_PKEY_free);
  real(pkey);
}

const char* EVP_PKEY_get0_type_name(const EVP_PKEY* key) {
  CKH_CRYPTO(EVP_PKEY_get0_type_name);
  return real(key);
}

int EVP_PKEY_get_bits(const EVP_PKEY* pkey) {
  CKH_CRYPTO(EVP_PKEY_get_bits);
  return real(pkey);
}

int EVP_PKEY_get_group_name(const EVP_PKEY* pkey, char* name, size_t name_sz, size_t* gname_len) {
  CKH_CRYPTO(EVP_PKEY_get_group_name);
  return real(pkey, name, name_sz, gname_len);
}

int EVP_PKEY_is_a(const EVP_PKEY* pkey, const char* name) {
  CKH_CRYPTO(EVP_PKEY_is_a);
  return real(pkey, name);
}

unsigned char* EVP_Q_mac(OSSL_LIB_CTX* libctx, const char* name, const char* propq,
                         const char* subalg, const OSSL_PARAM* params, const void* key,
                         size_t keylen, const unsigned char* data, size_t datalen,
                         unsigned char* out, size_t outsize, size_t* outlen) {
  CKH_CRYPTO(EVP_Q_mac);
  return real(libctx, name, propq, subalg, params, key, keylen, data, datalen, out, outsize,
              outlen);
}

const EVP_MD* EVP_sha256(void) {
  CKH_CRYPTO(EVP_sha256);
  return real();
}

const EVP_MD* EVP_sha384(void) {
  CKH_CRYPTO(EVP_sha384);
  return real();
}

const EVP_MD* EVP_sha512(void) {
  CKH_CRYPTO(EVP_sha512);
  return real();
}

unsigned char* HMAC(const EVP_MD* evp_md, const void* key, int key_len, const unsigned char* data,
                    size_t data_len, unsigned char* md, unsigned int* md_len) {
  CKH_CRYPTO(HMAC);
  return real(evp_md, key, key_len, data, data_len, md, md_len);
}

int OBJ_sn2nid(const char* s) {
  CKH_CRYPTO(OBJ_sn2nid);
  return real(s);
}

void OPENSSL_cleanse(void* ptr, size_t len) {
  CKH_CRYPTO(OPENSSL_cleanse);
  real(ptr, len);
}

EVP_PKEY* PEM_read_bio_PrivateKey(BIO* out, EVP_PKEY** x, pem_password_cb* cb, void* u) {
  CKH_CRYPTO(PEM_read_bio_PrivateKey);
  return real(out, x, cb, u);
}

int RAND_bytes(unsigned char* buf, int num) {
  CKH_CRYPTO(RAND_bytes);
  return real(buf, num);
}

unsigned char* SHA256(const unsigned char* d, size_t n, unsigned char* md) {
  CKH_CRYPTO(SHA256);
  return real(d, n, md);
}

}  // extern "C"
