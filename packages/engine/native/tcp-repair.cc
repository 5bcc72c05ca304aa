// TCP_REPAIR on the dump side (what CRIU's libsoccr reads for tcp-stream-INO.img): a socket of the tree,
// taken into this process, is put in repair mode and everything needed to rebuild the connection is read:
// sequence numbers and the bytes of both queues (TCP_REPAIR_QUEUE + TCP_QUEUE_SEQ + recv(MSG_PEEK)), the
// unsent part of the send queue (SIOCOUTQNSD), MSS clamp, negotiated options (TCP_INFO: window scales,
// timestamps, SACK), the timestamp clock and the window (TCP_REPAIR_WINDOW). Nothing is consumed: a
// socket left running afterwards (repair off) goes on as before. The restore side is C, in the helper
// (native/restore/kinds/tcp-stream.c).
#include "common.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#ifndef SIOCOUTQNSD
#define SIOCOUTQNSD 0x894B
#endif

namespace ckpt {
namespace {

// states whose FIN (ours) is counted in the send queue and sequence: not data (as libsoccr)
constexpr int kSndqFin = (1 << TCP_FIN_WAIT1) | (1 << TCP_FIN_WAIT2) | (1 << TCP_CLOSING) | (1 << TCP_LAST_ACK) | (1 << TCP_CLOSE);

// tcpRepair(fd, mode) -> 0 | -errno: mode 1 on, 0 off (sends a window probe), -1 off without the probe
Napi::Value TcpRepair(const Napi::CallbackInfo& info) {
  int v = (int)ArgInt(info, 1);
  int r = setsockopt((int)ArgInt(info, 0), SOL_TCP, TCP_REPAIR, &v, sizeof(v));
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}

// tcpResume(fd, reuseaddr) -> 0 | -errno: out of repair mode (a window probe tells the peer where we are),
// then SO_REUSEADDR as it was (leaving repair mode resets it)
Napi::Value TcpResume(const Napi::CallbackInfo& info) {
  int fd = (int)ArgInt(info, 0), off = 0, reuse = (int)ArgInt(info, 1);
  if (setsockopt(fd, SOL_TCP, TCP_REPAIR, &off, sizeof(off)) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse)) < 0)
    return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), 0);
}

// the queue's next sequence number (TCP_QUEUE_SEQ) and its len bytes, peeked: exactly len or an error
bool PeekQueue(int fd, int queue, uint32_t len, uint32_t* seq, std::vector<char>* out, const char** what) {
  socklen_t l = sizeof(queue);
  if (setsockopt(fd, SOL_TCP, TCP_REPAIR_QUEUE, &queue, l) < 0) return *what = "TCP_REPAIR_QUEUE", false;
  l = sizeof(*seq);
  if (getsockopt(fd, SOL_TCP, TCP_QUEUE_SEQ, seq, &l) < 0) return *what = "TCP_QUEUE_SEQ", false;
  out->resize((size_t)len + 1);
  if (!len) return true;
  // one byte more than expected proves the queue holds exactly len
  ssize_t r = recv(fd, out->data(), (size_t)len + 1, MSG_PEEK | MSG_DONTWAIT);
  if (r != (ssize_t)len) {
    if (r >= 0) errno = EBADMSG;
    return *what = queue == TCP_RECV_QUEUE ? "peek of the receive queue" : "peek of the send queue", false;
  }
  return true;
}

// tcpStreamState(fd) -> the connection's repair state; fd must be in repair mode. Throws naming the step.
//   { state, inqLen, inqSeq, outqLen, outqSeq, unsqLen, mssClamp, optMask, sndWscale, rcvWscale,
//     timestamp?, window?: { sndWl1, sndWnd, maxWindow, rcvWnd, rcvWup }, inq: Buffer, outq: Buffer }
// Lengths and sequence numbers as libsoccr_save gives them: the FIN of a half-closed socket is not data.
Napi::Value TcpStreamState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = (int)ArgInt(info, 0);
  struct tcp_info ti;
  socklen_t l = sizeof(ti);
  memset(&ti, 0, sizeof(ti));
  if (getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &l) < 0) return ThrowErrno(env, "TCP_INFO");
  uint32_t state = ti.tcpi_state;
  int outq = 0, unsq = 0, inq = 0;
  if (ioctl(fd, SIOCOUTQ, &outq) < 0) return ThrowErrno(env, "SIOCOUTQ");
  if (ioctl(fd, SIOCOUTQNSD, &unsq) < 0) return ThrowErrno(env, "SIOCOUTQNSD");
  if (state == TCP_CLOSE) outq = unsq = 0;  // reset: what is left cannot be read by anyone
  if ((1 << state) & kSndqFin) {
    if (outq) outq--;
    if (unsq) unsq--;
  }
  if (ioctl(fd, SIOCINQ, &inq) < 0) return ThrowErrno(env, "SIOCINQ");
  uint32_t mss = 0;
  l = sizeof(mss);
  if (getsockopt(fd, SOL_TCP, TCP_MAXSEG, &mss, &l) < 0) return ThrowErrno(env, "TCP_MAXSEG");
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", state);
  o.Set("mssClamp", mss);
  o.Set("optMask", (uint32_t)ti.tcpi_options);
  o.Set("sndWscale", (uint32_t)ti.tcpi_snd_wscale);
  o.Set("rcvWscale", (uint32_t)ti.tcpi_rcv_wscale);
  if (ti.tcpi_options & TCPI_OPT_TIMESTAMPS) {
    uint32_t ts = 0;
    l = sizeof(ts);
    if (getsockopt(fd, SOL_TCP, TCP_TIMESTAMP, &ts, &l) < 0) return ThrowErrno(env, "TCP_TIMESTAMP");
    o.Set("timestamp", ts);
  }
  struct tcp_repair_window w;
  l = sizeof(w);
  if (getsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &w, &l) == 0) {
    Napi::Object wo = Napi::Object::New(env);
    wo.Set("sndWl1", w.snd_wl1);
    wo.Set("sndWnd", w.snd_wnd);
    wo.Set("maxWindow", w.max_window);
    wo.Set("rcvWnd", w.rcv_wnd);
    wo.Set("rcvWup", w.rcv_wup);
    o.Set("window", wo);
  } else if (errno != ENOPROTOOPT) {
    return ThrowErrno(env, "TCP_REPAIR_WINDOW");
  }
  std::vector<char> rq, sq;
  uint32_t inqSeq = 0, outqSeq = 0;
  const char* what = "";
  if (!PeekQueue(fd, TCP_RECV_QUEUE, (uint32_t)inq, &inqSeq, &rq, &what) ||
      !PeekQueue(fd, TCP_SEND_QUEUE, (uint32_t)outq, &outqSeq, &sq, &what)) {
    int e = errno;
    int none = TCP_NO_QUEUE;
    setsockopt(fd, SOL_TCP, TCP_REPAIR_QUEUE, &none, sizeof(none));
    return ThrowErrno(env, what, e);
  }
  int none = TCP_NO_QUEUE;
  setsockopt(fd, SOL_TCP, TCP_REPAIR_QUEUE, &none, sizeof(none));
  o.Set("inqLen", (uint32_t)inq);
  o.Set("inqSeq", inqSeq);
  o.Set("outqLen", (uint32_t)outq);
  o.Set("outqSeq", outqSeq);
  o.Set("unsqLen", (uint32_t)unsq);
  o.Set("inq", Napi::Buffer<char>::Copy(env, rq.data(), (size_t)inq));
  o.Set("outq", Napi::Buffer<char>::Copy(env, sq.data(), (size_t)outq));
  return o;
}

}  // namespace

void InitTcpRepair(Napi::Env env, Napi::Object exports) {
  exports.Set("tcpRepair", Napi::Function::New(env, TcpRepair));
  exports.Set("tcpResume", Napi::Function::New(env, TcpResume));
  exports.Set("tcpStreamState", Napi::Function::New(env, TcpStreamState));
}

}  // namespace ckpt
