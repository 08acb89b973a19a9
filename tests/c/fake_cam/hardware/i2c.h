/* Fake hardware/i2c.h: only the type the HM01B0 config names. */
#ifndef FAKE_I2C_H
#define FAKE_I2C_H
typedef unsigned int uint;
typedef struct fake_i2c i2c_inst_t;
#define i2c0 ((i2c_inst_t *)0)
#endif
