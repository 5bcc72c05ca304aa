// A network namespace's own state for its dump and restore (src/netns.ts, as CRIU 4.2's net.c): the calling
// thread entering and leaving a namespace (network namespaces are per thread: the sockets, /proc/sys/net files
// and child processes the thread makes meanwhile belong to it), a new namespace held by an fd, its links read
// and set through rtnetlink.
#include "common.h"

#include <linux/if_link.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <fcntl.h>
#include <net/if.h>
#include <unistd.h>
#include <vector>
#include <sched.h>
#include <sys/socket.h>

namespace ckpt {
namespace {

Napi::Value Neg(Napi::Env env, int e) { return Napi::Number::New(env, -e); }

// netnsEnter(path) -> an fd on the thread's namespace before (for netnsReturn), or -errno
Napi::Value NetnsEnter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own < 0) return Neg(env, errno);
  int ns = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) { int e = errno; close(own); return Neg(env, e); }
  if (setns(ns, CLONE_NEWNET) < 0) { int e = errno; close(ns); close(own); return Neg(env, e); }
  close(ns);
  return Napi::Number::New(env, own);
}

// netnsReturn(fd): back to the namespace of fd (from netnsEnter), which is closed. Staying in the dumped
// tree's namespace would put every later socket and child of ckpt there: abort instead.
Napi::Value NetnsReturn(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (setns(fd, CLONE_NEWNET) < 0) abort();
  close(fd);
  return info.Env().Undefined();
}

// netnsCreate() -> an fd holding a new network namespace (the thread stays in its own), or -errno
Napi::Value NetnsCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own < 0) return Neg(env, errno);
  if (unshare(CLONE_NEWNET) < 0) { int e = errno; close(own); return Neg(env, e); }
  int made = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int e = errno;
  if (setns(own, CLONE_NEWNET) < 0) abort();
  close(own);
  return made < 0 ? Neg(env, e) : Napi::Number::New(env, made);
}

// one request on a NETLINK_ROUTE socket of the thread's namespace; each answer message to cb. 0 or -errno.
template <typename F>
int nlTalk(int proto, void* req, size_t len, F cb) {
  int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
  if (sk < 0) return -errno;
  struct sockaddr_nl sa = {};
  sa.nl_family = AF_NETLINK;
  if (sendto(sk, req, len, 0, (struct sockaddr*)&sa, sizeof(sa)) < 0) { int e = errno; close(sk); return -e; }
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = recv(sk, buf.data(), buf.size(), 0);
    if (n < 0) { if (errno == EINTR) continue; int e = errno; close(sk); return -e; }
    for (struct nlmsghdr* h = (struct nlmsghdr*)buf.data(); NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) { close(sk); return 0; }
      if (h->nlmsg_type == NLMSG_ERROR) {
        int e = ((struct nlmsgerr*)NLMSG_DATA(h))->error;
        close(sk);
        return e;  // 0: the ACK of a request
      }
      cb(h);
    }
  }
}

std::string attrStr(struct rtattr* a) { return std::string((const char*)RTA_DATA(a), strnlen((const char*)RTA_DATA(a), RTA_PAYLOAD(a))); }
uint32_t attrU32(struct rtattr* a) { uint32_t v; memcpy(&v, RTA_DATA(a), 4); return v; }

// rtnlLinks() -> the links of the thread's namespace: { index, type (ARPHRD_*), flags, mtu, name, kind
// ('' if none), link (IFLA_LINK, or -1), linkNetnsid (IFLA_LINK_NETNSID, or -1), master (or 0), address (Buffer or
// undefined) }, or -errno
Napi::Value RtnlLinks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct { struct nlmsghdr h; struct ifinfomsg i; } req = {};
  req.h.nlmsg_len = sizeof(req);
  req.h.nlmsg_type = RTM_GETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = 1;
  req.i.ifi_family = AF_UNSPEC;
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  int r = nlTalk(NETLINK_ROUTE, &req, sizeof(req), [&](struct nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWLINK) return;
    struct ifinfomsg* ifi = (struct ifinfomsg*)NLMSG_DATA(h);
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", ifi->ifi_index);
    o.Set("type", ifi->ifi_type);
    o.Set("flags", (double)ifi->ifi_flags);
    o.Set("kind", "");
    o.Set("link", -1);
    o.Set("linkNetnsid", -1);
    o.Set("master", 0);
    int len = IFLA_PAYLOAD(h);
    for (struct rtattr* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      switch (a->rta_type) {
        case IFLA_IFNAME: o.Set("name", attrStr(a)); break;
        case IFLA_MTU: o.Set("mtu", (double)attrU32(a)); break;
        case IFLA_LINK: o.Set("link", (double)attrU32(a)); break;
        case IFLA_LINK_NETNSID: o.Set("linkNetnsid", (double)(int32_t)attrU32(a)); break;
        case IFLA_MASTER: o.Set("master", (double)attrU32(a)); break;
        case IFLA_ADDRESS: o.Set("address", Napi::Buffer<char>::Copy(env, (const char*)RTA_DATA(a), RTA_PAYLOAD(a))); break;
        case IFLA_LINKINFO: {
          int l2 = RTA_PAYLOAD(a);
          for (struct rtattr* b = (struct rtattr*)RTA_DATA(a); RTA_OK(b, l2); b = RTA_NEXT(b, l2))
            if (b->rta_type == IFLA_INFO_KIND) o.Set("kind", attrStr(b));
          break;
        }
      }
    }
    out.Set(k++, o);
  });
  if (r < 0) return Neg(env, -r);
  return out;
}

// rtnlSetLink(index, flags, mtu) -> 0 or -errno: RTM_SETLINK of the thread's namespace (criu's restore_link_parms)
Napi::Value RtnlSetLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct { struct nlmsghdr h; struct ifinfomsg i; char attrs[64]; } req = {};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.i));
  req.h.nlmsg_type = RTM_SETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.h.nlmsg_seq = 1;
  req.i.ifi_family = AF_UNSPEC;
  req.i.ifi_index = info[0].As<Napi::Number>().Int32Value();
  req.i.ifi_flags = info[1].As<Napi::Number>().Uint32Value();
  req.i.ifi_change = 0xffffffff;
  uint32_t mtu = info[2].As<Napi::Number>().Uint32Value();
  struct rtattr* a = (struct rtattr*)((char*)&req + NLMSG_ALIGN(req.h.nlmsg_len));
  a->rta_type = IFLA_MTU;
  a->rta_len = RTA_LENGTH(4);
  memcpy(RTA_DATA(a), &mtu, 4);
  req.h.nlmsg_len = NLMSG_ALIGN(req.h.nlmsg_len) + RTA_ALIGN(a->rta_len);
  int r = nlTalk(NETLINK_ROUTE, &req, req.h.nlmsg_len, [](struct nlmsghdr*) {});
  return Napi::Number::New(env, r);
}

// nfctDump() -> the conntrack table of the thread's namespace: the NETLINK_NETFILTER dump's messages as they came
// (criu's dump_nf_ct: netns-ct-N.img, and netns-exp-N.img, which criu fills with the same request), or -errno
Napi::Value NfctDump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct { struct nlmsghdr h; struct nfgenmsg g; } req = {};
  req.h.nlmsg_len = sizeof(req);
  req.h.nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = 24680;  // criu's CR_NLMSG_SEQ: the messages keep it, and criu's restore waits for its ACK by it
  req.g.nfgen_family = AF_UNSPEC;
  std::string out;
  int r = nlTalk(NETLINK_NETFILTER, &req, sizeof(req), [&](struct nlmsghdr* h) { out.append((const char*)h, h->nlmsg_len); });
  if (r < 0) return Neg(env, -r);
  return Napi::Buffer<char>::Copy(env, out.data(), out.size());
}

// the attribute of type t among those in [a, a+len), or null
struct nlattr* findAttr(struct nlattr* a, int len, int t) {
  for (; len >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= len; len -= NLA_ALIGN(a->nla_len), a = (struct nlattr*)((char*)a + NLA_ALIGN(a->nla_len)))
    if ((a->nla_type & NLA_TYPE_MASK) == t) return a;
  return nullptr;
}

// nfctRestore(buf) -> 0, or -errno naming nothing (the caller names the image): each message of a netns-ct image sent
// back with NLM_F_CREATE, a TCP entry made liberal both ways as criu's ct_restore_callback (the restored connection's
// window is not the one conntrack saw)
Napi::Value NfctRestore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<char> b = info[0].As<Napi::Buffer<char>>();
  std::vector<char> buf(b.Data(), b.Data() + b.Length());
  size_t off = 0;
  while (off + sizeof(struct nlmsghdr) <= buf.size()) {
    struct nlmsghdr* h = (struct nlmsghdr*)(buf.data() + off);
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)) || off + h->nlmsg_len > buf.size()) return Neg(env, EINVAL);
    struct nfgenmsg* g = (struct nfgenmsg*)NLMSG_DATA(h);
    if (g->nfgen_family == AF_INET || g->nfgen_family == AF_INET6) {
      int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*g));
      struct nlattr* pi = findAttr((struct nlattr*)((char*)g + NLMSG_ALIGN(sizeof(*g))), len, CTA_PROTOINFO);
      struct nlattr* tcp = pi ? findAttr((struct nlattr*)((char*)pi + NLA_HDRLEN), pi->nla_len - NLA_HDRLEN, CTA_PROTOINFO_TCP) : nullptr;
      for (int t : { CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, CTA_PROTOINFO_TCP_FLAGS_REPLY }) {
        struct nlattr* f = tcp ? findAttr((struct nlattr*)((char*)tcp + NLA_HDRLEN), tcp->nla_len - NLA_HDRLEN, t) : nullptr;
        if (!f || f->nla_len < NLA_HDRLEN + sizeof(struct nf_ct_tcp_flags)) continue;
        struct nf_ct_tcp_flags* fl = (struct nf_ct_tcp_flags*)((char*)f + NLA_HDRLEN);
        fl->flags |= IP_CT_TCP_FLAG_BE_LIBERAL;
        fl->mask |= IP_CT_TCP_FLAG_BE_LIBERAL;
      }
    }
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
    int r = nlTalk(NETLINK_NETFILTER, h, h->nlmsg_len, [](struct nlmsghdr*) {});
    if (r < 0) return Neg(env, -r);
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  return Napi::Number::New(env, off == buf.size() ? 0 : -EINVAL);
}

}  // namespace

void InitRtnl(Napi::Env env, Napi::Object exports) {
  exports.Set("netnsEnter", Napi::Function::New(env, NetnsEnter));
  exports.Set("netnsReturn", Napi::Function::New(env, NetnsReturn));
  exports.Set("netnsCreate", Napi::Function::New(env, NetnsCreate));
  exports.Set("rtnlLinks", Napi::Function::New(env, RtnlLinks));
  exports.Set("rtnlSetLink", Napi::Function::New(env, RtnlSetLink));
  exports.Set("nfctDump", Napi::Function::New(env, NfctDump));
  exports.Set("nfctRestore", Napi::Function::New(env, NfctRestore));
}

}  // namespace ckpt
