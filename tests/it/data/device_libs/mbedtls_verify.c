/* Verifies chains with mbedTLS's mbedtls_x509_crt_verify, the call its TLS
 * client makes on the server's Certificate message (chain as received,
 * trusted CAs, expected CN), for chainstorm's differential test. mbedTLS
 * takes the time from time(); run it under libfaketime for other clocks.
 *
 * usage: mbedtls_verify < manifest   (lines: ID CHAIN_PEM CA_PEM UNIX_TIME HOST KEY_PEM;
 *        UNIX_TIME and KEY_PEM are ignored)
 * prints: ID VERDICT, VERDICT "ok" or every reason mbedTLS flagged, joined
 *         by '+': unknown_issuer, expired, not_yet_valid, name_mismatch,
 *         other(0xFLAGS). */
#include <stdio.h>
#include <string.h>
#include <mbedtls/x509_crt.h>

int main(void) {
    char id[256], chain_path[1024], ca_path[1024], host[256], key_path[1024];
    long long when;
    while (scanf("%255s %1023s %1023s %lld %255s %1023s", id, chain_path, ca_path, &when, host, key_path) == 6) {
        mbedtls_x509_crt chain, ca;
        mbedtls_x509_crt_init(&chain);
        mbedtls_x509_crt_init(&ca);
        if (mbedtls_x509_crt_parse_file(&chain, chain_path) != 0 ||
            mbedtls_x509_crt_parse_file(&ca, ca_path) != 0) {
            fprintf(stderr, "cannot load %s or %s\n", chain_path, ca_path);
            return 1;
        }
        uint32_t flags = 0;
        int ret = mbedtls_x509_crt_verify(&chain, &ca, NULL, host, &flags, NULL, NULL);
        char out[128] = "";
        if (ret == 0) {
            strcpy(out, "ok");
        } else {
            uint32_t rest = flags;
            struct { uint32_t bit; const char *name; } names[] = {
                { MBEDTLS_X509_BADCERT_NOT_TRUSTED, "unknown_issuer" },
                { MBEDTLS_X509_BADCERT_EXPIRED, "expired" },
                { MBEDTLS_X509_BADCERT_FUTURE, "not_yet_valid" },
                { MBEDTLS_X509_BADCERT_CN_MISMATCH, "name_mismatch" },
            };
            for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                if (flags & names[i].bit) {
                    if (out[0]) strcat(out, "+");
                    strcat(out, names[i].name);
                    rest &= ~names[i].bit;
                }
            }
            if (rest || !out[0]) {
                char o[32];
                snprintf(o, sizeof o, "%sother(0x%x)", out[0] ? "+" : "", rest);
                strcat(out, o);
            }
        }
        printf("%s %s\n", id, out);
        mbedtls_x509_crt_free(&chain);
        mbedtls_x509_crt_free(&ca);
    }
    return 0;
}
