/* Runs a TLS handshake between a wolfSSL client and a wolfSSL server in one
 * process (a socket pair, both ends non-blocking), the server presenting the
 * chain file as given, so the client's ProcessPeerCerts (wolfSSL's real
 * path building) judges it. For chainstorm's differential device-model
 * test. wolfSSL takes the time from time(): run it under libfaketime for
 * other clocks.
 *
 * usage: wolfssl_handshake < manifest
 *   lines: ID CHAIN_PEM CA_PEM UNIX_TIME(ignored) HOST KEY_PEM
 * prints: ID VERDICT (ok, unknown_issuer, expired, not_yet_valid,
 *         name_mismatch, other(N)). */
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

static const char *verdict(int err) {
    static char buf[32];
    switch (err) {
    case 0: return "ok";
    case ASN_NO_SIGNER_E: return "unknown_issuer";
    case ASN_AFTER_DATE_E: return "expired";
    case ASN_BEFORE_DATE_E: return "not_yet_valid";
    case DOMAIN_NAME_MISMATCH: return "name_mismatch";
    default: snprintf(buf, sizeof buf, "other(%d)", err); return buf;
    }
}

int main(void) {
    char id[256], chain_path[1024], ca_path[1024], host[256], key_path[1024];
    long long when;
    wolfSSL_Init();
    while (scanf("%255s %1023s %1023s %lld %255s %1023s", id, chain_path, ca_path, &when, host, key_path) == 6) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) { perror("socketpair"); return 1; }
        fcntl(sv[0], F_SETFL, O_NONBLOCK);
        fcntl(sv[1], F_SETFL, O_NONBLOCK);
        WOLFSSL_CTX *sctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
        WOLFSSL_CTX *cctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
        if (wolfSSL_CTX_use_certificate_chain_file(sctx, chain_path) != WOLFSSL_SUCCESS ||
            wolfSSL_CTX_use_PrivateKey_file(sctx, key_path, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS ||
            wolfSSL_CTX_load_verify_locations(cctx, ca_path, NULL) != WOLFSSL_SUCCESS) {
            fprintf(stderr, "cannot load %s, %s or %s\n", chain_path, key_path, ca_path);
            return 1;
        }
        wolfSSL_CTX_set_verify(cctx, WOLFSSL_VERIFY_PEER, NULL);
        WOLFSSL *s = wolfSSL_new(sctx), *c = wolfSSL_new(cctx);
        wolfSSL_set_fd(s, sv[0]);
        wolfSSL_set_fd(c, sv[1]);
        wolfSSL_UseSNI(c, WOLFSSL_SNI_HOST_NAME, host, (unsigned short)strlen(host));
        wolfSSL_check_domain_name(c, host);
        int cdone = 0, sdone = 0, cerr = 0;
        for (int round = 0; round < 1000 && !(cdone && sdone) && !cerr; round++) {
            if (!cdone) {
                if (wolfSSL_connect(c) == WOLFSSL_SUCCESS) cdone = 1;
                else {
                    int e = wolfSSL_get_error(c, 0);
                    if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) cerr = e;
                }
            }
            if (!sdone) {
                if (wolfSSL_accept(s) == WOLFSSL_SUCCESS) sdone = 1;
                else {
                    int e = wolfSSL_get_error(s, 0);
                    if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) sdone = 1;
                }
            }
        }
        printf("%s %s\n", id, cerr ? verdict(cerr) : (cdone ? "ok" : "other(stalled)"));
        fflush(stdout);
        wolfSSL_free(c);
        wolfSSL_free(s);
        wolfSSL_CTX_free(cctx);
        wolfSSL_CTX_free(sctx);
        close(sv[0]);
        close(sv[1]);
    }
    wolfSSL_Cleanup();
    return 0;
}
