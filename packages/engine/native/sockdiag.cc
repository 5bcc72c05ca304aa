// NETLINK_SOCK_DIAG: every unix socket of the caller's network namespace with its name, peer, pending
// connections, queue lengths and shutdown state; the inet sockets of one family and protocol with their
// addresses, ports, state, queue lengths and shutdown state; every netlink socket with its port, peer and
// groups; every packet socket with its settings, multicast list, fanout and rings.
#include "common.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <linux/packet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <vector>

namespace ckpt {
namespace {

// Sends one dump request and calls each(message) for every answer. Returns the negative errno the kernel
// answered with (e.g. -ENOENT: no diag module for this family/protocol), or 0.
int DiagDump(const void* req, size_t len, const std::function<void(nlmsghdr*)>& each, std::string* failed) {
  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) {
    *failed = "socket(NETLINK_SOCK_DIAG)";
    return -errno;
  }
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof(sa));
  sa.nl_family = AF_NETLINK;
  if (sendto(nl, req, len, 0, (sockaddr*)&sa, sizeof(sa)) < 0) {
    int e = errno;
    close(nl);
    *failed = "sendto(sock_diag)";
    return -e;
  }
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = recv(nl, buf.data(), buf.size(), 0);
    if (n < 0) {
      int e = errno;
      close(nl);
      *failed = "recv(sock_diag)";
      return -e;
    }
    for (nlmsghdr* h = (nlmsghdr*)buf.data(); NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        close(nl);
        return 0;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        int e = ((nlmsgerr*)NLMSG_DATA(h))->error;
        close(nl);
        *failed = "sock_diag";
        return e < 0 ? e : -EIO;
      }
      each(h);
    }
  }
}

// One SOCK_DIAG_BY_FAMILY dump request for req (a family's *_diag_req). Each answer is a Msg and its
// attributes: fill(m, row) sets the row's fields, attr(a, row) those of each attribute. Returns the rows;
// when noDiagOk, -ENOENT as a number when the kernel has no diag for the family/protocol; else throws.
template <typename Msg, typename Req>
Napi::Value DiagRows(Napi::Env env, const Req& req, bool noDiagOk, const std::function<void(const Msg*, Napi::Object&)>& fill,
                     const std::function<void(const rtattr*, Napi::Object&)>& attr) {
  struct {
    nlmsghdr hdr;
    Req req;
  } msg;
  memset(&msg, 0, sizeof(msg));
  msg.hdr.nlmsg_len = sizeof(msg);
  msg.hdr.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.hdr.nlmsg_seq = 1;
  msg.req = req;
  Napi::Array out = Napi::Array::New(env);
  std::string failed;
  int r = DiagDump(&msg, sizeof(msg), [&](nlmsghdr* h) {
      const Msg* m = (const Msg*)NLMSG_DATA(h);
      Napi::Object o = Napi::Object::New(env);
      fill(m, o);
      int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
      for (rtattr* a = (rtattr*)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) attr(a, o);
      out.Set(out.Length(), o);
  }, &failed);
  if (r == -ENOENT && noDiagOk) return Napi::Number::New(env, r);
  if (r < 0) return ThrowErrno(env, failed, -r);
  return out;
}

Napi::Value UnixDiag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  unix_diag_req req{};
  req.sdiag_family = AF_UNIX;
  req.udiag_states = 0xffffffff;
  req.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;
  return DiagRows<unix_diag_msg>(env, req, false, [&](const unix_diag_msg* m, Napi::Object& o) {
      o.Set("ino", (double)m->udiag_ino);
      o.Set("type", m->udiag_type);
      o.Set("state", m->udiag_state);
      o.Set("peer", 0);
      o.Set("shutdown", 0);
  }, [&](const rtattr* a, Napi::Object& o) {
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
  });
}

// inetDiag(family, protocol, states) -> [{ino, state, sport, dport, src, dst, rqueue, wqueue, shutdown}] with
// src/dst the 16 bytes the kernel reports (an IPv4 address in the first 4), or -errno when the kernel has no
// diag for this family and protocol (ENOENT).
Napi::Value InetDiag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  inet_diag_req_v2 req{};
  req.sdiag_family = (uint8_t)ArgInt(info, 0);
  req.sdiag_protocol = (uint8_t)ArgInt(info, 1);
  req.idiag_states = (uint32_t)ArgU64(info, 2);
  return DiagRows<inet_diag_msg>(env, req, true, [&](const inet_diag_msg* m, Napi::Object& o) {
      o.Set("ino", (double)m->idiag_inode);
      o.Set("state", m->idiag_state);
      o.Set("sport", ntohs(m->id.idiag_sport));
      o.Set("dport", ntohs(m->id.idiag_dport));
      o.Set("src", Napi::Buffer<char>::Copy(env, (char*)m->id.idiag_src, 16));
      o.Set("dst", Napi::Buffer<char>::Copy(env, (char*)m->id.idiag_dst, 16));
      o.Set("rqueue", (double)m->idiag_rqueue);
      o.Set("wqueue", (double)m->idiag_wqueue);
  }, [&](const rtattr* a, Napi::Object& o) {
      if (a->rta_type == INET_DIAG_SHUTDOWN) o.Set("shutdown", *(uint8_t*)RTA_DATA(a));
  });
}

// netlinkDiag() -> [{ino, protocol, state, portid, dstPortid, dstGroup, groups: Buffer (the bitmap of bound
// groups, as the kernel's unsigned longs)}], or -errno when the kernel has no netlink diag (ENOENT).
Napi::Value NetlinkDiag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  netlink_diag_req req{};
  req.sdiag_family = AF_NETLINK;
  req.sdiag_protocol = NDIAG_PROTO_ALL;
  req.ndiag_show = NDIAG_SHOW_GROUPS;
  return DiagRows<netlink_diag_msg>(env, req, true, [&](const netlink_diag_msg* m, Napi::Object& o) {
      o.Set("ino", (double)m->ndiag_ino);
      o.Set("protocol", m->ndiag_protocol);
      o.Set("state", m->ndiag_state);
      o.Set("portid", (double)m->ndiag_portid);
      o.Set("dstPortid", (double)m->ndiag_dst_portid);
      o.Set("dstGroup", (double)m->ndiag_dst_group);
  }, [&](const rtattr* a, Napi::Object& o) {
      if (a->rta_type == NETLINK_DIAG_GROUPS) o.Set("groups", Napi::Buffer<char>::Copy(env, (char*)RTA_DATA(a), RTA_PAYLOAD(a)));
  });
}

static Napi::Object PacketRing(Napi::Env env, const packet_diag_ring* r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("blockSize", (double)r->pdr_block_size);
  o.Set("blockNr", (double)r->pdr_block_nr);
  o.Set("frameSize", (double)r->pdr_frame_size);
  o.Set("frameNr", (double)r->pdr_frame_nr);
  o.Set("retireTmo", (double)r->pdr_retire_tmo);
  o.Set("sizeofPriv", (double)r->pdr_sizeof_priv);
  o.Set("features", (double)r->pdr_features);
  return o;
}

// packetDiag() -> [{ino, type, num (the protocol, host order), info?: {index, version, reserve, copyThresh,
// tstamp, flags}, mclist?: [{index, count, type, addr}], fanout?, rx?, tx?: {blockSize, blockNr, frameSize,
// frameNr, retireTmo, sizeofPriv, features}}], or -errno when the kernel has no packet diag (ENOENT).
Napi::Value PacketDiag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  packet_diag_req req{};
  req.sdiag_family = AF_PACKET;
  req.pdiag_show = PACKET_SHOW_INFO | PACKET_SHOW_MCLIST | PACKET_SHOW_FANOUT | PACKET_SHOW_RING_CFG;
  return DiagRows<packet_diag_msg>(env, req, true, [&](const packet_diag_msg* m, Napi::Object& o) {
      o.Set("ino", (double)m->pdiag_ino);
      o.Set("type", m->pdiag_type);
      o.Set("num", m->pdiag_num);
  }, [&](const rtattr* a, Napi::Object& o) {
      void* d = RTA_DATA(a);
      size_t dl = RTA_PAYLOAD(a);
      switch (a->rta_type) {
        case PACKET_DIAG_INFO: {
          if (dl < sizeof(packet_diag_info)) break;
          packet_diag_info* i = (packet_diag_info*)d;
          Napi::Object x = Napi::Object::New(env);
          x.Set("index", (double)i->pdi_index);
          x.Set("version", (double)i->pdi_version);
          x.Set("reserve", (double)i->pdi_reserve);
          x.Set("copyThresh", (double)i->pdi_copy_thresh);
          x.Set("tstamp", (double)i->pdi_tstamp);
          x.Set("flags", (double)i->pdi_flags);
          o.Set("info", x);
          break;
        }
        case PACKET_DIAG_MCLIST: {
          Napi::Array ml = Napi::Array::New(env);
          for (size_t k = 0; k < dl / sizeof(packet_diag_mclist); k++) {
            packet_diag_mclist* c = (packet_diag_mclist*)d + k;
            Napi::Object x = Napi::Object::New(env);
            x.Set("index", (double)c->pdmc_index);
            x.Set("count", (double)c->pdmc_count);
            x.Set("type", (double)c->pdmc_type);
            size_t al = c->pdmc_alen < sizeof(c->pdmc_addr) ? c->pdmc_alen : sizeof(c->pdmc_addr);
            x.Set("addr", Napi::Buffer<char>::Copy(env, (char*)c->pdmc_addr, al));
            ml.Set((uint32_t)k, x);
          }
          o.Set("mclist", ml);
          break;
        }
        case PACKET_DIAG_FANOUT:
          if (dl >= 4) o.Set("fanout", (double)*(uint32_t*)d);
          break;
        case PACKET_DIAG_RX_RING:
        case PACKET_DIAG_TX_RING:
          if (dl >= sizeof(packet_diag_ring))
            o.Set(a->rta_type == PACKET_DIAG_RX_RING ? "rx" : "tx", PacketRing(env, (packet_diag_ring*)d));
          break;
      }
  });
}

}  // namespace

void InitSockDiag(Napi::Env env, Napi::Object exports) {
  exports.Set("unixDiag", Napi::Function::New(env, UnixDiag));
  exports.Set("inetDiag", Napi::Function::New(env, InetDiag));
  exports.Set("netlinkDiag", Napi::Function::New(env, NetlinkDiag));
  exports.Set("packetDiag", Napi::Function::New(env, PacketDiag));
}

}  // namespace ckpt
