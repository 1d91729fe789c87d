#include "packet_import.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "posix/fd.h"

namespace spdl {
namespace {

constexpr char kMagic[8] = {'S', 'P', 'D', 'L', 'P', 'K', 'T', '1'};

// The two passes of packing: one counts the bytes, the other writes them.
class Counter {
 public:
  void put(const void*, size_t n) { size += n; }
  size_t size = 0;
};

class Writer {
 public:
  Writer(uint8_t* dst, size_t size) : p_(dst), end_(dst + size) {}
  void put(const void* src, size_t n) {
    if (n > static_cast<size_t>(end_ - p_)) {
      throw std::logic_error("packed block larger than counted");
    }
    if (n) {
      std::memcpy(p_, src, n);
    }
    p_ += n;
  }

 private:
  uint8_t* p_;
  uint8_t* const end_;
};

template <typename T, typename Sink>
void put(Sink& sink, T value) {
  sink.put(&value, sizeof(value));
}

template <typename Sink>
void put_bytes(Sink& sink, const void* data, size_t size) {
  if (size > UINT32_MAX) {
    throw std::length_error("a packet or field over 4 GiB cannot be packed");
  }
  put<uint32_t>(sink, static_cast<uint32_t>(size));
  sink.put(data, size);
}

template <typename Sink>
void put_string(Sink& sink, const std::string& s) {
  put_bytes(sink, s.data(), s.size());
}

template <typename Sink>
void put_params(Sink& sink, const CodecParams& p) {
  put_string(sink, p.codec_name);
  put_string(sink, p.extradata);
  put<int64_t>(sink, p.bit_rate);
  for (int v :
       {p.bits_per_coded_sample, p.block_align, p.frame_size, p.profile, p.level, p.width, p.height,
        p.sample_aspect_ratio.first, p.sample_aspect_ratio.second, p.sample_rate, p.num_channels}) {
    put<int32_t>(sink, v);
  }
  for (const std::string* s : {&p.pix_fmt, &p.color_space, &p.color_range, &p.channel_layout,
                               &p.channel_names, &p.sample_fmt}) {
    put_string(sink, *s);
  }
}

// Side data travels by FFmpeg's name for its type, as it arrives from PyAV.
template <typename Sink>
void put_side_data(Sink& sink, const AVPacket& packet) {
  uint32_t named = 0;
  for (int i = 0; i < packet.side_data_elems; ++i) {
    named += av_packet_side_data_name(packet.side_data[i].type) != nullptr;
  }
  put<uint32_t>(sink, named);
  for (int i = 0; i < packet.side_data_elems; ++i) {
    const AVPacketSideData& side = packet.side_data[i];
    if (const char* name = av_packet_side_data_name(side.type)) {
      put_string(sink, name);
      put_bytes(sink, side.data, side.size);
    }
  }
}

template <typename Sink>
void put_all(Sink& sink, const std::vector<const Packets*>& list) {
  sink.put(kMagic, sizeof(kMagic));
  put<uint32_t>(sink, static_cast<uint32_t>(list.size()));
  for (const Packets* packets : list) {
    put<uint8_t>(sink, static_cast<uint8_t>(packets->media_type));
    put_string(sink, packets->src);
    put_params(sink, packets->params);
    for (int v : {packets->time_base.first, packets->time_base.second, packets->frame_rate.first,
                  packets->frame_rate.second}) {
      put<int32_t>(sink, v);
    }
    put<uint8_t>(sink, packets->window.has_value());
    put<double>(sink, packets->window ? packets->window->first : 0.0);
    put<double>(sink, packets->window ? packets->window->second : 0.0);
    put<uint64_t>(sink, packets->packets.size());
    for (const auto& packet : packets->packets) {
      put<int64_t>(sink, packet->pts);
      put<int64_t>(sink, packet->dts);
      put<int64_t>(sink, packet->duration);
      put<uint8_t>(sink, (packet->flags & AV_PKT_FLAG_KEY) != 0);
      put_bytes(sink, packet->data, static_cast<size_t>(packet->size));
      put_side_data(sink, *packet);
    }
  }
}

// Reads a block; every length is checked against what is left.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}

  template <typename T>
  T get() {
    T value;
    std::memcpy(&value, take(sizeof(T)), sizeof(T));
    return value;
  }
  std::pair<const uint8_t*, size_t> bytes() {
    const auto size = get<uint32_t>();
    return {take(size), size};
  }
  std::string string() {
    const auto [data, size] = bytes();
    return std::string(reinterpret_cast<const char*>(data), size);
  }
  const uint8_t* take(size_t n) {
    if (n > static_cast<size_t>(end_ - p_)) {
      throw std::runtime_error("corrupt packet block: a field runs past its end");
    }
    const uint8_t* at = p_;
    p_ += n;
    return at;
  }
  bool done() const { return p_ == end_; }

 private:
  const uint8_t* p_;
  const uint8_t* const end_;
};

CodecParams get_params(Reader& in) {
  CodecParams p;
  p.codec_name = in.string();
  p.extradata = in.string();
  p.bit_rate = in.get<int64_t>();
  for (int* v : {&p.bits_per_coded_sample, &p.block_align, &p.frame_size, &p.profile, &p.level,
                 &p.width, &p.height, &p.sample_aspect_ratio.first, &p.sample_aspect_ratio.second,
                 &p.sample_rate, &p.num_channels}) {
    *v = in.get<int32_t>();
  }
  for (std::string* s : {&p.pix_fmt, &p.color_space, &p.color_range, &p.channel_layout,
                         &p.channel_names, &p.sample_fmt}) {
    *s = in.string();
  }
  return p;
}

std::unique_ptr<Packets> make_packets(uint8_t type, std::string src, CodecParams params,
                                      Rational time_base) {
  switch (static_cast<MediaType>(type)) {
    case MediaType::Image:
      return std::make_unique<ImagePackets>(std::move(src), std::move(params), time_base);
    case MediaType::Audio:
      return std::make_unique<AudioPackets>(std::move(src), std::move(params), time_base);
    case MediaType::Video:
      return std::make_unique<VideoPackets>(std::move(src), std::move(params), time_base);
  }
  throw std::runtime_error("corrupt packet block: unknown media type " + std::to_string(type));
}

std::unique_ptr<Packets> get_packets(Reader& in) {
  const auto type = in.get<uint8_t>();
  std::string src = in.string();
  CodecParams params = get_params(in);
  const Rational time_base{in.get<int32_t>(), in.get<int32_t>()};
  const Rational frame_rate{in.get<int32_t>(), in.get<int32_t>()};
  const bool has_window = in.get<uint8_t>() != 0;
  const double start = in.get<double>(), end = in.get<double>();
  auto packets = make_packets(type, std::move(src), std::move(params), time_base);
  packets->frame_rate = frame_rate;
  if (has_window) {
    packets->window = std::make_pair(start, end);
  }
  const auto count = in.get<uint64_t>();
  Packets::SideData side;
  for (uint64_t i = 0; i < count; ++i) {
    const auto pts = in.get<int64_t>(), dts = in.get<int64_t>(), duration = in.get<int64_t>();
    const bool is_key = in.get<uint8_t>() != 0;
    const auto [data, size] = in.bytes();
    side.clear();
    for (auto n = in.get<uint32_t>(); n > 0; --n) {
      std::string name = in.string();
      side.emplace_back(std::move(name), in.string());
    }
    packets->add(data, size, pts, dts, duration, is_key, side);
  }
  return packets;
}

}  // namespace

size_t packed_size(const std::vector<const Packets*>& packets) {
  Counter counter;
  put_all(counter, packets);
  return counter.size;
}

void pack_into(const std::vector<const Packets*>& packets, uint8_t* dst, size_t size) {
  Writer writer(dst, size);
  put_all(writer, packets);
}

std::vector<std::unique_ptr<Packets>> unpack(const uint8_t* data, size_t size) {
  Reader in(data, size);
  if (std::memcmp(in.take(sizeof(kMagic)), kMagic, sizeof(kMagic)) != 0) {
    throw std::runtime_error("corrupt packet block: wrong magic number");
  }
  std::vector<std::unique_ptr<Packets>> list;
  for (auto n = in.get<uint32_t>(); n > 0; --n) {
    list.push_back(get_packets(in));
  }
  if (!in.done()) {
    throw std::runtime_error("corrupt packet block: bytes left after the last packet");
  }
  return list;
}

#ifdef __linux__

namespace {
constexpr int kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
}

int pack_to_memfd(const std::vector<const Packets*>& packets) {
  const size_t size = packed_size(packets);
  posix::UniqueFd fd(::memfd_create("spdl-packets", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) {
    throw posix::system_error("memfd_create failed");
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    throw posix::system_error("ftruncate of a packet block failed");
  }
  {
    posix::Mapping map(fd.get(), size, PROT_READ | PROT_WRITE);
    pack_into(packets, map.data(), size);
  }  // unmapped: F_SEAL_WRITE refuses while a writable mapping exists
  // Sealed, the reader can map it without fearing SIGBUS from a shrinking file.
  if (::fcntl(fd.get(), F_ADD_SEALS, kSeals) != 0) {
    throw posix::system_error("sealing a packet block failed");
  }
  return fd.release();
}

std::vector<std::unique_ptr<Packets>> unpack_from_fd(int fd) {
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & kSeals) != kSeals) {
    throw std::runtime_error("a packet block must come in a sealed memfd");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    throw posix::system_error("fstat of a packet block failed");
  }
  posix::Mapping map(fd, static_cast<size_t>(st.st_size), PROT_READ);
  return unpack(map.data(), map.size());
}

#else

int pack_to_memfd(const std::vector<const Packets*>&) {
  throw std::runtime_error("packet blocks in shared memory need Linux (memfd)");
}

std::vector<std::unique_ptr<Packets>> unpack_from_fd(int) {
  throw std::runtime_error("packet blocks in shared memory need Linux (memfd)");
}

#endif

}  // namespace spdl
