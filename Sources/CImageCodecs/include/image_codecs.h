// Placeholder: the JPEG/PNG decoding shim (strict libjpeg error handling) lands here.
#ifndef DIALCLIP_IMAGE_CODECS_H
#define DIALCLIP_IMAGE_CODECS_H
int dc_image_codecs_version(void);
#endif
