/* Runs the exported net() on its test vectors and checks TinyGrad's logits (host, under sanitizers). */
#include <math.h>
#include <stdio.h>

#include "model_float.h"
#include "model_float_test_vectors.h"

int main(void) {
    int ok = 0;
    float in[MODEL_FLOAT_INPUT_SIZE], out[MODEL_FLOAT_OUTPUT_SIZE];
    for (int v = 0; v < MODEL_FLOAT_TEST_COUNT; v++) {
        for (int i = 0; i < MODEL_FLOAT_INPUT_SIZE; i++) in[i] = model_float_test_inputs[v][i] * MODEL_FLOAT_INPUT_SCALE;
        net(in, out);
        float worst = 0.0f;
        for (int k = 0; k < MODEL_FLOAT_OUTPUT_SIZE; k++) {
            float d = fabsf(out[k] - model_float_test_logits[v][k]);
            if (d > worst) worst = d;
        }
        if (worst <= 1e-4f) ok++;
        else printf("vector %d: max |diff| %g\n", v, (double)worst);
    }
    printf("%d/%d vectors match\n", ok, MODEL_FLOAT_TEST_COUNT);
    return ok == MODEL_FLOAT_TEST_COUNT ? 0 : 1;
}
