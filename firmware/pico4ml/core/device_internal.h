/* What device.c, device_frame.c and device_publish.c share; not part of the device API. */
#ifndef PICO4ML_DEVICE_INTERNAL_H
#define PICO4ML_DEVICE_INTERNAL_H

#include "device.h"

#define MODEL_KIND ((uint8_t)classifier_model_kind()) /* CLASSIFIER_KIND_* = PROTO_MODEL_* */

uint64_t device_now_us(const device *d);
/* Send one message if the sink has room for all of it now, else count it dropped (-1). */
int device_send(device *d, uint8_t type, const proto_piece *pieces, size_t npieces);
int device_send1(device *d, uint8_t type, const uint8_t *payload, size_t len);
void device_send_stats(device *d);
/* FRAME: start sending an image in row bands; send what fits of the pending one. */
void device_frame_start(device *d, const device_frame *f);
void device_frame_pump(device *d);

#endif
