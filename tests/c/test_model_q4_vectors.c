/* Runs the built-in 4-bit net_q4 (its blob through core/blob.c) on the exported test vectors
 * and checks every int32 output exactly (the blob's numpy reference's). Exit code 0 when all
 * match and the blob opened. */
#include <stdio.h>

#include "model_q4.h"
#include "model_q4_test_vectors.h"

int main(void) {
    int status = net_q4_open();
    int ok = 0;
    for (int v = 0; v < MODEL_Q4_TEST_COUNT; v++) {
        int32_t out[MODEL_Q4_OUTPUT_SIZE];
        net_q4(model_q4_test_inputs[v], out);
        int same = 1;
        for (int k = 0; k < MODEL_Q4_OUTPUT_SIZE; k++) {
            same &= out[k] == model_q4_test_outputs[v][k];
        }
        ok += same;
    }
    printf("net_q4: blob_open %d, %d/%d vectors match\n", status, ok, MODEL_Q4_TEST_COUNT);
    return status == 0 && ok == MODEL_Q4_TEST_COUNT ? 0 : 1;
}
