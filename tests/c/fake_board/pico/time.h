/* Fake pico/time.h: see fake_board.h. */
#include "fake_board.h"
