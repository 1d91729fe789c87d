// Floors for W3 and W4: the system FFmpeg opening, demuxing and decoding from C
// what a workload needs, with no Python, no conversion and no output array. A
// loader that decodes with the system FFmpeg (spdl's native core, torchcodec) does
// at least this much, so these bound its throughput. Loaded by the workload
// scripts with ctypes, which releases the GIL for the call.

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <math.h>
#include <stdio.h>

// Seconds of audio decoded, or a negative AVERROR code (message in `error`).
double spdl_floor_decode_audio(const char* path, char* error, int error_size) {
  AVFormatContext* fmt = NULL;
  AVCodecContext* ctx = NULL;
  AVPacket* packet = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  int64_t samples = 0;
  int ret = packet && frame ? 0 : AVERROR(ENOMEM);
  if (ret >= 0) ret = avformat_open_input(&fmt, path, NULL, NULL);
  if (ret >= 0) ret = avformat_find_stream_info(fmt, NULL);
  const AVCodec* codec = NULL;
  int stream = ret >= 0 ? av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0) : ret;
  ret = stream;
  if (ret >= 0) ret = (ctx = avcodec_alloc_context3(codec)) ? 0 : AVERROR(ENOMEM);
  if (ret >= 0) ret = avcodec_parameters_to_context(ctx, fmt->streams[stream]->codecpar);
  if (ret >= 0) {
    ctx->thread_count = 1;
    ret = avcodec_open2(ctx, codec, NULL);
  }
  int flushing = 0;
  while (ret >= 0 && !flushing) {
    ret = av_read_frame(fmt, packet);
    if (ret == AVERROR_EOF) {
      flushing = 1;
      ret = avcodec_send_packet(ctx, NULL);
    } else if (ret >= 0) {
      ret = packet->stream_index == stream ? avcodec_send_packet(ctx, packet) : 0;
      av_packet_unref(packet);
    }
    while (ret >= 0) {
      int got = avcodec_receive_frame(ctx, frame);
      if (got == AVERROR(EAGAIN) || got == AVERROR_EOF) break;
      ret = got;
      if (got >= 0) {
        samples += frame->nb_samples;
        av_frame_unref(frame);
      }
    }
  }
  const double seconds = ctx && ctx->sample_rate > 0 ? (double)samples / ctx->sample_rate : 0.0;
  if (ret < 0) av_strerror(ret, error, error_size);
  avcodec_free_context(&ctx);
  avformat_close_input(&fmt);
  av_frame_free(&frame);
  av_packet_free(&packet);
  return ret < 0 ? ret : seconds;
}

static int in_windows(int64_t pts, const int64_t* starts, const int64_t* ends, int n) {
  for (int i = 0; i < n; i++) {
    if (pts >= starts[i] && pts < ends[i]) return 1;
  }
  return 0;
}

// Decodes the video frames shown in the half-open windows [starts[i], ends[i])
// (seconds, sorted by start) the way spdl's window decode does: one decoder,
// seeking to the keyframe before a window unless the packets read so far already
// reach it, and skipping the frames outside every window that no frame references.
// Returns the frames shown in the windows, or a negative AVERROR code.
int spdl_floor_decode_windows(const char* path, const double* start_s, const double* end_s, int n,
                              char* error, int error_size) {
  AVFormatContext* fmt = NULL;
  AVCodecContext* ctx = NULL;
  AVPacket* packet = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  int64_t starts[64], ends[64];
  int frames = 0;
  int ret = packet && frame && n <= 64 ? 0 : AVERROR(EINVAL);
  if (ret >= 0) ret = avformat_open_input(&fmt, path, NULL, NULL);
  if (ret >= 0) ret = avformat_find_stream_info(fmt, NULL);
  const AVCodec* codec = NULL;
  int stream = ret >= 0 ? av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0) : ret;
  ret = stream;
  if (ret >= 0) ret = (ctx = avcodec_alloc_context3(codec)) ? 0 : AVERROR(ENOMEM);
  if (ret >= 0) ret = avcodec_parameters_to_context(ctx, fmt->streams[stream]->codecpar);
  if (ret >= 0) {
    ctx->thread_count = 1;
    ret = avcodec_open2(ctx, codec, NULL);
  }
  if (ret >= 0) {
    const AVRational tb = fmt->streams[stream]->time_base;
    for (int i = 0; i < n; i++) {
      starts[i] = (int64_t)ceil(start_s[i] * tb.den / tb.num - 1e-6);
      ends[i] = (int64_t)ceil(end_s[i] * tb.den / tb.num - 1e-6);
    }
  }
  int64_t last_pos = -1;  // byte offset of the last packet sent
  for (int w = 0; ret >= 0 && w < n; w++) {
    ret = av_seek_frame(fmt, stream, starts[w], AVSEEK_FLAG_BACKWARD);
    int first = 1, skipping = 0;
    while (ret >= 0) {
      ret = av_read_frame(fmt, packet);
      if (ret == AVERROR_EOF) {
        ret = 0;
        break;
      }
      if (ret < 0) break;
      if (packet->stream_index != stream) {
        av_packet_unref(packet);
        continue;
      }
      const int64_t order = packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts;
      if (order != AV_NOPTS_VALUE && order >= ends[w]) {
        av_packet_unref(packet);
        break;
      }
      if (first) {
        first = 0;
        skipping = last_pos >= 0 && packet->pos <= last_pos;
        if (!skipping && last_pos >= 0) {
          // A new keyframe further on: drain the decoder, then start it afresh.
          ret = avcodec_send_packet(ctx, NULL);
          while (ret >= 0 && (ret = avcodec_receive_frame(ctx, frame)) >= 0) {
            frames += in_windows(frame->pts, starts, ends, n);
            av_frame_unref(frame);
          }
          ret = ret == AVERROR_EOF ? 0 : ret;
          avcodec_flush_buffers(ctx);
        }
      }
      if (skipping && packet->pos <= last_pos) {
        av_packet_unref(packet);
        continue;
      }
      skipping = 0;
      last_pos = packet->pos;
      const int unwanted =
          packet->pts != AV_NOPTS_VALUE && !in_windows(packet->pts, starts, ends, n);
      ctx->skip_frame = unwanted ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
      if (ret >= 0) ret = avcodec_send_packet(ctx, packet);
      av_packet_unref(packet);
      while (ret >= 0) {
        const int got = avcodec_receive_frame(ctx, frame);
        if (got == AVERROR(EAGAIN)) break;
        ret = got;
        if (got >= 0) {
          frames += in_windows(frame->pts, starts, ends, n);
          av_frame_unref(frame);
        }
      }
    }
  }
  if (ret >= 0) ret = avcodec_send_packet(ctx, NULL);
  while (ret >= 0 && (ret = avcodec_receive_frame(ctx, frame)) >= 0) {
    frames += in_windows(frame->pts, starts, ends, n);
    av_frame_unref(frame);
  }
  ret = ret == AVERROR_EOF ? 0 : ret;
  if (ret < 0) av_strerror(ret, error, error_size);
  avcodec_free_context(&ctx);
  avformat_close_input(&fmt);
  av_frame_free(&frame);
  av_packet_free(&packet);
  return ret < 0 ? ret : frames;
}
