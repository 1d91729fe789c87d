// The ceiling of W1's WebP cases: libwebp reading and decoding each file to RGB
// from C, with no resize, no Python per image and no output array. A loader that
// decodes WebP with libwebp (spdl, OpenCV, Pillow) does at least this much, so
// this bounds its throughput. Loaded by w1_image_batch.py with ctypes, which
// releases the GIL for the call.

#include <stdio.h>
#include <stdlib.h>
#include <webp/decode.h>

// Reads and decodes `count` files; returns how many decoded, or -1 - i when file
// `i` could not be read or decoded.
int spdl_floor_decode_webp(const char* const* paths, int count) {
  unsigned char* data = NULL;
  long capacity = 0;
  unsigned char* rgb = NULL;
  size_t rgb_capacity = 0;
  int decoded = 0;
  for (int i = 0; i < count; ++i) {
    FILE* file = fopen(paths[i], "rb");
    long size = -1;
    if (file && fseek(file, 0, SEEK_END) == 0) size = ftell(file);
    if (size > capacity) {
      free(data);
      capacity = size;
      data = malloc((size_t)capacity);
    }
    int ok = file && size > 0 && data && fseek(file, 0, SEEK_SET) == 0 &&
             fread(data, 1, (size_t)size, file) == (size_t)size;
    if (file) fclose(file);
    int width = 0, height = 0;
    ok = ok && WebPGetInfo(data, (size_t)size, &width, &height);
    size_t bytes = (size_t)width * (size_t)height * 3;
    if (ok && bytes > rgb_capacity) {
      free(rgb);
      rgb_capacity = bytes;
      rgb = malloc(rgb_capacity);
    }
    ok = ok && rgb && WebPDecodeRGBInto(data, (size_t)size, rgb, rgb_capacity, width * 3);
    if (!ok) {
      decoded = -1 - i;
      break;
    }
    ++decoded;
  }
  free(data);
  free(rgb);
  return decoded;
}
