#include "strata_image_codecs.h"

#include <png.h>
#include <turbojpeg.h>
#include <stdint.h>
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

int strata_png_decode(const unsigned char *data, size_t size, int want_channels,
                      strata_image *out, char *error, size_t error_size) {
    memset(out, 0, sizeof *out);
    if (want_channels != 1 && want_channels != 3) return fail(error, error_size, "channels must be 1 or 3", NULL);
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, data, size)) {
        int r = fail(error, error_size, "not a readable PNG", image.message);
        png_image_free(&image);
        return r;
    }
    if (check_size((int)image.width, (int)image.height, error, error_size) != 0 ||
        image.width > INT32_MAX || image.height > INT32_MAX) {
        png_image_free(&image);
        return -1;
    }
    /* 8-bit sRGB output, palette expanded, keeping only the colour and alpha flags. */
    image.format &= (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA);
    int src_channels = (int)PNG_IMAGE_SAMPLE_CHANNELS(image.format);
    unsigned char *raw = malloc(PNG_IMAGE_SIZE(image));
    if (!raw) { png_image_free(&image); return fail(error, error_size, "out of memory", NULL); }
    if (!png_image_finish_read(&image, NULL, raw, 0, NULL)) {
        int r = fail(error, error_size, "corrupt or truncated PNG", image.message);
        free(raw);
        png_image_free(&image);
        return r;
    }
    int width = (int)image.width, height = (int)image.height;
    png_image_free(&image);
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
