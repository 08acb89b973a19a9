/* Benchmark image main: run the model on every test vector, time each inference
 * with SysTick, compare the outputs with the host build's, and leave everything in
 * `bench_report` for the emulator driver (bench/rp2040/harness.py) to read.
 *
 * bench_config.h is generated per build: it includes the model header and defines
 * BENCH_N, bench_out_t, BENCH_PREPARE(u8_image) (input conversion, not timed),
 * BENCH_RUN(u8_image, out) (the timed call), BENCH_OUT_EQUAL(a, b), and the const
 * arrays bench_inputs[BENCH_N][784] and bench_expected[BENCH_N][10].
 */
#include <stdint.h>

#include "bench_config.h"
#include "cycles.h"

#define BENCH_MAGIC 0x50494e38u /* "PIN8" */

struct bench_report {
    uint32_t magic;      /* set last, so a crash mid-run is visible */
    uint32_t n_run;
    uint32_t n_mismatch; /* vectors whose outputs differ from the host build's */
    uint32_t cycles[BENCH_N];
    bench_out_t outputs[BENCH_N][10];
};

struct bench_report bench_report;

int main(void) {
    cycles_start();
    for (uint32_t v = 0; v < BENCH_N; v++) {
        BENCH_PREPARE(bench_inputs[v]);
        uint32_t t0 = cycles_now();
        BENCH_RUN(bench_inputs[v], bench_report.outputs[v]);
        bench_report.cycles[v] = cycles_now() - t0;
        for (int k = 0; k < 10; k++) {
            if (!BENCH_OUT_EQUAL(bench_report.outputs[v][k], bench_expected[v][k])) {
                bench_report.n_mismatch++;
                break;
            }
        }
        bench_report.n_run = v + 1;
    }
    bench_report.magic = BENCH_MAGIC;
    return 0;
}
