/* Runs both int8 nets (TinyGrad-rendered net_int8 and hand-written net_int8_fast) on the
 * exported test vectors and checks every int32 output exactly. Exit code 0 when all match. */
#include <stdio.h>

#include "model_int8.h"
#include "model_int8_test_vectors.h"
#include "net_int8_fast.h"

static int check(const char *name, void (*fn)(const uint8_t *, int32_t *)) {
    int ok = 0;
    for (int v = 0; v < MODEL_INT8_TEST_COUNT; v++) {
        int32_t out[MODEL_INT8_OUTPUT_SIZE];
        fn(model_int8_test_inputs[v], out);
        int same = 1;
        for (int k = 0; k < MODEL_INT8_OUTPUT_SIZE; k++) {
            same &= out[k] == model_int8_test_outputs[v][k];
        }
        ok += same;
    }
    printf("%s: %d/%d vectors match\n", name, ok, MODEL_INT8_TEST_COUNT);
    return ok == MODEL_INT8_TEST_COUNT;
}

int main(void) {
    int ok = check("net_int8", net_int8);
    ok &= check("net_int8_fast", net_int8_fast);
    return ok ? 0 : 1;
}
