// dialclip image codec shim: JPEG (libjpeg-turbo) and PNG (libpng simplified API) decoding
// from memory into RGB8, with strict error handling for untrusted files.
//
// Why a C shim: libjpeg reports fatal errors through error_exit, which by default calls
// exit(); the only way to recover is setjmp/longjmp, which Swift cannot do. Every entry
// point here sets up its own jmp_buf, so no libjpeg error can escape or end the process.
//
// All functions are thread-safe (no global state) and never write past `out_size`.
#ifndef DIALCLIP_IMAGE_CODECS_H
#define DIALCLIP_IMAGE_CODECS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes shared by all entry points.
typedef enum {
    DC_IMG_OK = 0,
    /// The library reported an error, or (strict mode) a warning about corrupt or
    /// truncated data. `message` holds the library's text.
    DC_IMG_ERR_CORRUPT = 1,
    /// A JPEG colour space the shim cannot turn into RGB (e.g. 2-component files).
    DC_IMG_ERR_COLORSPACE = 2,
    /// malloc failed.
    DC_IMG_ERR_NOMEM = 3,
    /// Caller error: output buffer too small, scale out of range, pixel limit exceeded.
    DC_IMG_ERR_ARGUMENT = 4,
} dc_img_status;

/// JPEG colour spaces as stored in the file (after libjpeg's guess from JFIF/Adobe markers).
typedef enum {
    DC_CS_UNKNOWN = 0,
    DC_CS_GRAY = 1,
    DC_CS_RGB = 2,
    DC_CS_YCBCR = 3,
    DC_CS_CMYK = 4,
    DC_CS_YCCK = 5,
} dc_color_space;

#define DC_IMG_MESSAGE_MAX 200

/// What a header-only JPEG probe (or a decode) learned about a file.
typedef struct {
    int width;            ///< stored width (before DCT scaling and EXIF orientation)
    int height;           ///< stored height
    int output_width;     ///< width after DCT scaling by scale_num/8
    int output_height;    ///< height after DCT scaling by scale_num/8
    int components;       ///< components in the file (1, 3 or 4)
    int color_space;      ///< a dc_color_space value
    int orientation;      ///< EXIF orientation 1...8, 0 when absent or unreadable
    int progressive;      ///< 1 for progressive JPEGs
    int saw_adobe_marker; ///< 1 when an Adobe APP14 marker was present
    char message[DC_IMG_MESSAGE_MAX]; ///< error text when a call fails
} dc_jpeg_info;

/// Reads the JPEG header (up to the first scan), without decoding pixels or allocating
/// image-sized memory. `scale_num` (1...16, denominator 8) selects the DCT scaling used to
/// compute output_width/output_height. `strict` != 0 turns libjpeg warnings into errors.
int dc_jpeg_probe(const unsigned char *data, size_t size, int scale_num, int strict,
                  dc_jpeg_info *info);

/// Decodes a JPEG into `out` as RGB8 rows (HWC, no padding), scaled by scale_num/8.
/// `out_size` must be at least output_width * output_height * 3 (probe first with the same
/// scale_num). Refuses files whose stored width*height exceeds `max_pixels` (> 0) before
/// allocating anything. Greyscale is expanded to RGB; CMYK/YCCK is converted to RGB
/// assuming Adobe's inverted CMYK (what Photoshop writes, and what Pillow assumes).
/// The EXIF orientation is reported, not applied.
int dc_jpeg_decode(const unsigned char *data, size_t size, int scale_num, int strict,
                   long long max_pixels, unsigned char *out, size_t out_size, dc_jpeg_info *info);

/// Parses the orientation tag (0x0112) out of an APP1 payload that starts with "Exif\0\0".
/// Bounds-checked against `size`; returns 1...8, or 0 when absent or malformed.
int dc_exif_orientation(const unsigned char *app1, size_t size);

/// What a header-only PNG probe (or a decode) learned about a file.
typedef struct {
    int width;
    int height;
    int has_alpha;        ///< the file has an alpha channel or tRNS transparency
    int is_color;         ///< 0 for greyscale files
    int is_16bit;         ///< 16 bits per component in the file
    int is_palette;       ///< palette (colour-mapped) file
    char message[DC_IMG_MESSAGE_MAX];
} dc_png_info;

/// Reads the PNG signature and IHDR only.
int dc_png_probe(const unsigned char *data, size_t size, dc_png_info *info);

/// Decodes a PNG into RGB8 (HWC). libpng converts palette, grey, 16-bit (taken as sRGB
/// when the file has no gamma information) and composites alpha onto white.
/// `out_size` must be at least width * height * 3. Refuses images over `max_pixels`.
int dc_png_decode(const unsigned char *data, size_t size, long long max_pixels,
                  unsigned char *out, size_t out_size, dc_png_info *info);

/// Encodes 8-bit pixels as a baseline JPEG (used by tests and to write thumbnails).
/// components: 1 (grey), 3 (RGB) or 4 (CMYK, written as-is with an Adobe marker; set
/// `ycck` to store it as YCCK; `progressive` writes libjpeg's simple progression). On success *out/*out_size hold a malloc'd buffer that the
/// caller releases with dc_free.
int dc_jpeg_encode(const unsigned char *pixels, int width, int height, int components,
                   int quality, int ycck, int progressive, unsigned char **out, unsigned long *out_size,
                   char *message, size_t message_size);

/// Encodes 8-bit pixels as PNG. components: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
/// With `sixteen_bit`, `pixels` holds native-endian uint16 linear values (libpng's
/// simplified-API convention). Result as for dc_jpeg_encode.
int dc_png_encode(const void *pixels, int width, int height, int components, int sixteen_bit,
                  unsigned char **out, unsigned long *out_size,
                  char *message, size_t message_size);

/// Releases buffers returned by the encoders.
void dc_free(void *pointer);

#ifdef __cplusplus
}
#endif
#endif
