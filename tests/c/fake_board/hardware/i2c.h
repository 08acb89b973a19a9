/* Fake hardware/i2c.h: see fake_board.h. */
#include "fake_board.h"
