#ifndef STRATA_IMAGE_CODECS_H
#define STRATA_IMAGE_CODECS_H
/*
 * The C door to libpng and libjpeg-turbo for StrataData's image readers.
 *
 * libpng reports errors by longjmp; that never crosses into Swift: the PNG
 * decoder sets its jump point (setjmp) here in C and the encoder uses
 * libpng's simplified API (png_image_*), which catches its own errors. Every
 * function returns 0 on success or -1 with a NUL-terminated message in
 * `error` (at most `error_size` bytes).
 *
 * Pixels are 8-bit, interleaved, row-major, no row padding: [height, width,
 * channels] with channels 1 (gray) or 3 (RGB).
 */
#include <stddef.h>

/// A decoded image; `pixels` is malloc'ed: release it with strata_image_free.
typedef struct {
    unsigned char *pixels;
    int width;
    int height;
    int channels;
} strata_image;

/// An encoded file in memory; `bytes` is malloc'ed: release it with strata_buffer_free.
typedef struct {
    unsigned char *bytes;
    size_t size;
} strata_buffer;

/// Decodes a PNG held in memory to `want_channels` (1 or 3) 8-bit channels.
/// Palette, 1/2/4-bit, gray+alpha, RGBA and 16-bit files are converted with
/// libpng transforms (values untouched by gamma; 16-bit samples keep their
/// high byte): alpha and tRNS are dropped, gray is replicated to RGB, RGB
/// goes to gray with ITU-R 601-2 luma (L = R*299/1000 + G*587/1000 +
/// B*114/1000, PIL's convert("L")).
int strata_png_decode(const unsigned char *data, size_t size, int want_channels,
                      strata_image *out, char *error, size_t error_size);

/// Decodes a baseline or progressive JPEG (gray or YCbCr) held in memory, as above.
/// A truncated or damaged stream (a libjpeg warning) is an error.
int strata_jpeg_decode(const unsigned char *data, size_t size, int want_channels,
                       strata_image *out, char *error, size_t error_size);

/// Encodes 8-bit gray (1) or RGB (3) pixels as a PNG in memory.
int strata_png_encode(const unsigned char *pixels, int width, int height, int channels,
                      strata_buffer *out, char *error, size_t error_size);

/// Encodes 8-bit gray (1) or RGB (3) pixels as a JPEG (4:4:4) of `quality` 1...100 in memory.
int strata_jpeg_encode(const unsigned char *pixels, int width, int height, int channels, int quality,
                       strata_buffer *out, char *error, size_t error_size);

void strata_image_free(strata_image *image);
void strata_buffer_free(strata_buffer *buffer);

#endif
