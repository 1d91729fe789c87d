// The loading process's end of a demux helper process: one exchange of messages
// over a Unix SOCK_SEQPACKET socket, done whole with the GIL released, so that a
// load waits for its packets without taking the GIL in between.
//
// On the main thread a wait ends with what Python's signal handler raised
// (KeyboardInterrupt: Ctrl-C; python_signals.h); the caller kills the helper.
//
// Messages to the helper: a request (the caller's text, with the source's bytes
// in a sealed memfd when it is in memory), "N" to demux a stream's next item, or
// "S" to end a stream early (the helper then waits for a request again).
// Messages from the helper: "A" as soon as it has read a request (not "N"/"S"),
// then "I<text>" with a memfd of packed Packets
// (packet_import.h), "X<text>" for a failure the caller reports, or "E" after
// the last item of a stream that the helper sends without being asked ("audio").
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cancel.h"
#include "packets.h"

namespace spdl {

struct HelperReply {
  enum class Kind {
    Item,       // packets, and the helper's text about them
    End,        // a stream's items are all sent
    Error,      // the helper's text describes a failure of the request
    Closed,     // the helper is gone (it died, or closed its end)
    Cancelled,  // the token was set before the reply came; the helper is mid-request
    Broken,     // the reply was not what the protocol allows (text says why)
    TimedOut,   // (drain_reply) no reply came in time; the helper is still busy
    NoMemory,   // an item came, but this process had no memory to hold it (text says
                // why); it was dropped, and the helper is fine
    Unread,     // the helper was gone before it read the request ("A"): it died idle,
                // and the request may be sent to another
  };
  Kind kind = Kind::Closed;
  std::string text;
  std::vector<std::unique_ptr<Packets>> packets;
};

const char* to_string(HelperReply::Kind kind);

// Sends `request` (with `data` in a memfd unless null) and waits for the reply.
// `ask_next`: the request is a stream with more items to come; after this one
// arrives the next is asked for at once ("N"), so the helper demuxes it while
// the caller uses this one.
HelperReply call_helper(int sock, std::string_view request, const uint8_t* data, size_t size,
                        bool ask_next, const CancelToken* cancel);
// Waits for the stream item asked for last (and asks for the one after when `ask_next`).
HelperReply next_from_helper(int sock, bool ask_next, const CancelToken* cancel);
// Hands the packets of each item of a stream to `take` as they arrive, until the
// stream ends; returns the reply that ended it (End, or what went wrong).
HelperReply receive_until_end(
    int sock, const std::function<void(std::vector<std::unique_ptr<Packets>>&)>& take,
    const CancelToken* cancel);
// Waits at most `timeout_ms` for the reply the helper owes (the load that asked
// for it left early) and drops it unread; with `until_end`, every item up to the
// stream's end ("audio"). Returns what ended the wait: Item (`until_end` false),
// End or Error (the helper is back to waiting for a request or for "N"/"S"),
// Closed, Broken or TimedOut. Python's signal handlers are not run meanwhile.
HelperReply::Kind drain_reply(int sock, int timeout_ms, bool until_end);

}  // namespace spdl
