/* Fake hardware/dma.h: see fake_board.h. */
#include "fake_board.h"
