/* A fake RP2040 board for running the real camera and LCD drivers on the host
 * (drivers/hm01b0/hm01b0.c, drivers/st7735/st7735.c): the Pico SDK calls they
 * make, on a virtual clock of 125 MHz cycles, with
 *  - a PIO block that executes the assembled program (hm01b0.pio.h from the
 *    firmware build) instruction by instruction, one per cycle,
 *  - DMA channels (PIO RX and SPI TX pacing, write-address ring wrap),
 *  - NVIC-style interrupts for the PIO's IRQ 0 (handlers run between cycles),
 *  - an HM01B0 on I2C (register file, model id, software reset, transaction log)
 *    that streams its frames on D0/PCLK/HSYNC/VSYNC in the mode its registers
 *    select, with faults a test can switch on (fake_sensor),
 *  - SPI that logs every byte with the DC line, for the LCD's command stream,
 *  - GPIO with a log of every output change, and PWM that records MCLK.
 * Every header in hardware/ and pico/time.h here includes this one.
 * One thread only: time passes when the driver asks for it or sleeps. */
#ifndef FAKE_BOARD_H
#define FAKE_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned int uint;

#define FB_CLK_SYS_HZ 125000000u
#define FB_CYCLES_PER_US (FB_CLK_SYS_HZ / 1000000u)
#define PICO_ERROR_GENERIC (-1)
#define PICO_ERROR_TIMEOUT (-2)
#define __not_in_flash_func(name) name
#define __unused __attribute__((unused))

/* ---- time (pico/time.h) ---- */
typedef uint64_t absolute_time_t;
absolute_time_t get_absolute_time(void);
uint64_t time_us_64(void);
static inline absolute_time_t delayed_by_us(absolute_time_t t, uint64_t us) { return t + us; }
static inline int64_t absolute_time_diff_us(absolute_time_t from, absolute_time_t to) {
    return (int64_t)(to - from);
}
absolute_time_t make_timeout_time_us(uint64_t us);
bool time_reached(absolute_time_t t);
void sleep_ms(uint32_t ms);
void sleep_us(uint64_t us);
void tight_loop_contents(void);

/* ---- clocks ---- */
enum clock_index { clk_sys = 5 };
uint32_t clock_get_hz(enum clock_index clk);

/* ---- GPIO ---- */
#define GPIO_IN false
#define GPIO_OUT true
enum gpio_function { GPIO_FUNC_SPI = 1, GPIO_FUNC_I2C = 3, GPIO_FUNC_PWM = 4, GPIO_FUNC_SIO = 5, GPIO_FUNC_PIO0 = 6,
                     GPIO_FUNC_NULL = 0x1f };
void gpio_init(uint pin);
void gpio_set_dir(uint pin, bool out);
void gpio_put(uint pin, bool value);
bool gpio_get(uint pin);
void gpio_set_function(uint pin, enum gpio_function fn);
void gpio_pull_up(uint pin);
enum gpio_irq_level { GPIO_IRQ_EDGE_FALL = 0x4u, GPIO_IRQ_EDGE_RISE = 0x8u };
typedef void (*irq_handler_t)(void);
void gpio_set_irq_enabled(uint pin, uint32_t events, bool enabled);
uint32_t gpio_get_irq_event_mask(uint pin);
void gpio_acknowledge_irq(uint pin, uint32_t events);
void gpio_add_raw_irq_handler(uint pin, irq_handler_t handler);

/* ---- interrupts ---- */
#define PICO_SHARED_IRQ_HANDLER_DEFAULT_ORDER_PRIORITY 0x80
#define PIO0_IRQ_0 7
#define PIO1_IRQ_0 9
#define IO_IRQ_BANK0 13
void irq_add_shared_handler(uint num, irq_handler_t handler, uint8_t order_priority);
void irq_remove_handler(uint num, irq_handler_t handler);
void irq_set_enabled(uint num, bool enabled);
uint32_t save_and_disable_interrupts(void);
void restore_interrupts(uint32_t status);

/* ---- I2C ---- */
typedef struct fake_i2c { int index; } i2c_inst_t;
extern i2c_inst_t fb_i2c0;
#define i2c0 (&fb_i2c0)
uint i2c_init(i2c_inst_t *i2c, uint baudrate);
int i2c_write_timeout_us(i2c_inst_t *i2c, uint8_t addr, const uint8_t *src, size_t len, bool nostop, uint timeout_us);
int i2c_read_timeout_us(i2c_inst_t *i2c, uint8_t addr, uint8_t *dst, size_t len, bool nostop, uint timeout_us);

/* ---- PWM ---- */
typedef struct { uint32_t div_int, wrap; } pwm_config;
static inline uint pwm_gpio_to_slice_num(uint pin) { return (pin >> 1u) & 7u; }
pwm_config pwm_get_default_config(void);
static inline void pwm_config_set_clkdiv_int(pwm_config *c, uint div) { c->div_int = div; }
static inline void pwm_config_set_wrap(pwm_config *c, uint16_t wrap) { c->wrap = wrap; }
void pwm_init(uint slice, pwm_config *c, bool start);
void pwm_set_gpio_level(uint pin, uint16_t level);
void pwm_set_enabled(uint slice, bool enabled);

/* ---- PIO ---- */
typedef struct fake_pio {
    uint32_t rxf[4];          /* DMA read address of each state machine's RX FIFO */
    int index;
} pio_hw_t;
typedef pio_hw_t *PIO;
extern pio_hw_t fb_pio[2];
#define pio0 (&fb_pio[0])
#define pio1 (&fb_pio[1])
typedef struct pio_program {
    const uint16_t *instructions;
    uint8_t length;
    int8_t origin;
    uint8_t pio_version;
} pio_program_t;
typedef struct {
    uint in_base, jmp_pin, wrap_bottom, wrap_top, push_threshold;
    bool in_shift_right, autopush;
} pio_sm_config;
typedef enum pio_interrupt_source { pis_interrupt0 = 8 } pio_interrupt_source_t;
static inline pio_sm_config pio_get_default_sm_config(void) {
    pio_sm_config c = {0, 0, 0, 31, 32, true, false};
    return c;
}
static inline void sm_config_set_wrap(pio_sm_config *c, uint bottom, uint top) { c->wrap_bottom = bottom; c->wrap_top = top; }
static inline void sm_config_set_in_pins(pio_sm_config *c, uint base) { c->in_base = base; }
static inline void sm_config_set_jmp_pin(pio_sm_config *c, uint pin) { c->jmp_pin = pin; }
static inline void sm_config_set_in_shift(pio_sm_config *c, bool right, bool autopush, uint threshold) {
    c->in_shift_right = right;
    c->autopush = autopush;
    c->push_threshold = threshold;
}
static inline uint pio_encode_jmp(uint addr) { return addr & 31u; }
bool pio_claim_free_sm_and_add_program(const pio_program_t *program, PIO *pio, uint *sm, uint *offset);
void pio_remove_program_and_unclaim_sm(const pio_program_t *program, PIO pio, uint sm, uint offset);
void pio_sm_init(PIO pio, uint sm, uint initial_pc, const pio_sm_config *config);
void pio_sm_set_pindirs_with_mask(PIO pio, uint sm, uint32_t pindirs, uint32_t mask);
void pio_sm_set_enabled(PIO pio, uint sm, bool enabled);
void pio_sm_clear_fifos(PIO pio, uint sm);
void pio_sm_restart(PIO pio, uint sm);
void pio_sm_exec(PIO pio, uint sm, uint instr);
void pio_sm_put(PIO pio, uint sm, uint32_t data);
uint8_t pio_sm_get_pc(PIO pio, uint sm);
bool pio_interrupt_get(PIO pio, uint num);
void pio_interrupt_clear(PIO pio, uint num);
void pio_set_irq0_source_enabled(PIO pio, pio_interrupt_source_t source, bool enabled);
static inline int pio_get_irq_num(PIO pio, uint irqn) { return (pio->index ? PIO1_IRQ_0 : PIO0_IRQ_0) + (int)irqn; }
static inline uint pio_get_dreq(PIO pio, uint sm, bool is_tx) { return (uint)pio->index * 8u + (is_tx ? 0u : 4u) + sm; }

/* ---- SPI ---- */
typedef struct { uint32_t dr; } spi_hw_t;
typedef struct fake_spi { spi_hw_t hw; int index; } spi_inst_t;
extern spi_inst_t fb_spi1;
#define spi1 (&fb_spi1)
typedef enum { SPI_CPOL_0 = 0 } spi_cpol_t;
typedef enum { SPI_CPHA_0 = 0 } spi_cpha_t;
typedef enum { SPI_MSB_FIRST = 1 } spi_order_t;
uint spi_init(spi_inst_t *spi, uint baudrate);
void spi_set_format(spi_inst_t *spi, uint data_bits, spi_cpol_t cpol, spi_cpha_t cpha, spi_order_t order);
int spi_write_blocking(spi_inst_t *spi, const uint8_t *src, size_t len);
static inline spi_hw_t *spi_get_hw(spi_inst_t *spi) { return &spi->hw; }
static inline uint spi_get_dreq(spi_inst_t *spi, bool is_tx) { (void)spi; return is_tx ? 18u : 19u; }
static inline bool spi_is_busy(const spi_inst_t *spi) { (void)spi; return false; }

/* ---- DMA ---- */
enum dma_channel_transfer_size { DMA_SIZE_8 = 0, DMA_SIZE_16 = 1, DMA_SIZE_32 = 2 };
typedef struct {
    uint size, dreq, ring_bits;
    bool read_incr, write_incr, ring_write;
} dma_channel_config;
typedef struct { volatile uint32_t transfer_count; } dma_channel_hw_t;
int dma_claim_unused_channel(bool required);
void dma_channel_unclaim(uint ch);
dma_channel_config dma_channel_get_default_config(uint ch);
static inline void channel_config_set_transfer_data_size(dma_channel_config *c, enum dma_channel_transfer_size s) {
    c->size = (uint)s;
}
static inline void channel_config_set_read_increment(dma_channel_config *c, bool on) { c->read_incr = on; }
static inline void channel_config_set_write_increment(dma_channel_config *c, bool on) { c->write_incr = on; }
static inline void channel_config_set_dreq(dma_channel_config *c, uint dreq) { c->dreq = dreq; }
static inline void channel_config_set_ring(dma_channel_config *c, bool write, uint size_bits) {
    c->ring_write = write;
    c->ring_bits = size_bits;
}
void dma_channel_configure(uint ch, const dma_channel_config *c, volatile void *write_addr,
                           const volatile void *read_addr, uint transfer_count, bool trigger);
bool dma_channel_is_busy(uint ch);
void dma_channel_abort(uint ch);
dma_channel_hw_t *dma_channel_hw_addr(uint ch);

/* ======== what a test sees and controls ======== */

uint64_t fb_cycles(void);          /* virtual time, in clk_sys cycles */
void fb_reset(void);               /* power on: fresh sensor, buses, logs (keeps the fake_sensor settings) */

typedef struct { uint64_t cycle; uint pin; bool value; } fb_gpio_event;
#define FB_GPIO_LOG 64
extern fb_gpio_event fb_gpio_log[FB_GPIO_LOG];
extern int fb_gpio_log_n;
extern bool fb_pull_up[32];
extern enum gpio_function fb_gpio_fn[32];

typedef struct { uint64_t cycle; uint16_t reg; uint8_t value; bool write; } fb_i2c_event;
#define FB_I2C_LOG 512
extern fb_i2c_event fb_i2c_log[FB_I2C_LOG];
extern int fb_i2c_log_n;
extern uint fb_i2c_baud;
extern uint64_t fb_i2c_first_cycle;  /* first transfer attempt (ACKed or not) */

extern uint32_t fb_mclk_hz;           /* from the PWM on the MCLK pin (GP3) */
extern uint64_t fb_mclk_on_cycle;

typedef struct { uint64_t cycle; bool dc; uint8_t byte; } fb_spi_event;
#define FB_SPI_LOG 4096
extern fb_spi_event fb_spi_log[FB_SPI_LOG];
extern int fb_spi_log_n;
extern uint32_t fb_spi_pixels;        /* 16-bit words the DMA sent to SPI */
extern uint16_t fb_spi_last_pixel;
extern uint fb_spi_baud;

extern bool fb_irq_blocked;           /* true: interrupts never run (a core that holds them off) */
extern uint32_t fb_isr_calls;

/* The HM01B0 on the bus. Frames stream while MODE_SELECT is 1, in the mode the
 * readout registers select: 162x162 when 0x0383/0x0387/0x0390 are 3 (binned),
 * 324x324 when they are 1/1/0 with 0x3010 = 0 (full window); any other setting
 * streams nothing. Pixel (frame n, line r, column c) = fake_sensor_pixel(). */
typedef struct {
    uint16_t model_id;          /* answered at 0x0000/0x0001 (0x01B0) */
    int vsync_early_lines;      /* VSYNC falls this many lines before the last line ends */
    int missing_lines[3];       /* per mode (1 binned, 2 full): lines the sensor leaves out */
    uint bit_cycles;            /* clk_sys cycles per PCLK (>= 5) */
    uint line_gap_cycles, lead_cycles, vblank_cycles;
} fake_sensor_config;
extern fake_sensor_config fake_sensor;
uint8_t fake_sensor_pixel(uint32_t frame, uint32_t line, uint32_t col);
uint8_t fb_sensor_reg(uint16_t reg);  /* the sensor's register file */

#endif
