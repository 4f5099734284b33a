/* PNG (libpng) and JPEG (libjpeg-turbo through the libjpeg API) decoding to an xf_image:
 * gray (1 channel) or RGB (3 channels), 8 or 16 bits per sample, interleaved (H, W, C).
 *
 * Design: the file is read whole (with a size cap) and decoded from memory, so the file
 * and the fuzz entry point share one path; the format is chosen by magic bytes.
 * PNG: palette -> RGB, gray 1/2/4-bit -> 8-bit, alpha stripped (tRNS ignored), 16-bit kept
 * (native byte order), interlacing handled; this matches Pillow's convert('RGB') / ('L')
 * except that 16-bit stays 16-bit here (Pillow drops RGB to 8 bits).
 * JPEG: gray stays gray, YCbCr -> RGB by libjpeg with its defaults (ISLOW DCT, fancy
 * upsampling; the same as Pillow on the same libjpeg); CMYK / YCCK are refused.
 * A truncated JPEG makes libjpeg warn and pad with gray; Pillow calls that an error
 * ("image file is truncated") and so do we. Corrupt-data warnings other than that are
 * tolerated, as Pillow does.
 * Both libraries report errors by callbacks: we longjmp back with the message, which is
 * recorded on the context with the file name. Image size is capped by
 * XF_IMAGE_MAX_PIXELS before the pixel buffer is allocated (decompression bombs). */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "xfer/files.h"
#include "io/ioInt.h"

#define IMAGE_MAX_FILE ((size_t)1 << 30)
/* Declared size vs real size. Deflate cannot expand more than 1032:1 (RFC 1951: a
 * 258-byte match per 2 bits at best), so a PNG whose filtered rows need more than that
 * times the file's length plus slack cannot be valid. JPEG has no such hard bound; an
 * all-flat baseline image still spends about half a byte per 8x8 block per component,
 * so 4096 pixels per file byte is far above anything real. Both stop tiny files that
 * declare huge images from costing a huge allocation. */
#define PNG_MAX_RATIO 1032u
#define JPEG_MAX_PIXELS_PER_BYTE 4096u

void xf_image_free(xf_ctx_t *ctx, xf_image *img) {
    if (!img) return;
    xf_free(ctx, img->data);
    memset(img, 0, sizeof *img);
}

static xf_status alloc_pixels(xf_ctx_t *ctx, const char *name, xf_image *img, uint32_t w, uint32_t h, int c, int depth) {
    if (w == 0 || h == 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: image has size %ux%u", name, w, h);
    if ((uint64_t)w * h > XF_IMAGE_MAX_PIXELS || w > INT32_MAX || h > INT32_MAX)
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: image of %ux%u pixels exceeds XF_IMAGE_MAX_PIXELS (%llu)", name, w, h,
                      (unsigned long long)XF_IMAGE_MAX_PIXELS);
    size_t bytes = (size_t)w * h * (size_t)c * (size_t)(depth / 8);
    img->data = xf_malloc(ctx, bytes);
    if (!img->data) return XF_ERR_NOMEM;
    img->w = (int)w;
    img->h = (int)h;
    img->c = c;
    img->depth = depth;
    return XF_OK;
}

/* ---- PNG -------------------------------------------------------------------------- */

typedef struct {
    xf_ctx_t *ctx;
    const unsigned char *buf;
    size_t len, pos;
    jmp_buf jb;
    char msg[256];
    png_bytep *rows;
} png_job;

static void png_err(png_structp png, png_const_charp msg) {
    png_job *j = png_get_error_ptr(png);
    snprintf(j->msg, sizeof j->msg, "%s", msg);
    longjmp(j->jb, 1);
}
static void png_warn(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void png_read_mem(png_structp png, png_bytep out, size_t n) {
    png_job *j = png_get_io_ptr(png);
    if (n > j->len - j->pos) png_error(png, "file truncated");
    memcpy(out, j->buf + j->pos, n);
    j->pos += n;
}

/* libpng's own allocations go through the context too (fault injection, accounting) */
static png_voidp png_xmalloc(png_structp png, png_alloc_size_t n) {
    png_job *j = png_get_mem_ptr(png);
    return xf_malloc(j->ctx, n);
}
static void png_xfree(png_structp png, png_voidp p) {
    png_job *j = png_get_mem_ptr(png);
    xf_free(j->ctx, p);
}

static xf_status decode_png(xf_ctx_t *ctx, const unsigned char *buf, size_t len, const char *name, xf_image *img) {
    png_job job;
    memset(&job, 0, sizeof job);
    job.ctx = ctx;
    job.buf = buf;
    job.len = len;
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &job, png_err, png_warn, &job, png_xmalloc, png_xfree);
    if (!png) return XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory creating the PNG decoder", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory creating the PNG decoder", name);
    }
    png_job *volatile jp = &job; /* survives the longjmp */
    if (setjmp(job.jb)) {
        xf_free(ctx, jp->rows);
        xf_image_free(ctx, img);
        png_destroy_read_struct(&png, &info, NULL);
        if (xf_last_status(ctx) == XF_ERR_NOMEM && strstr(jp->msg, "memory"))
            return XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory decoding PNG", name);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: corrupt PNG: %s", name, jp->msg);
    }
    png_set_read_fn(png, &job, png_read_mem);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)64 << 20);
    png_read_info(png, info);
    png_uint_32 w, h;
    int bit_depth, color_type, interlace;
    png_get_IHDR(png, info, &w, &h, &bit_depth, &color_type, &interlace, NULL, NULL);
    {
        uint64_t raw_row = ((uint64_t)w * png_get_channels(png, info) * (uint64_t)bit_depth + 7) / 8 + 1;
        if ((uint64_t)h * raw_row > (uint64_t)PNG_MAX_RATIO * len + 4096) {
            png_destroy_read_struct(&png, &info, NULL);
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: PNG declares %ux%u pixels, more than its %zu bytes can hold (truncated or forged)", name,
                          (unsigned)w, (unsigned)h, len);
        }
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (bit_depth == 16) png_set_swap(png); /* PNG is big-endian; hosts are little-endian */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int c = png_get_channels(png, info);
    int depth = png_get_bit_depth(png, info);
    if ((c != 1 && c != 3) || (depth != 8 && depth != 16)) {
        snprintf(job.msg, sizeof job.msg, "unexpected layout after conversion (%d channels, %d bits)", c, depth);
        longjmp(job.jb, 1);
    }
    xf_status st = alloc_pixels(ctx, name, img, w, h, c, depth);
    if (st) {
        png_destroy_read_struct(&png, &info, NULL);
        return st;
    }
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != (size_t)w * c * (depth / 8)) {
        snprintf(job.msg, sizeof job.msg, "row size %zu does not match the header", rowbytes);
        longjmp(job.jb, 1);
    }
    job.rows = xf_malloc(ctx, sizeof(png_bytep) * h);
    if (!job.rows) {
        snprintf(job.msg, sizeof job.msg, "out of memory");
        longjmp(job.jb, 1);
    }
    for (png_uint_32 y = 0; y < h; y++) job.rows[y] = (png_bytep)img->data + (size_t)y * rowbytes;
    png_read_image(png, job.rows);
    png_read_end(png, NULL); /* checks the CRCs up to IEND */
    xf_free(ctx, job.rows);
    png_destroy_read_struct(&png, &info, NULL);
    return XF_OK;
}

/* ---- JPEG ------------------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX + 32];
} jpg_err;

static void jpg_error_exit(j_common_ptr ci) {
    jpg_err *e = (jpg_err *)ci->err;
    (*ci->err->format_message)(ci, e->msg);
    longjmp(e->jb, 1);
}
static void jpg_emit(j_common_ptr ci, int level) {
    jpg_err *e = (jpg_err *)ci->err;
    /* level -1 is a warning; the end-of-data one means the file is truncated */
    if (level == -1 && ci->err->msg_code == JWRN_JPEG_EOF) {
        snprintf(e->msg, sizeof e->msg, "file truncated (premature end of JPEG data)");
        longjmp(e->jb, 1);
    }
    if (level == -1) ci->err->num_warnings++;
}

static xf_status decode_jpeg(xf_ctx_t *ctx, const unsigned char *buf, size_t len, const char *name, xf_image *img) {
    struct jpeg_decompress_struct ci;
    jpg_err err;
    memset(&ci, 0, sizeof ci);
    ci.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpg_error_exit;
    err.pub.emit_message = jpg_emit;
    err.msg[0] = 0;
    jpg_err *volatile ep = &err;
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&ci);
        xf_image_free(ctx, img);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: corrupt JPEG: %s", name, ep->msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, buf, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    int c;
    if (ci.num_components == 1) {
        ci.out_color_space = JCS_GRAYSCALE;
        c = 1;
    } else if (ci.jpeg_color_space == JCS_YCbCr || ci.jpeg_color_space == JCS_RGB) {
        ci.out_color_space = JCS_RGB;
        c = 3;
    } else {
        jpeg_destroy_decompress(&ci);
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: JPEG colour space %d (CMYK / YCCK) is not supported", name, (int)ci.jpeg_color_space);
    }
    jpeg_start_decompress(&ci);
    if (ci.output_components != c) {
        snprintf(err.msg, sizeof err.msg, "decoder gives %d components, expected %d", ci.output_components, c);
        longjmp(err.jb, 1);
    }
    if ((uint64_t)ci.output_width * ci.output_height > (uint64_t)JPEG_MAX_PIXELS_PER_BYTE * len + (1u << 20)) {
        jpeg_destroy_decompress(&ci);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: JPEG declares %ux%u pixels, more than its %zu bytes can hold (truncated or forged)", name,
                      (unsigned)ci.output_width, (unsigned)ci.output_height, len);
    }
    xf_status st = alloc_pixels(ctx, name, img, ci.output_width, ci.output_height, c, 8);
    if (st) {
        jpeg_destroy_decompress(&ci);
        return st;
    }
    size_t stride = (size_t)img->w * c;
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = (unsigned char *)img->data + (size_t)ci.output_scanline * stride;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    return XF_OK;
}

/* ---- entry points ----------------------------------------------------------------- */

xf_status xf_image_decode_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_image *out) {
    memset(out, 0, sizeof *out);
    const unsigned char *b = buf;
    if (!name) name = "<memory>";
    if (b && len >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return decode_png(ctx, b, len, name, out);
    if (b && len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return decode_jpeg(ctx, b, len, name, out);
    return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not a PNG or JPEG file (unknown magic bytes)", name);
}

xf_status xf_image_read(xf_ctx_t *ctx, const char *path, xf_image *out) {
    memset(out, 0, sizeof *out);
    FILE *f;
    xf_status ost = xf_file_open(ctx, path, &f);
    if (ost) return ost;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        fclose(f);
        return XF_ERR(ctx, XF_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    if ((uint64_t)sb.st_size > IMAGE_MAX_FILE) {
        fclose(f);
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: image file of %lld bytes is larger than 1 GiB", path, (long long)sb.st_size);
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *buf = xf_malloc(ctx, n ? n : 1);
    if (!buf) {
        fclose(f);
        return XF_ERR_NOMEM;
    }
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    if (got != n) {
        xf_free(ctx, buf);
        return XF_ERR(ctx, XF_ERR_IO, "%s: read error", path);
    }
    xf_status st = xf_image_decode_mem(ctx, buf, n, path, out);
    xf_free(ctx, buf);
    return st;
}
