/* The fake RP2040 board: see fake_board.h. Wiring as on the Pico4ML
 * (board/pico4ml.h): camera reset GP2, D0 GP6, PCLK GP14, HSYNC GP15, VSYNC GP16,
 * sensor at I2C address 0x24. */
#include "fake_board.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAM_RESET 2
#define CAM_D0 6
#define CAM_PCLK 14
#define CAM_HSYNC 15
#define CAM_VSYNC 16
#define CAM_ADDR 0x24
#define IO_IRQ_BANK0_NUM IO_IRQ_BANK0

static void fail(const char *what) {
    fprintf(stderr, "fake_board: %s\n", what);
    abort();
}

static uint64_t next_edge;       /* when the sensor's pins change next */
static bool irq_dirty;           /* a flag, an event or an enable changed since the last look */
static unsigned hw_gen;          /* bumped when a state machine or DMA channel starts or stops */
static void sensor_power_on(void);

/* ---------------- virtual time ---------------- */

static uint64_t now;
uint64_t fb_cycles(void) { return now; }
static void advance(uint64_t cycles);

absolute_time_t get_absolute_time(void) {
    advance(FB_CYCLES_PER_US / 2);  /* reading the timer takes a little time too */
    return now / FB_CYCLES_PER_US;
}
uint64_t time_us_64(void) { return get_absolute_time(); }
absolute_time_t make_timeout_time_us(uint64_t us) { return get_absolute_time() + us; }
bool time_reached(absolute_time_t t) { return get_absolute_time() >= t; }
void sleep_us(uint64_t us) { advance(us * FB_CYCLES_PER_US); }
void sleep_ms(uint32_t ms) { sleep_us((uint64_t)ms * 1000u); }
void tight_loop_contents(void) { advance(FB_CYCLES_PER_US / 2); }
uint32_t clock_get_hz(enum clock_index clk) { (void)clk; return FB_CLK_SYS_HZ; }

/* ---------------- GPIO and interrupts ---------------- */

fb_gpio_event fb_gpio_log[FB_GPIO_LOG];
int fb_gpio_log_n;
bool fb_pull_up[32];
enum gpio_function fb_gpio_fn[32];
static bool out_value[32], out_dir[32];
static uint32_t gpio_irq_enabled[32], gpio_irq_pending[32];
static bool sensor_level[32];  /* what the sensor drives (camera pins) */

void gpio_init(uint pin) {
    fb_gpio_fn[pin] = GPIO_FUNC_SIO;
    out_dir[pin] = false;
    out_value[pin] = false;
}
void gpio_set_dir(uint pin, bool out) { out_dir[pin] = out; }
void gpio_put(uint pin, bool value) {
    if (fb_gpio_log_n < FB_GPIO_LOG && pin != 9 && pin != 13)  /* not the LCD's busy DC / CS */
        fb_gpio_log[fb_gpio_log_n++] = (fb_gpio_event){now, pin, value};
    if (pin == CAM_RESET && out_dir[pin] && out_value[pin] && !value)
        sensor_power_on();  /* the hardware reset clears the registers */
    out_value[pin] = value;
    next_edge = 0;
}
bool gpio_get(uint pin) { return out_dir[pin] ? out_value[pin] : sensor_level[pin]; }
void gpio_set_function(uint pin, enum gpio_function fn) { fb_gpio_fn[pin] = fn; }
void gpio_pull_up(uint pin) { fb_pull_up[pin] = true; }

void gpio_set_irq_enabled(uint pin, uint32_t events, bool enabled) {
    irq_dirty = true;
    gpio_irq_pending[pin] &= ~events;  /* as the SDK: stale events dropped */
    if (enabled)
        gpio_irq_enabled[pin] |= events;
    else
        gpio_irq_enabled[pin] &= ~events;
}
uint32_t gpio_get_irq_event_mask(uint pin) { return gpio_irq_pending[pin] & gpio_irq_enabled[pin]; }
void gpio_acknowledge_irq(uint pin, uint32_t events) { gpio_irq_pending[pin] &= ~events; }

bool fb_irq_blocked;
uint32_t fb_isr_calls;
#define MAX_HANDLERS 4
static irq_handler_t handlers[32][MAX_HANDLERS];
static bool nvic_enabled[32];
static int masked;  /* save_and_disable_interrupts depth */
static bool in_isr;

void irq_add_shared_handler(uint num, irq_handler_t handler, uint8_t order_priority) {
    (void)order_priority;
    for (int i = 0; i < MAX_HANDLERS; i++)
        if (!handlers[num][i]) {
            handlers[num][i] = handler;
            return;
        }
    fail("too many handlers");
}
void irq_remove_handler(uint num, irq_handler_t handler) {
    for (int i = 0; i < MAX_HANDLERS; i++)
        if (handlers[num][i] == handler) {
            handlers[num][i] = NULL;
            return;
        }
    fail("irq_remove_handler: not installed");  /* the SDK asserts */
}
void gpio_add_raw_irq_handler(uint pin, irq_handler_t handler) {
    (void)pin;
    irq_add_shared_handler(IO_IRQ_BANK0_NUM, handler, PICO_SHARED_IRQ_HANDLER_DEFAULT_ORDER_PRIORITY);
}
void irq_set_enabled(uint num, bool enabled) { nvic_enabled[num] = enabled; irq_dirty = true; }
uint32_t save_and_disable_interrupts(void) { return (uint32_t)masked++; }
void restore_interrupts(uint32_t status) { masked = (int)status; irq_dirty = true; }

/* ---------------- PIO ---------------- */

pio_hw_t fb_pio[2] = {{.index = 0}, {.index = 1}};

typedef struct {
    bool claimed, enabled;
    uint pc, x, y, isr, osr, isr_count;
    uint32_t tx[4], rx[4];
    int tx_n, rx_n;
    pio_sm_config cfg;
} fake_sm;

static struct {
    uint16_t instr[32];
    bool used[32];
    fake_sm sm[4];
    uint32_t irq;        /* flags 0..7 */
    uint32_t inte0;      /* IRQ0 sources (bits 8..11: flags 0..3) */
} pio_state[2];

bool pio_claim_free_sm_and_add_program(const pio_program_t *program, PIO *pio, uint *sm, uint *offset) {
    for (int p = 0; p < 2; p++) {
        int s = 0;
        while (s < 4 && pio_state[p].sm[s].claimed) s++;
        if (s == 4) continue;
        /* as pio_add_program: the highest free offset */
        for (int off = 32 - program->length; off >= 0; off--) {
            bool free = true;
            for (int i = 0; i < program->length; i++) free = free && !pio_state[p].used[off + i];
            if (!free) continue;
            for (int i = 0; i < program->length; i++) {
                uint16_t ins = program->instructions[i];
                if ((ins & 0xE000u) == 0)  /* JMP: relocate */
                    ins = (uint16_t)((ins & ~0x1Fu) | ((ins + off) & 0x1Fu));
                pio_state[p].instr[off + i] = ins;
                pio_state[p].used[off + i] = true;
            }
            memset(&pio_state[p].sm[s], 0, sizeof pio_state[p].sm[s]);
            pio_state[p].sm[s].claimed = true;
            *pio = &fb_pio[p];
            *sm = (uint)s;
            *offset = (uint)off;
            return true;
        }
    }
    return false;
}

void pio_remove_program_and_unclaim_sm(const pio_program_t *program, PIO pio, uint sm, uint offset) {
    for (int i = 0; i < program->length; i++) pio_state[pio->index].used[offset + i] = false;
    pio_state[pio->index].sm[sm].claimed = false;
    pio_state[pio->index].sm[sm].enabled = false;
}

static fake_sm *SM(PIO pio, uint sm) { return &pio_state[pio->index].sm[sm]; }

void pio_sm_init(PIO pio, uint sm, uint initial_pc, const pio_sm_config *config) {
    fake_sm *m = SM(pio, sm);
    m->enabled = false;
    m->cfg = *config;
    m->pc = initial_pc;
    m->isr = m->isr_count = 0;
    m->tx_n = m->rx_n = 0;
}
void pio_sm_set_pindirs_with_mask(PIO pio, uint sm, uint32_t pindirs, uint32_t mask) {
    (void)pio; (void)sm;
    if (pindirs & mask) fail("capture pins must be inputs");
}
void pio_sm_set_enabled(PIO pio, uint sm, bool enabled) { SM(pio, sm)->enabled = enabled; hw_gen++; }
void pio_sm_clear_fifos(PIO pio, uint sm) { SM(pio, sm)->tx_n = SM(pio, sm)->rx_n = 0; }
void pio_sm_restart(PIO pio, uint sm) { SM(pio, sm)->isr = SM(pio, sm)->isr_count = 0; }
void pio_sm_exec(PIO pio, uint sm, uint instr) {
    if ((instr & 0xE0E0u) != 0) fail("pio_sm_exec: only an unconditional JMP is modelled");
    SM(pio, sm)->pc = instr & 0x1Fu;
}
void pio_sm_put(PIO pio, uint sm, uint32_t data) {
    fake_sm *m = SM(pio, sm);
    if (m->tx_n == 4) fail("pio_sm_put: TX FIFO full (the SDK's pio_sm_put drops it silently)");
    m->tx[m->tx_n++] = data;
}
uint8_t pio_sm_get_pc(PIO pio, uint sm) { return (uint8_t)SM(pio, sm)->pc; }
bool pio_interrupt_get(PIO pio, uint num) { return pio_state[pio->index].irq & (1u << num); }
void pio_interrupt_clear(PIO pio, uint num) { pio_state[pio->index].irq &= ~(1u << num); }
void pio_set_irq0_source_enabled(PIO pio, pio_interrupt_source_t source, bool enabled) {
    irq_dirty = true;
    if (enabled)
        pio_state[pio->index].inte0 |= 1u << source;
    else
        pio_state[pio->index].inte0 &= ~(1u << source);
}

static bool pin_in(uint pin) { return gpio_get(pin % 32u); }

/* One clock of one state machine: the instruction at pc (true), or a stall on it (false). */
static bool sm_step(int p, fake_sm *m, uint sm_index) {
    uint16_t ins = pio_state[p].instr[m->pc];
    uint op = ins >> 13, arg = ins & 0xFFu;
    if ((ins >> 8) & 0x1Fu) fail("delay / side-set not modelled");
    switch (op) {
    case 0: { /* JMP */
        uint cond = arg >> 5, addr = arg & 0x1Fu;
        bool take;
        switch (cond) {
        case 0: take = true; break;
        case 1: take = m->x == 0; break;
        case 2: take = m->x != 0; m->x--; break;
        case 3: take = m->y == 0; break;
        case 4: take = m->y != 0; m->y--; break;
        case 5: take = m->x != m->y; break;
        case 6: take = pin_in(m->cfg.jmp_pin); break;
        default: fail("jmp !osre not modelled"); take = false;
        }
        if (take) { m->pc = addr; return true; }
        break;
    }
    case 1: { /* WAIT */
        bool pol = arg & 0x80u;
        uint src = (arg >> 5) & 3u, idx = arg & 0x1Fu;
        bool level;
        if (src == 0) level = pin_in(idx);
        else if (src == 1) level = pin_in(m->cfg.in_base + idx);
        else fail("wait irq not modelled"), level = false;
        if (level != pol) return false;  /* stall */
        break;
    }
    case 2: { /* IN */
        uint src = arg >> 5, n = arg & 0x1Fu ? arg & 0x1Fu : 32u;
        if (src != 0) fail("in: only pins modelled");
        uint32_t data = 0;
        for (uint i = 0; i < n; i++) data |= (uint32_t)pin_in(m->cfg.in_base + i) << i;
        if (!m->cfg.in_shift_right) fail("in: only right shift modelled");
        if (m->cfg.autopush && m->isr_count >= m->cfg.push_threshold) {  /* full ISR waiting on the FIFO */
            if (m->rx_n == 4) return false;
            m->rx[m->rx_n++] = m->isr;
            m->isr = m->isr_count = 0;
        }
        m->isr = n == 32 ? data : (m->isr >> n) | (data << (32 - n));
        m->isr_count += n;
        if (m->cfg.autopush && m->isr_count >= m->cfg.push_threshold && m->rx_n < 4) {
            m->rx[m->rx_n++] = m->isr;
            m->isr = m->isr_count = 0;
        }
        break;
    }
    case 4: { /* PUSH / PULL */
        if (!(arg & 0x80u) || (arg & 0x40u)) fail("only pull (not ifempty) modelled");
        bool block = arg & 0x20u;
        if (m->tx_n == 0) {
            if (block) return false;
            m->osr = m->x;
        } else {
            m->osr = m->tx[0];
            memmove(m->tx, m->tx + 1, (size_t)--m->tx_n * sizeof m->tx[0]);
        }
        break;
    }
    case 5: { /* MOV */
        uint dst = arg >> 5, mop = (arg >> 3) & 3u, src = arg & 7u;
        uint32_t v;
        switch (src) {
        case 1: v = m->x; break;
        case 2: v = m->y; break;
        case 3: v = 0; break;
        case 6: v = m->isr; break;
        case 7: v = m->osr; break;
        default: fail("mov source not modelled"); v = 0;
        }
        if (mop == 1) v = ~v;
        else if (mop) fail("mov bit-reverse not modelled");
        if (dst == 1) m->x = v;
        else if (dst == 2) m->y = v;
        else if (dst == 7) m->osr = v;
        else fail("mov destination not modelled");
        break;
    }
    case 6: { /* IRQ */
        if (arg & 0x60u) fail("irq clear / wait not modelled");
        uint idx = arg & 0x1Fu;
        uint flag = idx & 0x10u ? (idx & 4u) | ((idx + sm_index) & 3u) : idx & 7u;
        pio_state[p].irq |= 1u << flag;
        irq_dirty = true;
        break;
    }
    default:
        fail("OUT / SET not modelled");
    }
    if (m->pc == m->cfg.wrap_top)
        m->pc = m->cfg.wrap_bottom;
    else
        m->pc = (m->pc + 1u) & 31u;
    return true;
}

/* ---------------- DMA ---------------- */

typedef struct {
    bool claimed, busy;
    dma_channel_config cfg;
    uintptr_t read, write;
    void *rx_source;          /* the state machine whose RX FIFO `read` names, or NULL */
    dma_channel_hw_t hw;
} fake_dma;
static fake_dma dma[12];

static fake_sm *rx_fifo_at(uintptr_t addr);

int dma_claim_unused_channel(bool required) {
    for (int i = 0; i < 12; i++)
        if (!dma[i].claimed) {
            dma[i].claimed = true;
            return i;
        }
    if (required) fail("no DMA channel");
    return -1;
}
void dma_channel_unclaim(uint ch) { dma[ch].claimed = false; }
dma_channel_config dma_channel_get_default_config(uint ch) {
    (void)ch;
    return (dma_channel_config){.size = DMA_SIZE_32, .dreq = 0x3F, .read_incr = true, .write_incr = false};
}
void dma_channel_configure(uint ch, const dma_channel_config *c, volatile void *write_addr,
                           const volatile void *read_addr, uint transfer_count, bool trigger) {
    if (!dma[ch].claimed) fail("DMA channel not claimed");
    dma[ch].cfg = *c;
    dma[ch].write = (uintptr_t)write_addr;
    dma[ch].read = (uintptr_t)read_addr;
    dma[ch].hw.transfer_count = transfer_count;
    dma[ch].busy = trigger && transfer_count > 0;
    dma[ch].rx_source = rx_fifo_at(dma[ch].read);
    hw_gen++;
}
bool dma_channel_is_busy(uint ch) { return dma[ch].busy; }
void dma_channel_abort(uint ch) { dma[ch].busy = false; hw_gen++; }
dma_channel_hw_t *dma_channel_hw_addr(uint ch) { return &dma[ch].hw; }

spi_inst_t fb_spi1 = {.index = 1};
uint32_t fb_spi_pixels;
uint16_t fb_spi_last_pixel;

/* The RX FIFO a read address names, or NULL. */
static fake_sm *rx_fifo_at(uintptr_t addr) {
    for (int p = 0; p < 2; p++)
        for (int s = 0; s < 4; s++)
            if (addr == (uintptr_t)&fb_pio[p].rxf[s]) return &pio_state[p].sm[s];
    return NULL;
}

/* One clock of a busy channel: a transfer if its data is there (true). */
static bool dma_step(fake_dma *d) {
    uint bytes = 1u << d->cfg.size;
    uint32_t v;
    fake_sm *src = d->rx_source;
    if (src) {
        if (src->rx_n == 0) return false;  /* DREQ low */
        v = src->rx[0];
        memmove(src->rx, src->rx + 1, (size_t)--src->rx_n * sizeof src->rx[0]);
    } else {
        v = 0;
        memcpy(&v, (const void *)d->read, bytes);
        if (d->cfg.read_incr) d->read += bytes;
    }
    if (d->write == (uintptr_t)&fb_spi1.hw.dr) {
        fb_spi_pixels++;
        fb_spi_last_pixel = (uint16_t)v;
    } else {
        memcpy((void *)d->write, &v, bytes);
        if (d->cfg.write_incr) {
            uintptr_t mask = d->cfg.ring_write && d->cfg.ring_bits ? ((uintptr_t)1 << d->cfg.ring_bits) - 1 : ~(uintptr_t)0;
            d->write = (d->write & ~mask) | ((d->write + bytes) & mask);
        }
    }
    if (--d->hw.transfer_count == 0) {
        d->busy = false;
        hw_gen++;
    }
    return true;
}

/* ---------------- HM01B0 ---------------- */

fake_sensor_config fake_sensor = {
    .model_id = 0x01B0, .bit_cycles = 6, .line_gap_cycles = 64, .lead_cycles = 200, .vblank_cycles = 4000,
};
static uint8_t regs[0x10000];
static bool streaming;
static uint64_t stream_start;
static uint stream_lines, stream_width, stream_mode;

uint8_t fb_sensor_reg(uint16_t reg) { return regs[reg]; }

uint8_t fake_sensor_pixel(uint32_t frame, uint32_t line, uint32_t col) {
    uint32_t h = frame * 0x9E3779B1u ^ line * 0x85EBCA77u ^ col * 0xC2B2AE3Du;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    return (uint8_t)(h >> 8);
}

static void sensor_power_on(void) {
    next_edge = 0;
    memset(regs, 0, sizeof regs);  /* readout registers 0: no valid mode until written */
    regs[0x0000] = (uint8_t)(fake_sensor.model_id >> 8);
    regs[0x0001] = (uint8_t)fake_sensor.model_id;
    streaming = false;
}

static bool in_reset(void) { return out_dir[CAM_RESET] && !out_value[CAM_RESET]; }

static void sensor_write(uint16_t reg, uint8_t value) {
    if (reg == 0x0103 && (value & 1u)) {  /* software reset: defaults, standby */
        sensor_power_on();
        return;
    }
    regs[reg] = value;
    if (reg != 0x0100) return;
    streaming = value == 0x01;
    stream_start = now;
    next_edge = 0;
    stream_mode = 0;
    if (regs[0x0383] == 3 && regs[0x0387] == 3 && regs[0x0390] == 3) {
        stream_mode = 1;
        stream_lines = stream_width = 162;
    } else if (regs[0x0383] == 1 && regs[0x0387] == 1 && regs[0x0390] == 0 && regs[0x3010] == 0) {
        stream_mode = 2;
        stream_lines = stream_width = 324;
    }
}

/* The four camera pins at time `now`: a pure function of the time since streaming
 * began, worked out again only when the next edge is due (or the sensor changed). */
static void sensor_drive(void) {
    if (now < next_edge) return;
    next_edge = UINT64_MAX;
    bool d0 = false, pclk = false, hs = false, vs = false;
    if (streaming && stream_mode && !in_reset()) {
        const fake_sensor_config *f = &fake_sensor;
        uint lines = stream_lines - (uint)f->missing_lines[stream_mode];
        uint64_t active = (uint64_t)stream_width * 8u * f->bit_cycles;
        uint64_t line_period = active + f->line_gap_cycles;
        uint64_t body = f->lead_cycles + lines * line_period;
        uint64_t period = body + f->vblank_cycles;
        uint64_t rel = now - stream_start, frame = rel / period, t = rel % period;
        int lines_to_fall = (int)lines - f->vsync_early_lines;
        uint64_t vs_end = f->lead_cycles + (uint64_t)lines_to_fall * line_period - f->line_gap_cycles / 2;
        vs = t < vs_end;
        uint64_t next = vs ? vs_end : period;  /* within this frame, in frame time */
        if (t < f->lead_cycles) {
            next = f->lead_cycles;
        } else if (t < body) {
            uint64_t lt = t - f->lead_cycles;
            uint64_t line = lt / line_period, in_line = lt % line_period;
            uint64_t line_start = f->lead_cycles + line * line_period;
            if (in_line < active) {
                hs = true;
                uint64_t bit = in_line / f->bit_cycles, half = f->bit_cycles / 2;
                pclk = in_line % f->bit_cycles >= half;  /* rises mid-bit: data set up before */
                uint8_t px = fake_sensor_pixel((uint32_t)frame, (uint32_t)line, (uint32_t)(bit / 8u));
                d0 = (px >> (bit % 8u)) & 1u;  /* LSB first (OSC_CLK_DIV bit 4 clear) */
                uint64_t edge = line_start + bit * f->bit_cycles + (pclk ? f->bit_cycles : half);
                if (edge > line_start + active) edge = line_start + active;
                if (edge < next) next = edge;
            } else if (line_start + line_period < next) {
                next = line_start + line_period;
            }
        }
        if (vs && vs_end < next) next = vs_end;
        next_edge = now - t + next;
    }
    if (vs != sensor_level[CAM_VSYNC]) {
        gpio_irq_pending[CAM_VSYNC] |= vs ? 0x8u : 0x4u;  /* GPIO_IRQ_EDGE_RISE / _FALL */
        irq_dirty = true;
    }
    sensor_level[CAM_D0] = d0;
    sensor_level[CAM_PCLK] = pclk;
    sensor_level[CAM_HSYNC] = hs;
    sensor_level[CAM_VSYNC] = vs;
}

/* ---------------- I2C ---------------- */

i2c_inst_t fb_i2c0 = {.index = 0};
fb_i2c_event fb_i2c_log[FB_I2C_LOG];
int fb_i2c_log_n;
uint fb_i2c_baud;
uint64_t fb_i2c_first_cycle;
static uint16_t i2c_pointer;

uint i2c_init(i2c_inst_t *i2c, uint baudrate) {
    (void)i2c;
    fb_i2c_baud = baudrate;
    return baudrate;
}

static bool i2c_begin(uint8_t addr, size_t len) {
    if (!fb_i2c_first_cycle) fb_i2c_first_cycle = now ? now : 1;
    if (!fb_i2c_baud) fail("I2C used before i2c_init");
    if (!fb_pull_up[4] || !fb_pull_up[5] || fb_gpio_fn[4] != GPIO_FUNC_I2C || fb_gpio_fn[5] != GPIO_FUNC_I2C)
        return false;  /* no pull-ups or pins not on the I2C block: the bus never goes high */
    advance((uint64_t)(len + 1) * 9u * FB_CLK_SYS_HZ / fb_i2c_baud);  /* address byte + data, 9 clocks each */
    return addr == CAM_ADDR && !in_reset();
}

int i2c_write_timeout_us(i2c_inst_t *i2c, uint8_t addr, const uint8_t *src, size_t len, bool nostop, uint timeout_us) {
    (void)i2c; (void)nostop; (void)timeout_us;
    if (!i2c_begin(addr, len)) return PICO_ERROR_GENERIC;
    if (len < 2) return PICO_ERROR_GENERIC;
    i2c_pointer = (uint16_t)(src[0] << 8 | src[1]);
    if (len == 3) {
        if (fb_i2c_log_n < FB_I2C_LOG) fb_i2c_log[fb_i2c_log_n++] = (fb_i2c_event){now, i2c_pointer, src[2], true};
        sensor_write(i2c_pointer, src[2]);
    } else if (len != 2) {
        return PICO_ERROR_GENERIC;  /* the driver writes one register at a time */
    }
    return (int)len;
}

int i2c_read_timeout_us(i2c_inst_t *i2c, uint8_t addr, uint8_t *dst, size_t len, bool nostop, uint timeout_us) {
    (void)i2c; (void)nostop; (void)timeout_us;
    if (!i2c_begin(addr, len)) return PICO_ERROR_GENERIC;
    for (size_t i = 0; i < len; i++) dst[i] = regs[(uint16_t)(i2c_pointer + i)];
    if (fb_i2c_log_n < FB_I2C_LOG) fb_i2c_log[fb_i2c_log_n++] = (fb_i2c_event){now, i2c_pointer, dst[0], false};
    return (int)len;
}

/* ---------------- PWM ---------------- */

uint32_t fb_mclk_hz;
uint64_t fb_mclk_on_cycle;
static pwm_config slice_cfg[8];
static bool slice_on[8];

pwm_config pwm_get_default_config(void) { return (pwm_config){.div_int = 1, .wrap = 0xFFFF}; }
void pwm_init(uint slice, pwm_config *c, bool start) { slice_cfg[slice] = *c; slice_on[slice] = start; }
void pwm_set_gpio_level(uint pin, uint16_t level) {
    if (level == 0 || level > slice_cfg[pwm_gpio_to_slice_num(pin)].wrap) fail("PWM level gives no clock");
}
void pwm_set_enabled(uint slice, bool enabled) {
    slice_on[slice] = enabled;
    /* GP3 is the MCLK pin: slice 1 */
    if (slice == 1 && enabled && fb_gpio_fn[3] == GPIO_FUNC_PWM)
    {
        fb_mclk_hz = FB_CLK_SYS_HZ / slice_cfg[1].div_int / (slice_cfg[1].wrap + 1u);
        fb_mclk_on_cycle = now;
    }
}

/* ---------------- SPI ---------------- */

fb_spi_event fb_spi_log[FB_SPI_LOG];
int fb_spi_log_n;
uint fb_spi_baud;
#define LCD_CS 13
#define LCD_DC 9

uint spi_init(spi_inst_t *spi, uint baudrate) { (void)spi; fb_spi_baud = baudrate; return baudrate; }
void spi_set_format(spi_inst_t *spi, uint data_bits, spi_cpol_t cpol, spi_cpha_t cpha, spi_order_t order) {
    (void)spi; (void)data_bits; (void)cpol; (void)cpha; (void)order;
}
int spi_write_blocking(spi_inst_t *spi, const uint8_t *src, size_t len) {
    (void)spi;
    if (out_value[LCD_CS]) fail("SPI write with the LCD's CS high");
    for (size_t i = 0; i < len; i++)
        if (fb_spi_log_n < FB_SPI_LOG) fb_spi_log[fb_spi_log_n++] = (fb_spi_event){now, out_value[LCD_DC], src[i]};
    advance((uint64_t)len * 8u * FB_CLK_SYS_HZ / (fb_spi_baud ? fb_spi_baud : 1u));
    return (int)len;
}

/* ---------------- the clock ---------------- */

static bool run_irqs(void) {
    if (!irq_dirty || fb_irq_blocked || masked || in_isr) return false;
    irq_dirty = false;
    bool ran = false;
    for (int p = 0; p < 2; p++) {
        uint num = p ? PIO1_IRQ_0 : PIO0_IRQ_0;
        bool level = (pio_state[p].inte0 >> 8) & pio_state[p].irq & 0xFu;
        if (!level || !nvic_enabled[num]) continue;
        in_isr = true;
        for (int i = 0; i < MAX_HANDLERS; i++)
            if (handlers[num][i]) handlers[num][i]();
        in_isr = false;
        fb_isr_calls++;
        irq_dirty = ran = true;  /* level-triggered: still asserted if not cleared */
    }
    bool gpio = false;
    for (int pin = 0; pin < 32; pin++) gpio = gpio || (gpio_irq_pending[pin] & gpio_irq_enabled[pin]);
    if (gpio && nvic_enabled[IO_IRQ_BANK0_NUM]) {
        in_isr = true;
        for (int i = 0; i < MAX_HANDLERS; i++)
            if (handlers[IO_IRQ_BANK0_NUM][i]) handlers[IO_IRQ_BANK0_NUM][i]();
        in_isr = false;
        fb_isr_calls++;
        irq_dirty = ran = true;
    }
    return ran;
}

static void advance(uint64_t cycles) {
    if (in_isr) {  /* an ISR that waits: time passes, nothing else runs */
        now += cycles;
        return;
    }
    uint64_t end = now + cycles;
    while (now < end) {
        fake_sm *sms[8];
        uint sm_pio[8], sm_index[8];
        fake_dma *chs[12];
        int n_sm = 0, n_ch = 0;
        for (int p = 0; p < 2; p++)
            for (uint s = 0; s < 4; s++)
                if (pio_state[p].sm[s].enabled) {
                    sm_pio[n_sm] = (uint)p;
                    sm_index[n_sm] = s;
                    sms[n_sm++] = &pio_state[p].sm[s];
                }
        for (int ch = 0; ch < 12; ch++)
            if (dma[ch].busy) chs[n_ch++] = &dma[ch];
        if (!n_sm && !n_ch) {  /* nothing to step: the sensor is a function of time */
            now = end;
            sensor_drive();
            run_irqs();
            return;
        }
        for (unsigned gen = hw_gen; now < end && gen == hw_gen;) {
            now++;
            sensor_drive();
            bool progress = false;
            for (int i = 0; i < n_sm; i++) progress |= sm_step((int)sm_pio[i], sms[i], sm_index[i]);
            for (int i = 0; i < n_ch; i++)
                if (chs[i]->busy) progress |= dma_step(chs[i]);
            progress |= run_irqs();
            bool irq_due = irq_dirty && !fb_irq_blocked && !masked;
            /* Everything stalled: nothing changes before the sensor's next edge. */
            if (!progress && !irq_due && next_edge > now + 1)
                now = next_edge - 1 < end ? next_edge - 1 : end;
        }
    }
}

void fb_reset(void) {
    now = 0;
    memset(out_value, 0, sizeof out_value);
    memset(out_dir, 0, sizeof out_dir);
    memset(fb_pull_up, 0, sizeof fb_pull_up);
    memset(fb_gpio_fn, 0, sizeof fb_gpio_fn);
    memset(gpio_irq_enabled, 0, sizeof gpio_irq_enabled);
    memset(gpio_irq_pending, 0, sizeof gpio_irq_pending);
    memset(sensor_level, 0, sizeof sensor_level);
    next_edge = 0;
    memset(pio_state, 0, sizeof pio_state);
    for (int ch = 0; ch < 12; ch++) {  /* claims are the drivers' static state: they stay */
        bool claimed = dma[ch].claimed;
        memset(&dma[ch], 0, sizeof dma[ch]);
        dma[ch].claimed = claimed;
    }
    /* handlers and NVIC enables stay: they mirror the driver's static state, which a
     * test process keeps across fb_reset() */
    masked = 0;
    fb_irq_blocked = false;
    fb_isr_calls = 0;
    fb_gpio_log_n = fb_i2c_log_n = fb_spi_log_n = 0;
    fb_i2c_baud = fb_spi_baud = 0;
    fb_i2c_first_cycle = 0;
    fb_mclk_hz = 0;
    fb_mclk_on_cycle = 0;
    fb_spi_pixels = 0;
    sensor_power_on();
}
