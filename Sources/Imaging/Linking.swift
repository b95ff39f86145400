// The C shim (CImageCodecs) includes <jpeglib.h> and <png.h> directly, so the `link`
// lines of the CLibJPEG/CLibPNG module maps only reach the linker through a Swift import:
// importing them here makes every product that uses Imaging link libjpeg and libpng16.
import CLibJPEG
import CLibPNG
