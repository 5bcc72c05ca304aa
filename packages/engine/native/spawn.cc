// Starting the restore helper as ckpt's sibling (criu's --restore-sibling): clone3 with CLONE_PARENT makes it a
// child of ckpt's parent, so that the tree it restores with CLONE_PARENT is that parent's child too. ckpt is not
// its parent: it waits on a pidfd for it to end and reads its output from files.
#include "common.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

namespace ckpt {
namespace {

std::vector<std::string> Strings(const Napi::Value& v) {
  std::vector<std::string> out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

// spawnSibling(path, argv, env, stdin, stdout, stderr, keep) -> pidfd | -errno. The child gets the three fds as 0,
// 1, 2 and the fds of keep at their numbers (Node makes the fds it inherited close-on-exec: cleared in the child).
Napi::Value SpawnSibling(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::vector<std::string> args = Strings(info[1]), envs = Strings(info[2]);
  int fds[3] = {(int)ArgInt(info, 3), (int)ArgInt(info, 4), (int)ArgInt(info, 5)};
  std::vector<int> keep;
  Napi::Array k = info[6].As<Napi::Array>();
  for (uint32_t i = 0; i < k.Length(); i++) keep.push_back(k.Get(i).As<Napi::Number>().Int32Value());
  // everything the child touches is ready before the clone: it only dups and execs
  std::vector<char*> argv, envp;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  int pidfd = -1;
  struct clone_args ca;
  memset(&ca, 0, sizeof(ca));
  ca.flags = CLONE_PARENT | CLONE_PIDFD;
  ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
  long r = syscall(SYS_clone3, &ca, sizeof(ca));
  if (r == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // out of 0..2 first, so that no dup2 below overwrites an fd still to be dup2ed
    int hi[3];
    for (int i = 0; i < 3; i++) hi[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    for (int i = 0; i < 3; i++)
      if (hi[i] < 0 || dup2(hi[i], i) < 0) syscall(SYS_exit_group, 127);
    for (int fd : keep)
      if (fcntl(fd, F_SETFD, 0) < 0) syscall(SYS_exit_group, 127);
    execve(path.c_str(), argv.data(), envp.data());
    syscall(SYS_exit_group, 127);
  }
  if (r < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), pidfd);
}

// pollExit(pidfd, timeoutMs) -> 1 the process ended, 0 not within timeoutMs, -errno
Napi::Value PollExit(const Napi::CallbackInfo& info) {
  struct pollfd p = {(int)ArgInt(info, 0), POLLIN, 0};
  int r;
  do r = poll(&p, 1, (int)ArgInt(info, 1));
  while (r < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : r > 0 ? 1 : 0);
}

}  // namespace

// pipe() -> [read end, write end] (both close-on-exec) | -errno: a channel to a child whose writes are synchronous
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return Napi::Number::New(env, -errno);
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, fds[0]);
  a.Set(1u, fds[1]);
  return a;
}

void InitSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe));
  exports.Set("spawnSibling", Napi::Function::New(env, SpawnSibling));
  exports.Set("pollExit", Napi::Function::New(env, PollExit));
}

}  // namespace ckpt
