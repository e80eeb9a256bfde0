/* The differentiable op API used by layers and models. Each function computes its
 * result now and records a backward node when gradients flow (see tape.h). All return
 * NULL on error with the first error kept in the tape (sticky). Shapes use the letters of
 * the style guide: N rows (tokens), C/OC columns, B sequences, T positions, NH heads. */
#ifndef MGSD_AUTOGRAD_AG_H
#define MGSD_AUTOGRAD_AG_H

#include "autograd/tape.h"

/* ---- dense (ag_dense.c) ---- */
/* y[..., OC] = x[..., C] . w[OC, C]^T + b[OC]   (b may be NULL) */
mgsd_tensor *ag_linear(mgsd_tape *t, mgsd_tensor *x, mgsd_tensor *w, mgsd_tensor *b);

#endif
