#include "image_codecs.h"
int dc_image_codecs_version(void) { return 1; }
