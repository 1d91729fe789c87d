// Floors for W3 and W4: the system FFmpeg opening, demuxing and decoding from C
// what a workload needs, with no Python, no conversion and no output array. A
// loader that decodes with the system FFmpeg (spdl's native core, torchcodec) does
// at least this much, so these bound its throughput. Loaded by the workload
// scripts with ctypes, which releases the GIL for the call.

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <math.h>
#include <stdio.h>

// An open file and a one-thread decoder for its best stream of one type.
typedef struct {
  AVFormatContext* fmt;
  AVCodecContext* ctx;
  AVPacket* packet;
  AVFrame* frame;
  int stream;
} Decode;

// Returns 0 or a negative AVERROR code; close_decode() frees `d` either way.
static int open_decode(Decode* d, const char* path, enum AVMediaType type) {
  d->packet = av_packet_alloc();
  d->frame = av_frame_alloc();
  int ret = d->packet && d->frame ? 0 : AVERROR(ENOMEM);
  if (ret >= 0) ret = avformat_open_input(&d->fmt, path, NULL, NULL);
  if (ret >= 0) ret = avformat_find_stream_info(d->fmt, NULL);
  const AVCodec* codec = NULL;
  if (ret >= 0) ret = d->stream = av_find_best_stream(d->fmt, type, -1, -1, &codec, 0);
  if (ret >= 0) ret = (d->ctx = avcodec_alloc_context3(codec)) ? 0 : AVERROR(ENOMEM);
  if (ret >= 0) ret = avcodec_parameters_to_context(d->ctx, d->fmt->streams[d->stream]->codecpar);
  if (ret >= 0) {
    d->ctx->thread_count = 1;
    ret = avcodec_open2(d->ctx, codec, NULL);
  }
  return ret;
}

// Frees `d`; returns `ret`, with FFmpeg's message in `error` when it is an error.
static int close_decode(Decode* d, int ret, char* error, int error_size) {
  if (ret < 0) av_strerror(ret, error, error_size);
  avcodec_free_context(&d->ctx);
  avformat_close_input(&d->fmt);
  av_frame_free(&d->frame);
  av_packet_free(&d->packet);
  return ret;
}

// Seconds of audio decoded, or a negative AVERROR code (message in `error`).
double spdl_floor_decode_audio(const char* path, char* error, int error_size) {
  Decode d = {0};
  int64_t samples = 0;
  int ret = open_decode(&d, path, AVMEDIA_TYPE_AUDIO);
  int flushing = 0;
  while (ret >= 0 && !flushing) {
    ret = av_read_frame(d.fmt, d.packet);
    if (ret == AVERROR_EOF) {
      flushing = 1;
      ret = avcodec_send_packet(d.ctx, NULL);
    } else if (ret >= 0) {
      ret = d.packet->stream_index == d.stream ? avcodec_send_packet(d.ctx, d.packet) : 0;
      av_packet_unref(d.packet);
    }
    while (ret >= 0) {
      int got = avcodec_receive_frame(d.ctx, d.frame);
      if (got == AVERROR(EAGAIN) || got == AVERROR_EOF) break;
      ret = got;
      if (got >= 0) {
        samples += d.frame->nb_samples;
        av_frame_unref(d.frame);
      }
    }
  }
  const double seconds =
      d.ctx && d.ctx->sample_rate > 0 ? (double)samples / d.ctx->sample_rate : 0.0;
  ret = close_decode(&d, ret, error, error_size);
  return ret < 0 ? ret : seconds;
}

static int in_windows(int64_t pts, const int64_t* starts, const int64_t* ends, int n) {
  for (int i = 0; i < n; i++) {
    if (pts >= starts[i] && pts < ends[i]) return 1;
  }
  return 0;
}

// Sends `packet` (NULL: drains) and counts the frames that come out inside the
// windows; returns 0 or a negative AVERROR code.
static int send_and_count(Decode* d, const AVPacket* packet, const int64_t* starts,
                          const int64_t* ends, int n, int* frames) {
  int ret = avcodec_send_packet(d->ctx, packet);
  while (ret >= 0) {
    ret = avcodec_receive_frame(d->ctx, d->frame);
    if (ret >= 0) {
      *frames += in_windows(d->frame->pts, starts, ends, n);
      av_frame_unref(d->frame);
    }
  }
  return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

// Decodes the video frames shown in the half-open windows [starts[i], ends[i])
// (seconds, sorted by start) the way spdl's window decode does: one decoder,
// seeking to the keyframe before a window unless the packets read so far already
// reach it, and skipping the frames outside every window that no frame references.
// Returns the frames shown in the windows, or a negative AVERROR code.
int spdl_floor_decode_windows(const char* path, const double* start_s, const double* end_s, int n,
                              char* error, int error_size) {
  Decode d = {0};
  int64_t starts[64], ends[64];
  int frames = 0;
  int ret = n <= 64 ? open_decode(&d, path, AVMEDIA_TYPE_VIDEO) : AVERROR(EINVAL);
  if (ret >= 0) {
    const AVRational tb = d.fmt->streams[d.stream]->time_base;
    for (int i = 0; i < n; i++) {
      starts[i] = (int64_t)ceil(start_s[i] * tb.den / tb.num - 1e-6);
      ends[i] = (int64_t)ceil(end_s[i] * tb.den / tb.num - 1e-6);
    }
  }
  int64_t last_pos = -1;  // byte offset of the last packet sent
  for (int w = 0; ret >= 0 && w < n; w++) {
    ret = av_seek_frame(d.fmt, d.stream, starts[w], AVSEEK_FLAG_BACKWARD);
    int first = 1, skipping = 0;
    while (ret >= 0) {
      ret = av_read_frame(d.fmt, d.packet);
      if (ret == AVERROR_EOF) {
        ret = 0;
        break;
      }
      if (ret < 0) break;
      const AVPacket* p = d.packet;
      const int64_t order = p->dts != AV_NOPTS_VALUE ? p->dts : p->pts;
      if (p->stream_index != d.stream || (order != AV_NOPTS_VALUE && order >= ends[w])) {
        const int past_end = p->stream_index == d.stream;
        av_packet_unref(d.packet);
        if (past_end) break;
        continue;
      }
      if (first) {
        first = 0;
        skipping = last_pos >= 0 && p->pos <= last_pos;
        if (!skipping && last_pos >= 0) {
          // A new keyframe further on: drain the decoder, then start it afresh.
          ret = send_and_count(&d, NULL, starts, ends, n, &frames);
          avcodec_flush_buffers(d.ctx);
        }
      }
      if (!(skipping && p->pos <= last_pos) && ret >= 0) {
        skipping = 0;
        last_pos = p->pos;
        const int unwanted = p->pts != AV_NOPTS_VALUE && !in_windows(p->pts, starts, ends, n);
        d.ctx->skip_frame = unwanted ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
        ret = send_and_count(&d, p, starts, ends, n, &frames);
      }
      av_packet_unref(d.packet);
    }
  }
  if (ret >= 0) ret = send_and_count(&d, NULL, starts, ends, n, &frames);
  ret = close_decode(&d, ret, error, error_size);
  return ret < 0 ? ret : frames;
}
