// dialclip image codec shim (see include/image_codecs.h for the contract).
#include "image_codecs.h"

#include <limits.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

static void copy_message(char *dst, size_t cap, const char *src) {
    if (!dst || cap == 0) return;
    snprintf(dst, cap, "%s", src ? src : "");
}

// MARK: - libjpeg error manager

// libjpeg's error manager extended with our jump target. libjpeg only ever sees the
// embedded `pub`, so the struct must start with it.
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int strict;
    char message[JMSG_LENGTH_MAX];
} dc_jpeg_error;

// Fatal errors: libjpeg's default prints and calls exit(); we record the text and unwind
// to the setjmp in the entry point, which destroys the decompressor.
static void dc_error_exit(j_common_ptr cinfo) {
    dc_jpeg_error *err = (dc_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

// Warnings that say nothing about the pixel data: unknown JFIF revision, unknown Adobe
// transform code (libjpeg falls back to the usual guess) and a broken ICC profile
// (we ignore ICC profiles anyway).
static int dc_benign_warning(int code) {
    return code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM
#ifdef JWRN_BOGUS_ICC
        || code == JWRN_BOGUS_ICC
#endif
        ;
}

// msg_level -1 is a warning (corrupt data, premature end of file): libjpeg carries on
// and fills missing blocks with grey. In strict mode that is an error for us.
// Levels >= 0 are trace messages and ignored; nothing is ever printed to stderr.
static void dc_emit_message(j_common_ptr cinfo, int msg_level) {
    dc_jpeg_error *err = (dc_jpeg_error *)cinfo->err;
    if (msg_level < 0) {
        if (err->strict && !dc_benign_warning(cinfo->err->msg_code)) {
            (*cinfo->err->format_message)(cinfo, err->message);
            longjmp(err->jump, 1);
        }
        cinfo->err->num_warnings++;
    }
}

static void dc_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void dc_install_error_manager(struct jpeg_decompress_struct *cinfo, dc_jpeg_error *err,
                                     int strict) {
    memset(err, 0, sizeof(*err));
    cinfo->err = jpeg_std_error(&err->pub);
    err->pub.error_exit = dc_error_exit;
    err->pub.emit_message = dc_emit_message;
    err->pub.output_message = dc_output_message;
    err->strict = strict;
}

// MARK: - EXIF orientation

static unsigned dc_rd16(const unsigned char *p, int le) {
    return le ? (unsigned)(p[0] | (p[1] << 8)) : (unsigned)((p[0] << 8) | p[1]);
}

static uint32_t dc_rd32(const unsigned char *p, int le) {
    return le ? ((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24))
              : (((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
}

int dc_exif_orientation(const unsigned char *app1, size_t size) {
    // "Exif\0\0" then a TIFF header: byte order "II"/"MM", 42, offset of IFD0 (from the
    // TIFF header). IFD0 = count, then 12-byte entries (tag, type, count, value/offset).
    if (!app1 || size < 6 + 8 || memcmp(app1, "Exif\0\0", 6) != 0) return 0;
    const unsigned char *t = app1 + 6;
    size_t n = size - 6;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else return 0;
    if (dc_rd16(t + 2, le) != 42) return 0;
    uint32_t ifd = dc_rd32(t + 4, le);
    if (ifd < 8 || ifd > n || n - ifd < 2) return 0;
    unsigned count = dc_rd16(t + ifd, le);
    size_t pos = (size_t)ifd + 2;
    for (unsigned i = 0; i < count; i++, pos += 12) {
        if (pos > n || n - pos < 12) return 0;
        if (dc_rd16(t + pos, le) != 0x0112) continue;
        unsigned type = dc_rd16(t + pos + 2, le);
        uint32_t cnt = dc_rd32(t + pos + 4, le);
        uint32_t v;
        if (cnt < 1) return 0;
        if (type == 3) v = dc_rd16(t + pos + 8, le);        // SHORT (the standard type)
        else if (type == 4) v = dc_rd32(t + pos + 8, le);   // LONG (seen from some writers)
        else return 0;
        return (v >= 1 && v <= 8) ? (int)v : 0;
    }
    return 0;
}

// MARK: - JPEG decoding

static int dc_map_color_space(J_COLOR_SPACE cs) {
    switch (cs) {
    case JCS_GRAYSCALE: return DC_CS_GRAY;
    case JCS_RGB: return DC_CS_RGB;
    case JCS_YCbCr: return DC_CS_YCBCR;
    case JCS_CMYK: return DC_CS_CMYK;
    case JCS_YCCK: return DC_CS_YCCK;
    default: return DC_CS_UNKNOWN;
    }
}

// Everything the error path must release lives here, in memory whose address escapes
// (so its fields are not cached in registers across longjmp).
typedef struct {
    struct jpeg_decompress_struct cinfo;
    dc_jpeg_error err;
    int created;
    unsigned char *row;  // CMYK scanline buffer
} dc_jpeg_state;

static void dc_jpeg_cleanup(dc_jpeg_state *st) {
    if (st->row) { free(st->row); st->row = NULL; }
    if (st->created) { jpeg_destroy_decompress(&st->cinfo); st->created = 0; }
}

// Creates the decompressor, reads the header and fills `info`. Must be called inside the
// caller's setjmp scope (it may longjmp).
static int dc_jpeg_read_header(dc_jpeg_state *st, const unsigned char *data, size_t size,
                               int scale_num, dc_jpeg_info *info) {
    jpeg_create_decompress(&st->cinfo);
    st->created = 1;
    jpeg_mem_src(&st->cinfo, data, (unsigned long)size);
    jpeg_save_markers(&st->cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&st->cinfo, TRUE);

    info->width = (int)st->cinfo.image_width;
    info->height = (int)st->cinfo.image_height;
    info->components = st->cinfo.num_components;
    info->color_space = dc_map_color_space(st->cinfo.jpeg_color_space);
    info->progressive = st->cinfo.progressive_mode ? 1 : 0;
    info->saw_adobe_marker = st->cinfo.saw_Adobe_marker ? 1 : 0;
    info->orientation = 0;
    for (jpeg_saved_marker_ptr m = st->cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            info->orientation = dc_exif_orientation(m->data, m->data_length);
            break;
        }
    }

    switch (st->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: case JCS_RGB: case JCS_YCbCr:
        st->cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK: case JCS_YCCK:
        st->cinfo.out_color_space = JCS_CMYK;
        break;
    default:
        snprintf(info->message, sizeof(info->message),
                 "unsupported JPEG colour space (%d components, libjpeg colour space %d)",
                 st->cinfo.num_components, (int)st->cinfo.jpeg_color_space);
        return DC_IMG_ERR_COLORSPACE;
    }
    st->cinfo.scale_num = (unsigned)scale_num;
    st->cinfo.scale_denom = 8;
    jpeg_calc_output_dimensions(&st->cinfo);
    info->output_width = (int)st->cinfo.output_width;
    info->output_height = (int)st->cinfo.output_height;
    return DC_IMG_OK;
}

int dc_jpeg_probe(const unsigned char *data, size_t size, int scale_num, int strict,
                  dc_jpeg_info *info) {
    if (!info) return DC_IMG_ERR_ARGUMENT;
    memset(info, 0, sizeof(*info));
    if (!data || size == 0 || scale_num < 1 || scale_num > 16) {
        copy_message(info->message, sizeof(info->message), "invalid arguments");
        return DC_IMG_ERR_ARGUMENT;
    }
    dc_jpeg_state st;
    memset(&st, 0, sizeof(st));
    dc_install_error_manager(&st.cinfo, &st.err, strict);
    if (setjmp(st.err.jump)) {
        copy_message(info->message, sizeof(info->message), st.err.message);
        dc_jpeg_cleanup(&st);
        return DC_IMG_ERR_CORRUPT;
    }
    int status = dc_jpeg_read_header(&st, data, size, scale_num, info);
    dc_jpeg_cleanup(&st);
    return status;
}

// Pillow's CMYK -> RGB (Convert.c cmyk2rgb) applied to Adobe-inverted samples, which
// Pillow un-inverts first ("CMYK;I" raw mode): c = 255 - stored.
static inline unsigned char dc_cmyk_channel(int stored_c, int stored_k) {
    int c = 255 - stored_c, nk = stored_k;  // nk = 255 - k, k = 255 - stored_k
    int tmp = c * nk + 128;
    int v = nk - (((tmp >> 8) + tmp) >> 8);
    return (unsigned char)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

int dc_jpeg_decode(const unsigned char *data, size_t size, int scale_num, int strict,
                   long long max_pixels, unsigned char *out, size_t out_size, dc_jpeg_info *info) {
    if (!info) return DC_IMG_ERR_ARGUMENT;
    memset(info, 0, sizeof(*info));
    if (!data || size == 0 || !out || scale_num < 1 || scale_num > 16) {
        copy_message(info->message, sizeof(info->message), "invalid arguments");
        return DC_IMG_ERR_ARGUMENT;
    }
    dc_jpeg_state st;
    memset(&st, 0, sizeof(st));
    dc_install_error_manager(&st.cinfo, &st.err, strict);
    if (setjmp(st.err.jump)) {
        copy_message(info->message, sizeof(info->message), st.err.message);
        dc_jpeg_cleanup(&st);
        return DC_IMG_ERR_CORRUPT;
    }
    int status = dc_jpeg_read_header(&st, data, size, scale_num, info);
    if (status != DC_IMG_OK) { dc_jpeg_cleanup(&st); return status; }

    // The decompression-bomb guard: refuse before jpeg_start_decompress allocates.
    long long pixels = (long long)info->width * (long long)info->height;
    if (max_pixels > 0 && pixels > max_pixels) {
        snprintf(info->message, sizeof(info->message), "image has %lld pixels, limit %lld", pixels, max_pixels);
        dc_jpeg_cleanup(&st);
        return DC_IMG_ERR_ARGUMENT;
    }
    size_t ow = (size_t)info->output_width, oh = (size_t)info->output_height;
    if (ow == 0 || oh == 0 || ow > SIZE_MAX / 3 / oh || out_size < ow * oh * 3) {
        copy_message(info->message, sizeof(info->message), "output buffer too small for the decoded image");
        dc_jpeg_cleanup(&st);
        return DC_IMG_ERR_ARGUMENT;
    }

    jpeg_start_decompress(&st.cinfo);
    if (st.cinfo.output_width != ow || st.cinfo.output_height != oh) {
        copy_message(info->message, sizeof(info->message), "libjpeg changed the output size");
        dc_jpeg_cleanup(&st);
        return DC_IMG_ERR_ARGUMENT;
    }
    const int cmyk = st.cinfo.out_color_space == JCS_CMYK;
    if (cmyk) {
        st.row = (unsigned char *)malloc(ow * 4);
        if (!st.row) {
            copy_message(info->message, sizeof(info->message), "out of memory");
            dc_jpeg_cleanup(&st);
            return DC_IMG_ERR_NOMEM;
        }
    }
    while (st.cinfo.output_scanline < st.cinfo.output_height) {
        size_t y = st.cinfo.output_scanline;
        unsigned char *dst = out + y * ow * 3;
        JSAMPROW row = cmyk ? st.row : dst;
        if (jpeg_read_scanlines(&st.cinfo, &row, 1) != 1) {
            // Only suspending data sources return 0; memory sources never do. Be safe.
            copy_message(info->message, sizeof(info->message), "libjpeg returned no scanline");
            dc_jpeg_cleanup(&st);
            return DC_IMG_ERR_CORRUPT;
        }
        if (cmyk) {
            const unsigned char *s = st.row;
            for (size_t x = 0; x < ow; x++, s += 4, dst += 3) {
                dst[0] = dc_cmyk_channel(s[0], s[3]);
                dst[1] = dc_cmyk_channel(s[1], s[3]);
                dst[2] = dc_cmyk_channel(s[2], s[3]);
            }
        }
    }
    // Reads up to EOI: in strict mode a file cut right after the last scan still fails.
    jpeg_finish_decompress(&st.cinfo);
    dc_jpeg_cleanup(&st);
    return DC_IMG_OK;
}

// MARK: - PNG

static void dc_png_fill_info(const png_image *img, dc_png_info *info) {
    info->width = (int)img->width;
    info->height = (int)img->height;
    info->has_alpha = (img->format & PNG_FORMAT_FLAG_ALPHA) ? 1 : 0;
    info->is_color = (img->format & PNG_FORMAT_FLAG_COLOR) ? 1 : 0;
    info->is_16bit = (img->format & PNG_FORMAT_FLAG_LINEAR) ? 1 : 0;
    info->is_palette = (img->format & PNG_FORMAT_FLAG_COLORMAP) ? 1 : 0;
}

int dc_png_probe(const unsigned char *data, size_t size, dc_png_info *info) {
    if (!info) return DC_IMG_ERR_ARGUMENT;
    memset(info, 0, sizeof(*info));
    if (!data || size == 0) {
        copy_message(info->message, sizeof(info->message), "invalid arguments");
        return DC_IMG_ERR_ARGUMENT;
    }
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, size)) {
        copy_message(info->message, sizeof(info->message), img.message);
        png_image_free(&img);
        return DC_IMG_ERR_CORRUPT;
    }
    dc_png_fill_info(&img, info);
    png_image_free(&img);
    return DC_IMG_OK;
}

int dc_png_decode(const unsigned char *data, size_t size, long long max_pixels,
                  unsigned char *out, size_t out_size, dc_png_info *info) {
    if (!info) return DC_IMG_ERR_ARGUMENT;
    memset(info, 0, sizeof(*info));
    if (!data || size == 0 || !out) {
        copy_message(info->message, sizeof(info->message), "invalid arguments");
        return DC_IMG_ERR_ARGUMENT;
    }
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, size)) {
        copy_message(info->message, sizeof(info->message), img.message);
        png_image_free(&img);
        return DC_IMG_ERR_CORRUPT;
    }
    dc_png_fill_info(&img, info);
    long long pixels = (long long)img.width * (long long)img.height;
    if (max_pixels > 0 && pixels > max_pixels) {
        snprintf(info->message, sizeof(info->message), "image has %lld pixels, limit %lld", pixels, max_pixels);
        png_image_free(&img);
        return DC_IMG_ERR_ARGUMENT;
    }
    size_t w = img.width, h = img.height;
    if (w == 0 || h == 0 || w > (size_t)INT32_MAX / 3 || w > SIZE_MAX / 3 / h || out_size < w * h * 3) {
        copy_message(info->message, sizeof(info->message), "output buffer too small for the decoded image");
        png_image_free(&img);
        return DC_IMG_ERR_ARGUMENT;
    }
    // 16-bit files without gAMA/sRGB are taken as sRGB-encoded (as Pillow does, which keeps
    // the high byte) rather than libpng's default of linear.
    img.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    img.format = PNG_FORMAT_RGB;
    png_color white = {255, 255, 255};
    if (!png_image_finish_read(&img, &white, out, (png_int_32)(w * 3), NULL)) {
        copy_message(info->message, sizeof(info->message), img.message);
        png_image_free(&img);
        return DC_IMG_ERR_CORRUPT;
    }
    png_image_free(&img);
    return DC_IMG_OK;
}

// MARK: - Encoders

typedef struct {
    struct jpeg_compress_struct cinfo;
    dc_jpeg_error err;
    int created;
    unsigned char *buffer;
    unsigned long size;
} dc_jpeg_enc_state;

int dc_jpeg_encode(const unsigned char *pixels, int width, int height, int components,
                   int quality, int ycck, int progressive, unsigned char **out, unsigned long *out_size,
                   char *message, size_t message_size) {
    if (!pixels || !out || !out_size || width <= 0 || height <= 0 ||
        !(components == 1 || components == 3 || components == 4)) {
        copy_message(message, message_size, "invalid arguments");
        return DC_IMG_ERR_ARGUMENT;
    }
    *out = NULL;
    *out_size = 0;
    dc_jpeg_enc_state st;
    memset(&st, 0, sizeof(st));
    st.cinfo.err = jpeg_std_error(&st.err.pub);
    st.err.pub.error_exit = dc_error_exit;
    st.err.pub.output_message = dc_output_message;
    if (setjmp(st.err.jump)) {
        copy_message(message, message_size, st.err.message);
        if (st.created) jpeg_destroy_compress(&st.cinfo);
        free(st.buffer);
        return DC_IMG_ERR_CORRUPT;
    }
    jpeg_create_compress(&st.cinfo);
    st.created = 1;
    jpeg_mem_dest(&st.cinfo, &st.buffer, &st.size);
    st.cinfo.image_width = (JDIMENSION)width;
    st.cinfo.image_height = (JDIMENSION)height;
    st.cinfo.input_components = components;
    st.cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : (components == 3 ? JCS_RGB : JCS_CMYK);
    jpeg_set_defaults(&st.cinfo);
    if (components == 4 && ycck) jpeg_set_colorspace(&st.cinfo, JCS_YCCK);
    jpeg_set_quality(&st.cinfo, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
    if (progressive) jpeg_simple_progression(&st.cinfo);
    jpeg_start_compress(&st.cinfo, TRUE);
    size_t stride = (size_t)width * (size_t)components;
    while (st.cinfo.next_scanline < st.cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)st.cinfo.next_scanline * stride);
        jpeg_write_scanlines(&st.cinfo, &row, 1);
    }
    jpeg_finish_compress(&st.cinfo);
    jpeg_destroy_compress(&st.cinfo);
    *out = st.buffer;
    *out_size = st.size;
    return DC_IMG_OK;
}

int dc_png_encode(const void *pixels, int width, int height, int components, int sixteen_bit,
                  unsigned char **out, unsigned long *out_size,
                  char *message, size_t message_size) {
    if (!pixels || !out || !out_size || width <= 0 || height <= 0 || components < 1 || components > 4) {
        copy_message(message, message_size, "invalid arguments");
        return DC_IMG_ERR_ARGUMENT;
    }
    *out = NULL;
    *out_size = 0;
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width;
    img.height = (png_uint_32)height;
    static const png_uint_32 formats[4] = {PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA};
    img.format = formats[components - 1] | (sixteen_bit ? PNG_FORMAT_FLAG_LINEAR : 0);
    png_alloc_size_t needed = 0;
    if (!png_image_write_get_memory_size(img, needed, 0, pixels, 0, NULL)) {
        copy_message(message, message_size, img.message);
        png_image_free(&img);
        return DC_IMG_ERR_CORRUPT;
    }
    unsigned char *buffer = (unsigned char *)malloc(needed ? needed : 1);
    if (!buffer) {
        copy_message(message, message_size, "out of memory");
        return DC_IMG_ERR_NOMEM;
    }
    if (!png_image_write_to_memory(&img, buffer, &needed, 0, pixels, 0, NULL)) {
        copy_message(message, message_size, img.message);
        png_image_free(&img);
        free(buffer);
        return DC_IMG_ERR_CORRUPT;
    }
    *out = buffer;
    *out_size = (unsigned long)needed;
    return DC_IMG_OK;
}

void dc_free(void *pointer) { free(pointer); }
