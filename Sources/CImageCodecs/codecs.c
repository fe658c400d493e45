#include "strata_image_codecs.h"

#include <png.h>
#include <turbojpeg.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest image accepted, in pixels (keeps every size computation in range). */
#define STRATA_MAX_PIXELS ((size_t)1 << 28)

static int fail(char *error, size_t error_size, const char *what, const char *detail) {
    if (error && error_size > 0) {
        snprintf(error, error_size, "%s%s%s", what, detail && *detail ? ": " : "", detail ? detail : "");
    }
    return -1;
}

static int check_size(int width, int height, char *error, size_t error_size) {
    if (width <= 0 || height <= 0) return fail(error, error_size, "image has no pixels", NULL);
    if ((size_t)width * (size_t)height > STRATA_MAX_PIXELS) {
        char detail[64];
        snprintf(detail, sizeof detail, "%d x %d", width, height);
        return fail(error, error_size, "image too large", detail);
    }
    return 0;
}

/* Converts `src_channels` (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) to 1 or 3 channels. */
static void convert_channels(const unsigned char *src, int src_channels, unsigned char *dst,
                             int want_channels, size_t pixels) {
    for (size_t i = 0; i < pixels; i++) {
        const unsigned char *p = src + i * (size_t)src_channels;
        if (want_channels == 3) {
            unsigned char *q = dst + i * 3;
            if (src_channels >= 3) { q[0] = p[0]; q[1] = p[1]; q[2] = p[2]; }
            else { q[0] = q[1] = q[2] = p[0]; }
        } else if (src_channels >= 3) {
            /* PIL's L24: fixed-point 601-2 luma, rounded. */
            uint32_t l = (uint32_t)p[0] * 19595u + (uint32_t)p[1] * 38470u + (uint32_t)p[2] * 7471u + 0x8000u;
            dst[i] = (unsigned char)(l >> 16);
        } else {
            dst[i] = p[0];
        }
    }
}

/* Hands `raw` (src_channels per pixel) to `out` as want_channels, freeing raw when converted. */
static int finish(unsigned char *raw, int src_channels, int width, int height, int want_channels,
                  strata_image *out, char *error, size_t error_size) {
    size_t pixels = (size_t)width * (size_t)height;
    unsigned char *pix = raw;
    if (src_channels != want_channels) {
        pix = malloc(pixels * (size_t)want_channels);
        if (!pix) { free(raw); return fail(error, error_size, "out of memory", NULL); }
        convert_channels(raw, src_channels, pix, want_channels, pixels);
        free(raw);
    }
    out->pixels = pix;
    out->width = width;
    out->height = height;
    out->channels = want_channels;
    return 0;
}

/* libpng reads from memory through this cursor. */
struct png_source {
    const unsigned char *data;
    size_t size;
    size_t pos;
};

/* Where libpng's error callback leaves its message before it longjmps. */
struct png_error_sink {
    char *error;
    size_t error_size;
};

static void png_read_memory(png_structp png, png_bytep out, png_size_t n) {
    struct png_source *src = png_get_io_ptr(png);
    if (src->size - src->pos < n) png_error(png, "file is truncated");
    memcpy(out, src->data + src->pos, n);
    src->pos += n;
}

static void png_on_error(png_structp png, png_const_charp message) {
    struct png_error_sink *sink = png_get_error_ptr(png);
    fail(sink->error, sink->error_size, "corrupt or truncated PNG", message);
    png_longjmp(png, 1);
}

/* Warnings (a known-bad ICC profile, an ancillary chunk's CRC) do not stop
 * reading, as in PIL; they are not printed. */
static void png_on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

int strata_png_decode(const unsigned char *data, size_t size, int want_channels,
                      strata_image *out, char *error, size_t error_size) {
    memset(out, 0, sizeof *out);
    if (want_channels != 1 && want_channels != 3) return fail(error, error_size, "channels must be 1 or 3", NULL);
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) return fail(error, error_size, "not a PNG file", NULL);
    struct png_error_sink sink = { error, error_size };
    struct png_source source = { data, size, 8 };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fail(error, error_size, "out of memory", NULL);
    }
    /* Written after setjmp and read after a longjmp back here: volatile. */
    unsigned char *volatile raw = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(raw);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_read_fn(png, &source, png_read_memory);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    int width = (int)png_get_image_width(png, info), height = (int)png_get_image_height(png, info);
    int color_type = png_get_color_type(png, info), bit_depth = png_get_bit_depth(png, info);
    if (check_size(width, height, error, error_size) != 0) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    /* To 8-bit gray or RGB without touching the values' gamma: 16-bit keeps
     * its high byte, palettes and 1/2/4-bit gray expand, alpha (and tRNS)
     * is dropped, as PIL's convert("RGB") / convert("L") would see them. */
    if (bit_depth == 16) png_set_strip_16(png);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    /* Also removes the alpha that palette expansion makes from a tRNS chunk. */
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int src_channels = png_get_channels(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if ((src_channels != 1 && src_channels != 3) || row_bytes != (size_t)width * (size_t)src_channels) {
        png_destroy_read_struct(&png, &info, NULL);
        return fail(error, error_size, "unsupported PNG layout", NULL);
    }
    raw = malloc(row_bytes * (size_t)height);
    rows = malloc(sizeof(png_bytep) * (size_t)height);
    if (!raw || !rows) {
        free(raw);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return fail(error, error_size, "out of memory", NULL);
    }
    for (int y = 0; y < height; y++) rows[y] = raw + (size_t)y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return finish(raw, src_channels, width, height, want_channels, out, error, error_size);
}

int strata_jpeg_decode(const unsigned char *data, size_t size, int want_channels,
                       strata_image *out, char *error, size_t error_size) {
    memset(out, 0, sizeof *out);
    if (want_channels != 1 && want_channels != 3) return fail(error, error_size, "channels must be 1 or 3", NULL);
    if (size > (size_t)0xFFFFFFFFu) return fail(error, error_size, "JPEG file too large", NULL);
    tjhandle h = tjInitDecompress();
    if (!h) return fail(error, error_size, "cannot start the JPEG decoder", tjGetErrorStr2(NULL));
    int width = 0, height = 0, subsamp = 0, colorspace = 0;
    if (tjDecompressHeader3(h, data, (unsigned long)size, &width, &height, &subsamp, &colorspace) != 0) {
        int r = fail(error, error_size, "not a readable JPEG", tjGetErrorStr2(h));
        tjDestroy(h);
        return r;
    }
    if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
        tjDestroy(h);
        return fail(error, error_size, "CMYK JPEG is not supported (only gray and YCbCr)", NULL);
    }
    if (width <= 0 || height <= 0) {
        tjDestroy(h);
        return fail(error, error_size, "not a readable JPEG", "no image size in the header");
    }
    if (check_size(width, height, error, error_size) != 0) { tjDestroy(h); return -1; }
    int src_channels = colorspace == TJCS_GRAY ? 1 : 3;
    unsigned char *raw = malloc((size_t)width * (size_t)height * (size_t)src_channels);
    if (!raw) { tjDestroy(h); return fail(error, error_size, "out of memory", NULL); }
    /* A warning (e.g. premature end of data) also returns -1: treat it as damage. */
    if (tjDecompress2(h, data, (unsigned long)size, raw, width, 0, height,
                      src_channels == 1 ? TJPF_GRAY : TJPF_RGB, 0) != 0) {
        int r = fail(error, error_size, "corrupt or truncated JPEG", tjGetErrorStr2(h));
        free(raw);
        tjDestroy(h);
        return r;
    }
    tjDestroy(h);
    return finish(raw, src_channels, width, height, want_channels, out, error, error_size);
}

int strata_png_encode(const unsigned char *pixels, int width, int height, int channels,
                      strata_buffer *out, char *error, size_t error_size) {
    memset(out, 0, sizeof *out);
    if (channels != 1 && channels != 3) return fail(error, error_size, "channels must be 1 or 3", NULL);
    if (check_size(width, height, error, error_size) != 0) return -1;
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    png_alloc_size_t size = 0;
    if (!png_image_write_get_memory_size(image, size, 0, pixels, 0, NULL)) {
        return fail(error, error_size, "PNG encoding failed", image.message);
    }
    unsigned char *bytes = malloc(size);
    if (!bytes) return fail(error, error_size, "out of memory", NULL);
    if (!png_image_write_to_memory(&image, bytes, &size, 0, pixels, 0, NULL)) {
        free(bytes);
        return fail(error, error_size, "PNG encoding failed", image.message);
    }
    out->bytes = bytes;
    out->size = size;
    return 0;
}

int strata_jpeg_encode(const unsigned char *pixels, int width, int height, int channels, int quality,
                       strata_buffer *out, char *error, size_t error_size) {
    memset(out, 0, sizeof *out);
    if (channels != 1 && channels != 3) return fail(error, error_size, "channels must be 1 or 3", NULL);
    if (quality < 1 || quality > 100) return fail(error, error_size, "JPEG quality must be in 1...100", NULL);
    if (check_size(width, height, error, error_size) != 0) return -1;
    tjhandle h = tjInitCompress();
    if (!h) return fail(error, error_size, "cannot start the JPEG encoder", tjGetErrorStr2(NULL));
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    if (tjCompress2(h, pixels, width, 0, height, channels == 3 ? TJPF_RGB : TJPF_GRAY, &jpeg, &size,
                    channels == 3 ? TJSAMP_444 : TJSAMP_GRAY, quality, 0) != 0) {
        int r = fail(error, error_size, "JPEG encoding failed", tjGetErrorStr2(h));
        tjFree(jpeg);
        tjDestroy(h);
        return r;
    }
    tjDestroy(h);
    unsigned char *bytes = malloc(size);
    if (!bytes) { tjFree(jpeg); return fail(error, error_size, "out of memory", NULL); }
    memcpy(bytes, jpeg, size);
    tjFree(jpeg);
    out->bytes = bytes;
    out->size = size;
    return 0;
}

void strata_image_free(strata_image *image) {
    if (image) { free(image->pixels); image->pixels = NULL; }
}

void strata_buffer_free(strata_buffer *buffer) {
    if (buffer) { free(buffer->bytes); buffer->bytes = NULL; buffer->size = 0; }
}
