// zlib from Debian (zlib1g-dev): gunzip of the bundled CLIP BPE vocabulary.
#include <zlib.h>
