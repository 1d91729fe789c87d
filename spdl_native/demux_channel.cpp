#include "demux_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <stdexcept>

#include "packet_import.h"
#include "posix/fd.h"
#include "python_signals.h"

namespace spdl {

const char* to_string(HelperReply::Kind kind) {
  switch (kind) {
    case HelperReply::Kind::Item:
      return "item";
    case HelperReply::Kind::End:
      return "end";
    case HelperReply::Kind::Error:
      return "error";
    case HelperReply::Kind::Closed:
      return "closed";
    case HelperReply::Kind::Cancelled:
      return "cancelled";
    case HelperReply::Kind::Broken:
      return "broken";
    case HelperReply::Kind::TimedOut:
      return "timed_out";
    case HelperReply::Kind::NoMemory:
      return "no_memory";
    case HelperReply::Kind::Unread:
      return "unread";
  }
  return "broken";
}

#ifdef __linux__

namespace {

// How often a wait looks at its cancel token.
constexpr int kCancelPollMs = 20;
constexpr size_t kMaxFds = 4;  // a reply carries one; more are closed and refused

bool peer_gone(int err) { return err == EPIPE || err == ECONNRESET || err == ENOTCONN; }

// Sends one message, with `fd` attached unless negative. False when the helper is gone.
bool send_message(int sock, std::string_view message, int fd) {
  iovec iov{const_cast<char*>(message.data()), message.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  }
  while (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
    if (errno == EINTR) {
      check_python_signals();  // Ctrl-C ends the wait (the caller kills the helper)
      continue;
    }
    if (peer_gone(errno)) {
      return false;
    }
    throw posix::system_error("sending a request to a demux helper failed");
  }
  return true;
}

// The source's bytes in a sealed memfd: the helper maps them instead of a copy
// travelling through the socket.
posix::UniqueFd data_memfd(const uint8_t* data, size_t size) {
  posix::UniqueFd fd(::memfd_create("spdl-source", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) {
    throw posix::system_error("memfd_create failed");
  }
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::pwrite(fd.get(), data + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      throw posix::system_error("writing the source to a memfd failed");
    }
    done += static_cast<size_t>(n);
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    throw posix::system_error("sealing the source's memfd failed");
  }
  return fd;
}

// Waits until the socket has a message (or hung up); false when cancelled first.
// On the main thread a signal ends the wait with what Python's handler raised
// (KeyboardInterrupt); the caller then kills the helper, which is mid-request.
bool wait_readable(int sock, const CancelToken* cancel) {
  pollfd pfd{sock, POLLIN, 0};
  const bool signals = on_signal_thread();
  const int timeout_ms = cancel ? kCancelPollMs : signals ? kSignalCheckMs : -1;
  int silent_ms = 0;
  while (true) {
    if (cancel && cancel->cancelled()) {
      return false;
    }
    const int n = ::poll(&pfd, 1, timeout_ms);
    if (n > 0) {
      return true;
    }
    if (n < 0 && errno != EINTR) {
      throw posix::system_error("waiting for a demux helper failed");
    }
    silent_ms += n == 0 ? timeout_ms : 0;
    if (signals && (n < 0 || silent_ms >= kSignalCheckMs)) {
      silent_ms = 0;
      check_python_signals();
    }
  }
}

// Retries a system call that a signal interrupted, giving Python's handlers their
// chance first on the main thread.
template <typename Call>
ssize_t retrying(Call call) {
  ssize_t result;
  while ((result = call()) < 0 && errno == EINTR) {
    check_python_signals();
  }
  return result;
}

HelperReply broken(std::string why) {
  HelperReply reply;
  reply.kind = HelperReply::Kind::Broken;
  reply.text = std::move(why);
  return reply;
}

// One message as it arrived, with the descriptors that came with it (closed with it).
struct Message {
  bool closed = false;     // none: the helper hung up
  bool truncated = false;  // larger than the protocol allows
  std::string bytes;
  std::vector<posix::UniqueFd> fds;
};

// Reads the message waiting on the socket (it blocks until one comes).
Message receive_message(int sock) {
  Message m;
  const ssize_t length = retrying([&] { return ::recv(sock, nullptr, 0, MSG_PEEK | MSG_TRUNC); });
  if (length <= 0) {  // 0: end of stream; the protocol has no empty message
    if (length < 0 && !peer_gone(errno)) {
      throw posix::system_error("reading from a demux helper failed");
    }
    m.closed = true;
    return m;
  }
  m.bytes.assign(static_cast<size_t>(length), '\0');
  iovec iov{m.bytes.data(), m.bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t got = retrying([&] { return ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); });
  if (got <= 0) {
    if (got < 0 && !peer_gone(errno)) {
      throw posix::system_error("reading from a demux helper failed");
    }
    m.closed = true;
    return m;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        m.fds.emplace_back(fd);
      }
    }
  }
  m.truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
  m.bytes.resize(static_cast<size_t>(got));
  return m;
}

// What a message is by the protocol (Broken for what it does not allow); its
// packets are not looked at.
HelperReply::Kind kind_of(const Message& m) {
  if (m.closed) {
    return HelperReply::Kind::Closed;
  }
  if (m.truncated) {
    return HelperReply::Kind::Broken;
  }
  if (m.bytes[0] == 'X' && m.fds.empty()) {
    return HelperReply::Kind::Error;
  }
  if (m.bytes == "E" && m.fds.empty()) {
    return HelperReply::Kind::End;
  }
  if (m.bytes[0] == 'I' && m.fds.size() == 1) {
    return HelperReply::Kind::Item;
  }
  return HelperReply::Kind::Broken;
}

bool is_taken(const Message& m) { return m.bytes == "A" && m.fds.empty(); }

// Receives a reply. `request_sent`: the first after a request, which the helper
// acknowledges first ("A"); a hang-up before that is Unread.
HelperReply receive(int sock, const CancelToken* cancel, bool request_sent = false) {
  HelperReply reply;
  bool taken = !request_sent;
  Message m;
  while (true) {
    if (!wait_readable(sock, cancel)) {
      reply.kind = HelperReply::Kind::Cancelled;
      return reply;
    }
    m = receive_message(sock);
    if (taken || !is_taken(m)) {
      break;
    }
    taken = true;
  }
  reply.kind = kind_of(m);
  if (reply.kind == HelperReply::Kind::Closed) {
    reply.kind = taken ? HelperReply::Kind::Closed : HelperReply::Kind::Unread;
    return reply;
  }
  if (m.truncated) {
    return broken("a reply of the demux helper was truncated");
  }
  if (reply.kind == HelperReply::Kind::Broken) {
    return broken("the demux helper sent a message the protocol does not allow");
  }
  reply.text = m.bytes.substr(1);
  if (reply.kind != HelperReply::Kind::Item) {
    return reply;
  }
  try {
    reply.packets = unpack_from_fd(m.fds[0].get());
  } catch (const LocalMemoryError& e) {  // this process's fault: the helper is fine
    reply.kind = HelperReply::Kind::NoMemory;
    reply.text = e.what();
  } catch (const std::bad_alloc&) {
    reply.kind = HelperReply::Kind::NoMemory;
    reply.text = "this process ran out of memory rebuilding the packets";
  } catch (const std::exception& e) {
    return broken(e.what());
  }
  return reply;
}

// Receives a reply; after an item, asks for the next one at once when `ask_next`,
// so that the helper demuxes it while the caller uses this one.
HelperReply receive_and_ask(int sock, const CancelToken* cancel, bool ask_next, bool request_sent) {
  HelperReply reply = receive(sock, cancel, request_sent);
  if (reply.kind == HelperReply::Kind::Item && ask_next) {
    send_message(sock, "N", -1);  // a helper gone by now shows at the next receive
  }
  return reply;
}

}  // namespace

HelperReply call_helper(int sock, std::string_view request, const uint8_t* data, size_t size,
                        bool ask_next, const CancelToken* cancel) {
  posix::UniqueFd source;
  if (data) {
    source = data_memfd(data, size);
  }
  if (!send_message(sock, request, source.get())) {
    HelperReply unread;
    unread.kind = HelperReply::Kind::Unread;
    return unread;
  }
  source.reset();  // the helper has its own descriptor now
  return receive_and_ask(sock, cancel, ask_next, true);
}

HelperReply next_from_helper(int sock, bool ask_next, const CancelToken* cancel) {
  return receive_and_ask(sock, cancel, ask_next, false);
}

HelperReply receive_until_end(
    int sock, const std::function<void(std::vector<std::unique_ptr<Packets>>&)>& take,
    const CancelToken* cancel) {
  while (true) {
    HelperReply reply = receive(sock, cancel);
    if (reply.kind != HelperReply::Kind::Item) {
      return reply;
    }
    take(reply.packets);
  }
}

HelperReply::Kind drain_reply(int sock, int timeout_ms, bool until_end) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return HelperReply::Kind::TimedOut;
    }
    pollfd pfd{sock, POLLIN, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) {
      continue;  // bounded anyway: Python's handlers run when this returns
    }
    if (n < 0) {
      throw posix::system_error("waiting for a demux helper failed");
    }
    if (n == 0) {
      return HelperReply::Kind::TimedOut;
    }
    // Dropped unread: the descriptor goes with the message, its block is never mapped.
    const Message m = receive_message(sock);
    if (is_taken(m)) {
      continue;  // the request's acknowledgement, when a cancel came before it
    }
    const HelperReply::Kind kind = kind_of(m);
    if (kind != HelperReply::Kind::Item || !until_end) {
      return kind;
    }
  }
}

#else

HelperReply call_helper(int, std::string_view, const uint8_t*, size_t, bool, const CancelToken*) {
  throw std::runtime_error("demux helper processes need Linux");
}

HelperReply next_from_helper(int, bool, const CancelToken*) {
  throw std::runtime_error("demux helper processes need Linux");
}

HelperReply receive_until_end(int,
                              const std::function<void(std::vector<std::unique_ptr<Packets>>&)>&,
                              const CancelToken*) {
  throw std::runtime_error("demux helper processes need Linux");
}

HelperReply::Kind drain_reply(int, int, bool) {
  throw std::runtime_error("demux helper processes need Linux");
}

#endif

}  // namespace spdl
