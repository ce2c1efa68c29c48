//! Entry points shared by the fuzz targets and the seed-corpus tests. (in progress)
