/*
 * latency-proxy: a TCP proxy on 127.0.0.1 that delays every chunk, in both directions, by a fixed number of
 * microseconds, so `npm run bench` can measure clients over a link with a real round-trip time on a machine where
 * netem is not available (no kernel module in the VM) and the test harness's JavaScript proxy cannot go below
 * setTimeout's 1 ms per direction.
 *
 *   latency-proxy <one-way delay in µs> <target port> [<target port> ...]
 *
 * Listens on one free port of 127.0.0.1 per target (printed to stdout, one per line, in order), forwards every
 * accepted connection to 127.0.0.1:<target>, and exits when its stdin closes (the benchmark holds the other end, so
 * the proxy never outlives it). One thread, epoll, one timerfd: a chunk read at time t is written at t + delay.
 * The delay is the same for every chunk, so chunks fall due in the order they were read: one global FIFO is a
 * correct schedule for every connection and direction.
 *
 * Built by bench/latency.ts with `cc -O2`. Linux only (epoll, timerfd).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 16
#define READ_SIZE (256 * 1024)
/* Stop reading a side while this much is waiting to be written to the other side (backpressure). */
#define HIGH_WATER (8 * 1024 * 1024)

enum kind { K_LISTEN, K_TIMER, K_STDIN, K_SIDE };

struct conn;

/* One socket of a proxied connection; `out` holds bytes due for this socket that it has not accepted yet. */
struct side {
  enum kind kind;
  int fd;
  struct conn *conn;
  struct side *peer;
  char *out;
  size_t out_len, out_cap;
  size_t queued; /* bytes read from this side and still waiting in the FIFO or in peer->out */
  int reading;   /* EPOLLIN armed */
  int writing;   /* EPOLLOUT armed */
};

struct conn {
  struct side a; /* the client's socket */
  struct side b; /* the target's socket */
  int dead;
  int refs; /* chunks in the FIFO that point at this connection */
  int buried;
  struct conn *next_dead;
};

struct listener {
  enum kind kind;
  int fd;
  int target_port;
};

struct chunk {
  struct chunk *next;
  struct side *to; /* the socket the bytes go to */
  struct side *from;
  uint64_t due_ns;
  size_t len;
  char data[];
};

static int ep;
static int tfd;
static uint64_t delay_ns;
static struct chunk *head, *tail;
static int timer_armed_for_head;
static char *readbuf;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void arm(struct side *s) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = (s->reading ? EPOLLIN : 0) | (s->writing ? EPOLLOUT : 0);
  ev.data.ptr = s;
  epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
}

static void arm_timer(void) {
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  if (head != NULL) {
    its.it_value.tv_sec = (time_t)(head->due_ns / 1000000000ull);
    its.it_value.tv_nsec = (long)(head->due_ns % 1000000000ull);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  }
  timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
  timer_armed_for_head = head != NULL;
}

/* Dead connections are freed after the current batch of events, which may still name their sockets. */
static struct conn *graveyard;

static void release(struct conn *c) {
  if (c->dead && c->refs == 0 && !c->buried) {
    c->buried = 1;
    c->next_dead = graveyard;
    graveyard = c;
  }
}

static void bury(void) {
  while (graveyard != NULL) {
    struct conn *c = graveyard;
    graveyard = c->next_dead;
    free(c->a.out);
    free(c->b.out);
    free(c);
  }
}

static void kill_conn(struct conn *c) {
  if (c->dead) return;
  c->dead = 1;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->a.fd, NULL);
  epoll_ctl(ep, EPOLL_CTL_DEL, c->b.fd, NULL);
  close(c->a.fd);
  close(c->b.fd);
  release(c);
}

/* Reading resumes once the bytes a side sent have mostly left the proxy. */
static void maybe_resume(struct side *from) {
  if (!from->reading && !from->conn->dead && from->queued < HIGH_WATER / 2) {
    from->reading = 1;
    arm(from);
  }
}

/* Writes as much of s->out as the socket takes; arms EPOLLOUT for the rest. */
static void flush_out(struct side *s) {
  while (s->out_len > 0) {
    ssize_t n = write(s->fd, s->out, s->out_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      kill_conn(s->conn);
      return;
    }
    memmove(s->out, s->out + n, s->out_len - (size_t)n);
    s->out_len -= (size_t)n;
    s->peer->queued -= (size_t)n;
  }
  int want = s->out_len > 0;
  if (want != s->writing) {
    s->writing = want;
    arm(s);
  }
  maybe_resume(s->peer);
}

static void deliver_due(void) {
  uint64_t now = now_ns();
  /* Group what falls due now per destination, then write each destination once. */
  struct side *touched[64];
  int ntouched = 0;
  while (head != NULL && head->due_ns <= now) {
    struct chunk *c = head;
    head = c->next;
    if (head == NULL) tail = NULL;
    struct conn *owner = c->to->conn;
    if (!owner->dead) {
      struct side *s = c->to;
      if (s->out_len + c->len > s->out_cap) {
        size_t cap = s->out_cap ? s->out_cap : 65536;
        while (cap < s->out_len + c->len) cap *= 2;
        s->out = realloc(s->out, cap);
        if (s->out == NULL) die("realloc");
        s->out_cap = cap;
      }
      memcpy(s->out + s->out_len, c->data, c->len);
      s->out_len += c->len;
      int seen = 0;
      for (int i = 0; i < ntouched; i++)
        if (touched[i] == s) seen = 1;
      if (!seen) {
        if (ntouched == 64) {
          for (int i = 0; i < ntouched; i++)
            if (!touched[i]->conn->dead) flush_out(touched[i]);
          ntouched = 0;
        }
        touched[ntouched++] = s;
      }
    }
    owner->refs--;
    free(c);
    release(owner);
  }
  for (int i = 0; i < ntouched; i++)
    if (!touched[i]->conn->dead) flush_out(touched[i]);
}

static void on_readable(struct side *s) {
  for (;;) {
    ssize_t n = read(s->fd, readbuf, READ_SIZE);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      kill_conn(s->conn);
      return;
    }
    if (n == 0) {
      /* A close on either side ends the connection (memcached clients never half-close). */
      kill_conn(s->conn);
      return;
    }
    struct chunk *c = malloc(sizeof *c + (size_t)n);
    if (c == NULL) die("malloc");
    memcpy(c->data, readbuf, (size_t)n);
    c->len = (size_t)n;
    c->to = s->peer;
    c->from = s;
    c->due_ns = now_ns() + delay_ns;
    c->next = NULL;
    if (tail) tail->next = c;
    else head = c;
    tail = c;
    s->conn->refs++;
    s->queued += (size_t)n;
    if (!timer_armed_for_head) arm_timer();
    if (s->queued >= HIGH_WATER) {
      s->reading = 0;
      arm(s);
      return;
    }
    if ((size_t)n < READ_SIZE) return;
  }
}

static void on_accept(struct listener *l) {
  for (;;) {
    int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK);
    if (cfd < 0) return;
    int sfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (sfd < 0) die("socket");
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)l->target_port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(sfd, (struct sockaddr *)&to, sizeof to) < 0 && errno != EINPROGRESS) {
      close(cfd);
      close(sfd);
      continue;
    }
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) die("calloc");
    c->a.kind = c->b.kind = K_SIDE;
    c->a.fd = cfd;
    c->b.fd = sfd;
    c->a.conn = c->b.conn = c;
    c->a.peer = &c->b;
    c->b.peer = &c->a;
    c->a.reading = c->b.reading = 1;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = &c->a;
    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
    ev.data.ptr = &c->b;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
  }
}

int main(int argc, char **argv) {
  if (argc < 3 || argc - 2 > MAX_TARGETS) {
    fprintf(stderr, "usage: latency-proxy <one-way delay µs> <target port>... (at most %d)\n", MAX_TARGETS);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  /* The default 50 µs timer slack would add up to a tenth of the delay to every chunk. */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  delay_ns = (uint64_t)strtoull(argv[1], NULL, 10) * 1000ull;
  readbuf = malloc(READ_SIZE);
  ep = epoll_create1(0);
  tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  if (ep < 0 || tfd < 0 || readbuf == NULL) die("setup");
  static enum kind timer_kind = K_TIMER, stdin_kind = K_STDIN;
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.ptr = &timer_kind;
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  ev.data.ptr = &stdin_kind;
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);

  static struct listener listeners[MAX_TARGETS];
  for (int i = 2; i < argc; i++) {
    struct listener *l = &listeners[i - 2];
    l->kind = K_LISTEN;
    l->target_port = atoi(argv[i]);
    l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (l->fd < 0) die("socket");
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l->fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l->fd, 128) < 0) die("listen");
    socklen_t len = sizeof addr;
    getsockname(l->fd, (struct sockaddr *)&addr, &len);
    printf("%d\n", ntohs(addr.sin_port));
    ev.data.ptr = l;
    epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &ev);
  }
  fflush(stdout);

  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      enum kind k = *(enum kind *)events[i].data.ptr;
      if (k == K_TIMER) {
        uint64_t expirations;
        ssize_t r = read(tfd, &expirations, sizeof expirations);
        (void)r;
        timer_armed_for_head = 0;
        deliver_due();
        if (head != NULL) arm_timer();
      } else if (k == K_STDIN) {
        char b[64];
        ssize_t r = read(0, b, sizeof b);
        if (r <= 0) return 0;
      } else if (k == K_LISTEN) {
        on_accept((struct listener *)events[i].data.ptr);
      } else {
        struct side *s = (struct side *)events[i].data.ptr;
        if (s->conn->dead) continue;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) {
          if (!(events[i].events & EPOLLIN)) {
            kill_conn(s->conn);
            continue;
          }
        }
        if (events[i].events & EPOLLOUT) flush_out(s);
        if (!s->conn->dead && (events[i].events & EPOLLIN)) on_readable(s);
      }
    }
    bury();
  }
}
