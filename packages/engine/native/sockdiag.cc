// NETLINK_SOCK_DIAG for AF_UNIX: every unix socket of the caller's network namespace with its
// name, peer, pending connections, queue lengths and shutdown state.
#include "common.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace ckpt {
namespace {

Napi::Value UnixDiag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return ThrowErrno(env, "socket(NETLINK_SOCK_DIAG)");
  struct {
    nlmsghdr hdr;
    unix_diag_req req;
  } msg;
  memset(&msg, 0, sizeof(msg));
  msg.hdr.nlmsg_len = sizeof(msg);
  msg.hdr.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.hdr.nlmsg_seq = 1;
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = 0xffffffff;
  msg.req.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof(sa));
  sa.nl_family = AF_NETLINK;
  if (sendto(nl, &msg, sizeof(msg), 0, (sockaddr*)&sa, sizeof(sa)) < 0) {
    int e = errno;
    close(nl);
    return ThrowErrno(env, "sendto(sock_diag)", e);
  }
  Napi::Array out = Napi::Array::New(env);
  std::vector<char> buf(1 << 16);
  bool done = false;
  while (!done) {
    ssize_t n = recv(nl, buf.data(), buf.size(), 0);
    if (n < 0) {
      int e = errno;
      close(nl);
      return ThrowErrno(env, "recv(sock_diag)", e);
    }
    for (nlmsghdr* h = (nlmsghdr*)buf.data(); NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        nlmsgerr* err = (nlmsgerr*)NLMSG_DATA(h);
        close(nl);
        return ThrowErrno(env, "sock_diag", -err->error);
      }
      unix_diag_msg* m = (unix_diag_msg*)NLMSG_DATA(h);
      Napi::Object o = Napi::Object::New(env);
      o.Set("ino", (double)m->udiag_ino);
      o.Set("type", m->udiag_type);
      o.Set("state", m->udiag_state);
      o.Set("peer", 0);
      o.Set("shutdown", 0);
      int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
      for (rtattr* a = (rtattr*)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        void* d = RTA_DATA(a);
        size_t dl = RTA_PAYLOAD(a);
        switch (a->rta_type) {
          case UNIX_DIAG_NAME:
            o.Set("name", Napi::Buffer<char>::Copy(env, (char*)d, dl));
            break;
          case UNIX_DIAG_VFS: {
            unix_diag_vfs* v = (unix_diag_vfs*)d;
            o.Set("vfsIno", (double)v->udiag_vfs_ino);
            o.Set("vfsDev", (double)v->udiag_vfs_dev);
            break;
          }
          case UNIX_DIAG_PEER:
            o.Set("peer", (double)*(uint32_t*)d);
            break;
          case UNIX_DIAG_ICONS: {
            Napi::Array ic = Napi::Array::New(env);
            for (size_t i = 0; i < dl / 4; i++) ic.Set((uint32_t)i, (double)((uint32_t*)d)[i]);
            o.Set("icons", ic);
            break;
          }
          case UNIX_DIAG_RQLEN: {
            unix_diag_rqlen* q = (unix_diag_rqlen*)d;
            o.Set("rqueue", (double)q->udiag_rqueue);
            o.Set("wqueue", (double)q->udiag_wqueue);
            break;
          }
          case UNIX_DIAG_SHUTDOWN:
            o.Set("shutdown", *(uint8_t*)d);
            break;
        }
      }
      out.Set(out.Length(), o);
    }
  }
  close(nl);
  return out;
}

}  // namespace

void InitSockDiag(Napi::Env env, Napi::Object exports) { exports.Set("unixDiag", Napi::Function::New(env, UnixDiag)); }

}  // namespace ckpt
