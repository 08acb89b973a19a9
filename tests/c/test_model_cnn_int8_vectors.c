/* Runs the TinyGrad-rendered net_cnn_int8 on the exported test vectors and checks every
 * int32 output exactly (the numpy integer reference's). Exit code 0 when all match. */
#include <stdio.h>

#include "model_cnn_int8.h"
#include "model_cnn_int8_test_vectors.h"

int main(void) {
    int ok = 0;
    for (int v = 0; v < MODEL_CNN_INT8_TEST_COUNT; v++) {
        int32_t out[MODEL_CNN_INT8_OUTPUT_SIZE];
        net_cnn_int8(model_cnn_int8_test_inputs[v], out);
        int same = 1;
        for (int k = 0; k < MODEL_CNN_INT8_OUTPUT_SIZE; k++) {
            same &= out[k] == model_cnn_int8_test_outputs[v][k];
        }
        ok += same;
    }
    printf("net_cnn_int8: %d/%d vectors match\n", ok, MODEL_CNN_INT8_TEST_COUNT);
    return ok == MODEL_CNN_INT8_TEST_COUNT ? 0 : 1;
}
