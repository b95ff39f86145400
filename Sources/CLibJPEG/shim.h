// libjpeg(-turbo) from Debian's libjpeg-dev. jpeglib.h needs stdio's FILE first.
#include <stdio.h>
#include <stddef.h>
#include <jpeglib.h>
