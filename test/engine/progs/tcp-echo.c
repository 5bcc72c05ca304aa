// A TCP echo server and its clients, for dumping the server with live connections (test/engine/tcp-echo.test.mjs,
// bench/tcp-conns.mjs).
//   tcp-echo server        listens on 127.0.0.1 (a free port), echoes every byte back on each connection (one poll
//                          loop); prints "PORT p", then "READY pid=N".
//   tcp-echo client N PORT opens N connections and runs round 0, prints "READY pid=N"; each SIGUSR1 runs the next
//                          round. A round sends one request on every connection (its own length, bytes that name
//                          the connection, the round and the offset), then reads every reply and compares it byte
//                          for byte: "ROUND r OK n=N", or "ROUND r FAIL ..." naming the connection and the first bad
//                          byte (a byte lost, repeated or out of order shows as a wrong byte or an extra one).
// Waits are bounded: a reply that does not come in 60 s is a FAIL.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXREQ 4096

static void die(const char *what) {
  printf("ERROR %s: %s\n", what, strerror(errno));
  exit(1);
}

// 1,000 connections need more than the default 1,024 descriptors
static void raise_nofile(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w, n -= w;
  }
  return 0;
}

_Noreturn static void server(void) {
  int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (l < 0) die("socket");
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(l, (void *)&a, sizeof a) || listen(l, 1024) || getsockname(l, (void *)&a, &al)) die("listen");
  struct rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  size_t cap = r.rlim_cur > 65536 ? 65536 : r.rlim_cur, n = 1;
  struct pollfd *pf = calloc(cap, sizeof *pf);
  pf[0] = (struct pollfd){.fd = l, .events = POLLIN};
  printf("PORT %d\nREADY pid=%d\n", ntohs(a.sin_port), getpid());
  fflush(stdout);
  static char buf[65536];
  for (;;) {
    if (poll(pf, n, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    for (size_t i = n; i-- > 1;) {
      if (!pf[i].revents) continue;
      ssize_t got = read(pf[i].fd, buf, sizeof buf);
      if (got > 0 && write_all(pf[i].fd, buf, got) == 0) continue;
      if (got < 0 && errno == EINTR) continue;
      close(pf[i].fd); // the client closed (or reset): drop it
      pf[i] = pf[--n];
    }
    if (pf[0].revents & POLLIN) {
      int c = accept(l, NULL, NULL);
      if (c < 0) die("accept");
      if (n == cap) die("too many connections");
      pf[n++] = (struct pollfd){.fd = c, .events = POLLIN};
    }
  }
}

static size_t req_len(int conn, int round) { return 16 + (conn * 131 + round * 17) % (MAXREQ - 16); }
static char req_byte(int conn, int round, size_t off) { return (char)(conn * 7 + round * 13 + off * 31 + (off >> 8)); }

// one round on every connection; 0 when every reply is the request, byte for byte
static int round_all(int *fds, int nconn, int round) {
  static char want[MAXREQ], got[MAXREQ];
  for (int i = 0; i < nconn; i++) {
    size_t len = req_len(i, round);
    for (size_t k = 0; k < len; k++) want[k] = req_byte(i, round, k);
    if (write_all(fds[i], want, len)) {
      printf("ROUND %d FAIL conn %d: write: %s\n", round, i, strerror(errno));
      return -1;
    }
  }
  for (int i = 0; i < nconn; i++) {
    size_t len = req_len(i, round), have = 0;
    while (have < len) {
      struct pollfd p = {.fd = fds[i], .events = POLLIN};
      int pr = poll(&p, 1, 60000);
      if (pr < 0 && errno == EINTR) continue;
      if (pr == 0) {
        printf("ROUND %d FAIL conn %d: no reply in 60 s after %zu of %zu bytes\n", round, i, have, len);
        return -1;
      }
      ssize_t r = read(fds[i], got + have, len - have);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        printf("ROUND %d FAIL conn %d: read after %zu of %zu bytes: %s\n", round, i, have, len, r ? strerror(errno) : "EOF");
        return -1;
      }
      have += r;
    }
    for (size_t k = 0; k < len; k++)
      if (got[k] != req_byte(i, round, k)) {
        printf("ROUND %d FAIL conn %d: byte %zu of %zu is %d, not %d\n", round, i, k, len, got[k], req_byte(i, round, k));
        return -1;
      }
    // nothing more may be there: a repeated byte would be
    struct pollfd p = {.fd = fds[i], .events = POLLIN};
    if (poll(&p, 1, 0) > 0) {
      printf("ROUND %d FAIL conn %d: bytes beyond the reply\n", round, i);
      return -1;
    }
  }
  printf("ROUND %d OK n=%d\n", round, nconn);
  fflush(stdout);
  return 0;
}

static int client(int nconn, int port) {
  int *fds = calloc(nconn, sizeof *fds);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, NULL);
  for (int i = 0; i < nconn; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (fds[i] < 0 || connect(fds[i], (void *)&a, sizeof a)) die("connect");
  }
  if (round_all(fds, nconn, 0)) return 1;
  printf("READY pid=%d\n", getpid());
  fflush(stdout);
  for (int round = 1;; round++) {
    int sig;
    sigwait(&usr1, &sig);
    if (round_all(fds, nconn, round)) {
      fflush(stdout);
      return 1;
    }
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  raise_nofile();
  if (argc == 2 && !strcmp(argv[1], "server")) server();
  if (argc == 4 && !strcmp(argv[1], "client")) return client(atoi(argv[2]), atoi(argv[3]));
  fprintf(stderr, "usage: tcp-echo server | tcp-echo client N PORT\n");
  return 2;
}
