#include "webp/demuxer.h"

#ifdef SPDL_HAS_LIBWEBP

namespace spdl::webp {

Demuxer::Demuxer(const uint8_t* data, size_t size) {
  const WebPData bytes{data, size};
  demuxer_.reset(WebPDemux(&bytes));
}

void Demuxer::Delete::operator()(WebPDemuxer* demuxer) const { WebPDemuxDelete(demuxer); }

FrameIterator::FrameIterator(const Demuxer& demuxer, int number)
    : found_(demuxer.get() && WebPDemuxGetFrame(demuxer.get(), number, &iterator_) != 0) {}

FrameIterator::~FrameIterator() {
  if (found_) {
    WebPDemuxReleaseIterator(&iterator_);
  }
}

}  // namespace spdl::webp

#endif  // SPDL_HAS_LIBWEBP
