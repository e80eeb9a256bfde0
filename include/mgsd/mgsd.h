/* mgsd: sequential recommendation with MGSD-WSS. Umbrella header. */
#ifndef MGSD_H
#define MGSD_H
#include "mgsd/core.h"
#endif
