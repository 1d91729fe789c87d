#include "packet_import.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "posix/fd.h"

namespace spdl {
namespace {

constexpr char kMagic[8] = {'S', 'P', 'D', 'L', 'P', 'K', 'T', '2'};
// Packet data starts at this alignment, as av_malloc'd data does, and is followed
// by at least FFmpeg's input padding, zeroed (the memfd starts zeroed).
constexpr size_t kAlign = 64;
static_assert(AV_INPUT_BUFFER_PADDING_SIZE <= kAlign);

// One packet's fields; the block holds a table of them, then the side data, then
// the packets' bytes: one copy of the table, one per packet's bytes.
struct Record {
  int64_t pts;
  int64_t dts;
  int64_t duration;
  uint32_t size;        // bytes of data
  uint32_t side_count;  // side data entries (each a name and bytes) in the side data section
  uint8_t key;
  uint8_t discard;
  uint8_t reserved[6];
};
static_assert(sizeof(Record) == 40);

size_t data_stride(size_t size) { return (size + kAlign + kAlign - 1) / kAlign * kAlign; }

// The two passes of packing: one counts the bytes, the other writes them.
class Counter {
 public:
  void put(const void*, size_t n) { size += n; }
  void skip(size_t n) { size += n; }
  size_t position() const { return size; }
  size_t size = 0;
};

class Writer {
 public:
  Writer(uint8_t* dst, size_t size) : begin_(dst), p_(dst), end_(dst + size) {}
  void put(const void* src, size_t n) {
    if (n) {
      std::memcpy(reserve(n), src, n);
    }
  }
  void skip(size_t n) { reserve(n); }  // left as it is: zero
  size_t position() const { return static_cast<size_t>(p_ - begin_); }

 private:
  uint8_t* reserve(size_t n) {
    if (n > static_cast<size_t>(end_ - p_)) {
      throw std::logic_error("packed block larger than counted");
    }
    uint8_t* at = p_;
    p_ += n;
    return at;
  }
  uint8_t* const begin_;
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
void align(Sink& sink) {
  sink.skip((kAlign - sink.position() % kAlign) % kAlign);
}

template <typename Sink>
void put_params(Sink& sink, const CodecParams& p) {
  put_string(sink, p.codec_name);
  put_string(sink, p.extradata);
  put<int64_t>(sink, p.bit_rate);
  put<uint32_t>(sink, p.codec_tag);
  put<uint8_t>(sink, p.pts_in_decode_order ? 1 : 0);
  for (int v :
       {p.bits_per_coded_sample, p.block_align, p.frame_size, p.profile, p.level, p.width, p.height,
        p.sample_aspect_ratio.first, p.sample_aspect_ratio.second, p.sample_rate, p.num_channels}) {
    put<int32_t>(sink, v);
  }
  for (const std::string* s : {&p.pix_fmt, &p.color_space, &p.color_range, &p.channel_layout,
                               &p.channel_names, &p.sample_fmt, &p.display_matrix}) {
    put_string(sink, *s);
  }
}

// Side data travels by FFmpeg's name for its type, as it arrives from PyAV.
uint32_t named_side_data(const AVPacket& packet) {
  uint32_t named = 0;
  for (int i = 0; i < packet.side_data_elems; ++i) {
    named += av_packet_side_data_name(packet.side_data[i].type) != nullptr;
  }
  return named;
}

template <typename Sink>
void put_side_data(Sink& sink, const AVPacket& packet) {
  for (int i = 0; i < packet.side_data_elems; ++i) {
    const AVPacketSideData& side = packet.side_data[i];
    if (const char* name = av_packet_side_data_name(side.type)) {
      put_string(sink, name);
      put_bytes(sink, side.data, side.size);
    }
  }
}

template <typename Sink>
void put_packets(Sink& sink, const Packets& packets, std::vector<Record>& table) {
  put<uint8_t>(sink, static_cast<uint8_t>(packets.media_type));
  put_string(sink, packets.src);
  put_params(sink, packets.params);
  for (int v : {packets.time_base.first, packets.time_base.second, packets.frame_rate.first,
                packets.frame_rate.second}) {
    put<int32_t>(sink, v);
  }
  put<uint8_t>(sink, packets.window.has_value());
  put<double>(sink, packets.window ? packets.window->first : 0.0);
  put<double>(sink, packets.window ? packets.window->second : 0.0);
  put<uint64_t>(sink, packets.packets.size());
  table.clear();
  for (const auto& packet : packets.packets) {
    Record record{};
    record.pts = packet->pts;
    record.dts = packet->dts;
    record.duration = packet->duration;
    record.size = static_cast<uint32_t>(packet->size);
    record.side_count = named_side_data(*packet);
    record.key = (packet->flags & AV_PKT_FLAG_KEY) != 0;
    record.discard = (packet->flags & AV_PKT_FLAG_DISCARD) != 0;
    table.push_back(record);
  }
  sink.put(table.data(), table.size() * sizeof(Record));
  for (const auto& packet : packets.packets) {
    if (packet->side_data_elems) {
      put_side_data(sink, *packet);
    }
  }
  align(sink);
  for (const auto& packet : packets.packets) {
    sink.put(packet->data, static_cast<size_t>(packet->size));
    sink.skip(data_stride(packet->size) - static_cast<size_t>(packet->size));
  }
}

template <typename Sink>
void put_all(Sink& sink, const std::vector<const Packets*>& list) {
  sink.put(kMagic, sizeof(kMagic));
  put<uint32_t>(sink, static_cast<uint32_t>(list.size()));
  std::vector<Record> table;
  for (const Packets* packets : list) {
    put_packets(sink, *packets, table);
  }
}

// Reads a block; every length is checked against what is left.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : begin_(data), p_(data), end_(data + size) {}

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
  void align() { take((kAlign - static_cast<size_t>(p_ - begin_) % kAlign) % kAlign); }
  bool done() const { return p_ == end_; }

 private:
  const uint8_t* const begin_;
  const uint8_t* p_;
  const uint8_t* const end_;
};

CodecParams get_params(Reader& in) {
  CodecParams p;
  p.codec_name = in.string();
  p.extradata = in.string();
  p.bit_rate = in.get<int64_t>();
  p.codec_tag = in.get<uint32_t>();
  p.pts_in_decode_order = in.get<uint8_t>() != 0;
  for (int* v : {&p.bits_per_coded_sample, &p.block_align, &p.frame_size, &p.profile, &p.level,
                 &p.width, &p.height, &p.sample_aspect_ratio.first, &p.sample_aspect_ratio.second,
                 &p.sample_rate, &p.num_channels}) {
    *v = in.get<int32_t>();
  }
  for (std::string* s : {&p.pix_fmt, &p.color_space, &p.color_range, &p.channel_layout,
                         &p.channel_names, &p.sample_fmt, &p.display_matrix}) {
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

void add_side_data(AVPacket* packet, const std::string& name, const std::string& bytes) {
  const int type = side_data_type(name);
  if (type < 0) {
    return;  // a name this FFmpeg does not know: skipped, as Packets::add skips it
  }
  uint8_t* dst =
      av_packet_new_side_data(packet, static_cast<AVPacketSideDataType>(type), bytes.size());
  if (!dst) {
    throw std::bad_alloc();
  }
  std::memcpy(dst, bytes.data(), bytes.size());
}

// Reads one Packets. Its packets' bytes stay in the block: each packet holds a
// reference to `block`, the buffer that owns it.
std::unique_ptr<Packets> get_packets(Reader& in, AVBufferRef* block) {
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
  if (count > SIZE_MAX / sizeof(Record)) {
    throw std::runtime_error("corrupt packet block: too many packets");
  }
  const uint8_t* table = in.take(count * sizeof(Record));
  packets->packets.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    Record record;
    std::memcpy(&record, table + i * sizeof(Record), sizeof(Record));
    if (record.size > static_cast<uint32_t>(INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE)) {
      throw std::runtime_error("corrupt packet block: a packet is too large");
    }
    auto packet = ffmpeg::alloc_packet();
    packet->pts = record.pts;
    packet->dts = record.dts;
    packet->duration = record.duration;
    packet->size = static_cast<int>(record.size);
    packet->flags |=
        (record.key ? AV_PKT_FLAG_KEY : 0) | (record.discard ? AV_PKT_FLAG_DISCARD : 0);
    for (uint32_t n = record.side_count; n > 0; --n) {
      const std::string name = in.string();
      add_side_data(packet.get(), name, in.string());
    }
    packets->packets.push_back(std::move(packet));
  }
  in.align();
  for (auto& packet : packets->packets) {
    const size_t size = static_cast<size_t>(packet->size);
    packet->data = const_cast<uint8_t*>(in.take(size));
    in.take(data_stride(size) - size);  // the zeroed padding
    packet->buf = av_buffer_ref(block);
    if (!packet->buf) {
      throw std::bad_alloc();
    }
  }
  return packets;
}

std::vector<std::unique_ptr<Packets>> unpack(const uint8_t* data, size_t size, AVBufferRef* block) {
  Reader in(data, size);
  if (std::memcmp(in.take(sizeof(kMagic)), kMagic, sizeof(kMagic)) != 0) {
    throw std::runtime_error("corrupt packet block: wrong magic number");
  }
  std::vector<std::unique_ptr<Packets>> list;
  for (auto n = in.get<uint32_t>(); n > 0; --n) {
    list.push_back(get_packets(in, block));
  }
  if (!in.done()) {
    throw std::runtime_error("corrupt packet block: bytes left after the last packet");
  }
  return list;
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

#ifdef __linux__

namespace {
constexpr int kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
}

int pack_to_memfd(const std::vector<const Packets*>& packets) {
  // Packed in memory this thread keeps, then written to the memfd: writing whole
  // pages spares the kernel zeroing them first, as faults of a fresh mapping would.
  thread_local std::vector<uint8_t> block;
  const size_t size = packed_size(packets);
  block.assign(size, 0);
  pack_into(packets, block.data(), size);
  posix::UniqueFd fd(::memfd_create("spdl-packets", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) {
    throw posix::system_error("memfd_create failed");
  }
  for (size_t done = 0; done < size;) {
    const ssize_t n =
        ::pwrite(fd.get(), block.data() + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      throw posix::system_error("writing a packet block failed");
    }
    done += static_cast<size_t>(n);
  }
  if (block.capacity() > (64u << 20)) {
    std::vector<uint8_t>().swap(block);  // keep no more than a usual block between calls
  }
  // Sealed, the reader can map it without fearing SIGBUS from a shrinking file.
  if (::fcntl(fd.get(), F_ADD_SEALS, kSeals) != 0) {
    throw posix::system_error("sealing a packet block failed");
  }
  return fd.release();
}

namespace {

// Blocks up to this size are copied into this process's heap (see unpack_from_fd).
constexpr size_t kCopiedBlockMax = size_t{1} << 20;

// Gives `holder` the block, copied into a buffer of this process's heap.
void copy_block(int fd, size_t size, AVPacket& holder) {
  holder.buf = av_buffer_alloc(size);
  if (!holder.buf) {
    throw LocalMemoryError("this process could not allocate " + std::to_string(size) +
                           " bytes for a packet block");
  }
  uint8_t* data = holder.buf->data;
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::pread(fd, data + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw posix::system_error("reading a packet block failed");
    }
    if (n == 0) {
      throw std::runtime_error("corrupt packet block: shorter than its size");
    }
    done += static_cast<size_t>(n);
  }
}

// Gives `holder` the block left in the (sealed, unchangeable) memfd, mapped: not copied.
void map_block(int fd, size_t size, AVPacket& holder) {
  std::unique_ptr<posix::Mapping> map;
  try {
    map = std::make_unique<posix::Mapping>(fd, size, PROT_READ);
  } catch (const std::runtime_error& e) {  // ENOMEM: out of address space or of map entries
    throw LocalMemoryError(std::string("this process could not map a packet block: ") + e.what());
  }
  uint8_t* data = map->data();
  holder.buf = ffmpeg::buffer_owning(std::move(map), data, size);
}

}  // namespace

std::vector<std::unique_ptr<Packets>> unpack_from_fd(int fd) {
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & kSeals) != kSeals) {
    throw std::runtime_error("a packet block must come in a sealed memfd");
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    throw posix::system_error("fstat of a packet block failed");
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    throw std::runtime_error("corrupt packet block: it is empty");
  }
  // A mapping is an entry of the process's memory map for as long as one of its
  // packets lives, and vm.max_map_count (65530 by default) caps them: ~64k kept
  // Packets (a cache of clips) made every later mmap fail, and so most large
  // allocations. A small block is copied instead: up to a few hundred KiB a copy
  // costs about what setting up and tearing down the mapping does, and 1 MiB
  // (~65 s of AAC, a 720p video window of a second or so) copies in ~0.1 ms, little
  // beside its decode. Only past 64 GiB of kept packets can the larger blocks,
  // which keep their mapping (no copy), reach the limit.
  // A packet of its own holds the first reference, so that the buffer goes on any error.
  auto holder = ffmpeg::alloc_packet();
  if (size <= kCopiedBlockMax) {
    copy_block(fd, size, *holder);
  } else {
    map_block(fd, size, *holder);
  }
  return unpack(holder->buf->data, size, holder->buf);
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
