// The floor of W4: the system FFmpeg opening, demuxing and decoding a file's first
// audio stream from C, with no Python and no output array. Every library that
// decodes with the system FFmpeg (spdl's native core, torchcodec) does at least
// this much, so its throughput bounds theirs. Loaded by w4_audio.py with ctypes,
// which releases the GIL for the call.

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
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
