/* Verifies chains the way an OpenSSL client does (X509_verify_cert with
 * the server-auth purpose and a host name), for chainstorm's differential
 * device-model test.
 *
 * usage: openssl_verify MODE < manifest
 *   MODE: trusted-first (OpenSSL's default), untrusted-first
 *         (X509_V_FLAG_TRUSTED_FIRST cleared: the 1.0.2 search order),
 *         untrusted-first-no-alt (also X509_V_FLAG_NO_ALT_CHAINS).
 *   manifest lines: ID CHAIN_PEM CA_PEM UNIX_TIME HOST KEY_PEM (key unused)
 * prints: ID VERDICT, VERDICT one of ok, unknown_issuer, expired,
 *         not_yet_valid, name_mismatch, other(N). */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

static const char *verdict(int err) {
    static char buf[32];
    switch (err) {
    case X509_V_OK: return "ok";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: return "unknown_issuer";
    case X509_V_ERR_CERT_HAS_EXPIRED: return "expired";
    case X509_V_ERR_CERT_NOT_YET_VALID: return "not_yet_valid";
    case X509_V_ERR_HOSTNAME_MISMATCH: return "name_mismatch";
    default: snprintf(buf, sizeof buf, "other(%d)", err); return buf;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s MODE\n", argv[0]); return 2; }
    const char *mode = argv[1];
    char id[256], chain_path[1024], ca_path[1024], host[256], key_path[1024];
    long long when;
    while (scanf("%255s %1023s %1023s %lld %255s %1023s", id, chain_path, ca_path, &when, host, key_path) == 6) {
        FILE *f = fopen(chain_path, "r");
        if (!f) { perror(chain_path); return 1; }
        X509 *leaf = PEM_read_X509(f, NULL, NULL, NULL);
        STACK_OF(X509) *untrusted = sk_X509_new_null();
        X509 *c;
        while ((c = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) sk_X509_push(untrusted, c);
        fclose(f);
        X509_STORE *store = X509_STORE_new();
        if (!leaf || X509_STORE_load_file(store, ca_path) != 1) {
            fprintf(stderr, "cannot load %s or %s\n", chain_path, ca_path);
            return 1;
        }
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        X509_STORE_CTX_init(ctx, store, leaf, untrusted);
        X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_purpose(p, X509_PURPOSE_SSL_SERVER);
        X509_VERIFY_PARAM_set_time(p, (time_t)when);
        X509_VERIFY_PARAM_set1_host(p, host, 0);
        if (strncmp(mode, "untrusted-first", 15) == 0)
            X509_VERIFY_PARAM_clear_flags(p, X509_V_FLAG_TRUSTED_FIRST);
        if (strcmp(mode, "untrusted-first-no-alt") == 0)
            X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_NO_ALT_CHAINS);
        int ok = X509_verify_cert(ctx);
        int err = X509_STORE_CTX_get_error(ctx);
        printf("%s %s\n", id, ok == 1 ? "ok" : verdict(err));
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        X509_free(leaf);
        sk_X509_pop_free(untrusted, X509_free);
    }
    return 0;
}
