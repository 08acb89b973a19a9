# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled inner loop of the emulated board (built on first use by native.py).

- A deterministic two-core scheduler: each step runs one instruction on the core whose
  local time is behind (the running cores interleave instruction by instruction), points
  `rp2040.core` at it so PPB/SIO see the executing core, advances the shared clock and both
  PIO blocks to the slower running core's time, and jumps to the next timer alarm or sensor
  edge when both cores sleep. No wall-clock input changes what happens: the wall budget only
  ends a batch between two steps.
- SEV / WFE / WFI across cores: the package's handlers are replaced in its dispatch table;
  SEV sets the other core's event register and wakes it from WFE (not from WFI).
- The HM01B0's pixel bus (VCam): VSYNC, HSYNC, gated PCLK and D0 driven into the GPIO inputs
  at the bit period the sensor's MCLK and frame/line length registers give.
"""
import time
from rp2040py.native._cortex_m0_core cimport CortexM0Core, DISPATCH_TABLE, OpHandler
from rp2040py.native._rp2040 cimport RP2040
from rp2040py.native._simulation_clock cimport SimulationClock
from rp2040py.native._pio cimport RPPIO

cdef enum:
    OP_WFE = 0xBF20
    OP_WFI = 0xBF30
    OP_SEV = 0xBF40
cdef double CYCLE_NS = 8.0          # clk_sys 125 MHz

cdef CortexM0Core g_c0 = None
cdef CortexM0Core g_c1 = None
cdef bint in_wfe[2]
cdef double g_lt[2]                 # each core's local time, kept across run() calls
cdef unsigned long long sev_count = 0


cdef inline int _idx(CortexM0Core core):
    return 0 if core is g_c0 else 1


cdef int op_sev_dual(CortexM0Core core, unsigned int opcode, unsigned int opcode2,
                     unsigned int opcode_pc) except -1:
    global sev_count
    cdef CortexM0Core other
    cdef int k
    sev_count += 1
    core.event_registered = True
    if g_c1 is not None:
        other = g_c1 if core is g_c0 else g_c0
        k = _idx(other)
        if other.waiting and in_wfe[k]:
            other.waiting = False        # WFE returns; its event is consumed
            in_wfe[k] = False
        else:
            other.event_registered = True
    return 1


cdef int op_wfe_dual(CortexM0Core core, unsigned int opcode, unsigned int opcode2,
                     unsigned int opcode_pc) except -1:
    if core.event_registered:
        core.event_registered = False
    else:
        core.waiting = True
        in_wfe[_idx(core)] = True
    return 2


cdef int op_wfi_dual(CortexM0Core core, unsigned int opcode, unsigned int opcode2,
                     unsigned int opcode_pc) except -1:
    core.waiting = True
    in_wfe[_idx(core)] = False
    return 2


def install(CortexM0Core c0, CortexM0Core c1):
    """Route SEV/WFE/WFI through the two-core handlers (process-wide: one board at a time runs)."""
    global g_c0, g_c1
    g_c0 = c0
    g_c1 = c1
    in_wfe[0] = in_wfe[1] = False
    g_lt[0] = g_lt[1] = 0.0
    DISPATCH_TABLE[OP_SEV] = op_sev_dual
    DISPATCH_TABLE[OP_WFE] = op_wfe_dual
    DISPATCH_TABLE[OP_WFI] = op_wfi_dual


def sev_total():
    return sev_count


cdef enum:
    EV_FRAME = 0
    EV_LINE = 1
    EV_PHIGH = 2
    EV_PLOW = 3


cdef class VCam:
    """The HM01B0's 1-bit serial output into the GPIO inputs, in emulated time: VSYNC high
    over the active lines, HSYNC high over width*8 bits of a line, PCLK gated to the data
    bits, D0 = pixel bits LSB first, stable around PCLK's rising edge. `on_frame_start(vcam)`
    is called at each VSYNC rise and sets .frame (bytes, width*height) and .lines (how many
    lines this frame sends: fewer = a frame that ends early)."""
    cdef public object d0, pclk, hsync, vsync
    cdef public bint active
    cdef public double next_ns
    cdef public object frame
    cdef public object on_frame_start
    cdef public int width, height, lines, frame_lines, line_pck
    cdef public double bit_ns
    cdef public long long frames, edges
    cdef public list frame_end_ns     # when each frame's VSYNC fell
    cdef int ev, line, bit, nbits, d0v
    cdef double t_frame, t_line
    cdef const unsigned char[:] fb

    def __init__(self, rp2040, d0, pclk, hsync, vsync):
        g = rp2040.gpio
        self.d0, self.pclk, self.hsync, self.vsync = g[d0], g[pclk], g[hsync], g[vsync]
        self.width = self.height = self.lines = 162
        self.frame_lines, self.line_pck, self.bit_ns = 242, 215, 80.0
        self.active = False
        self.frames = self.edges = 0
        self.frame_end_ns = []
        self.frame = bytes(self.width * self.height)
        self.on_frame_start = None
        self.d0v = 0
        for p in (self.d0, self.pclk, self.hsync, self.vsync):
            p.set_input_value(False)

    def start(self, double now):
        self.active = True
        self.ev = EV_FRAME
        self.next_ns = now + 1000.0

    def stop(self):
        self.active = False
        for p in (self.pclk, self.hsync, self.vsync):
            p.set_input_value(False)

    cdef inline void _d0(self, int v):
        if v != self.d0v:
            self.d0v = v
            self.d0.set_input_value(v)
            self.edges += 1

    cdef inline int _bitval(self):
        return (self.fb[self.line * self.width + (self.bit >> 3)] >> (self.bit & 7)) & 1

    cpdef service(self, double now):
        cdef double period_line = self.line_pck * 8 * self.bit_ns
        while self.active and self.next_ns <= now:
            if self.ev == EV_FRAME:
                self.lines = self.height
                if self.on_frame_start is not None:
                    self.on_frame_start(self)
                    if not self.active:
                        return
                self.fb = self.frame
                self.nbits = self.width * 8
                self.t_frame = self.next_ns
                self.vsync.set_input_value(True)
                self.edges += 1
                self.line = 0
                self.t_line = self.t_frame + 8 * self.bit_ns * 4
                self.ev = EV_LINE
                self.next_ns = self.t_line
            elif self.ev == EV_LINE:
                self.bit = 0
                self.hsync.set_input_value(True)
                self.edges += 1
                self._d0(self._bitval())
                self.ev = EV_PHIGH
                self.next_ns = self.next_ns + self.bit_ns * 0.5
            elif self.ev == EV_PHIGH:
                self.pclk.set_input_value(True)
                self.edges += 1
                self.ev = EV_PLOW
                self.next_ns = self.next_ns + self.bit_ns * 0.5
            else:
                self.pclk.set_input_value(False)
                self.edges += 1
                self.bit += 1
                if self.bit < self.nbits:
                    self._d0(self._bitval())
                    self.ev = EV_PHIGH
                    self.next_ns = self.next_ns + self.bit_ns * 0.5
                else:
                    self.hsync.set_input_value(False)
                    self.edges += 1
                    self.line += 1
                    if self.line < self.lines:
                        self.t_line = self.t_line + period_line
                        self.ev = EV_LINE
                        self.next_ns = self.t_line
                    else:
                        self.vsync.set_input_value(False)
                        self.edges += 1
                        self.frames += 1
                        self.frame_end_ns.append(self.next_ns)
                        self.ev = EV_FRAME
                        self.next_ns = self.t_frame + self.frame_lines * period_line


cdef inline void _pio_advance(RPPIO p0, RPPIO p1, long long n):
    if not p0.stopped:
        p0.advance(n)
    if not p1.stopped:
        p1.advance(n)


cdef inline void _pio_with_camera(RPPIO p0, RPPIO p1, VCam cam, double t, long long n):
    """n clk_sys cycles from time t, cycle by cycle, with the sensor's edges in between: the
    PIO runs at most one instruction per advance() call, and an instruction that takes several
    cycles (or an exception entry) must not merge a PCLK pulse into one step."""
    cdef long long i
    for i in range(n):
        if cam.active and cam.next_ns <= t:
            cam.service(t)
        if not p0.stopped:
            p0.advance(1)
        if not p1.stopped:
            p1.advance(1)
        t += CYCLE_NS


def run(sim, long long max_steps, double wall_budget, double until_ns, bint core1_running, VCam cam=None):
    """Run until max_steps, emulated time until_ns, sim.stopped or wall_budget seconds.
    Returns (steps, idle_jumps, wall_seconds)."""
    cdef RP2040 rp = sim.rp2040
    cdef SimulationClock clock = sim.clock
    cdef CortexM0Core c0 = g_c0
    cdef CortexM0Core c1 = g_c1
    cdef CortexM0Core c
    cdef RPPIO p0 = rp.pio[0]
    cdef RPPIO p1 = rp.pio[1]
    cdef double lt0 = g_lt[0], lt1 = g_lt[1], now, target, idle
    cdef long long steps = 0, jumps = 0, cyc, adv
    cdef int k, chk = 0
    cdef bint w0, w1, camon
    cdef double t_start = time.monotonic()
    while steps < max_steps:
        chk += 1
        if chk >= 4096:
            chk = 0
            if sim.stopped or time.monotonic() - t_start > wall_budget:
                break
        now = clock._nanos_counter
        if now >= until_ns:
            break
        camon = cam is not None and cam.active
        if camon and cam.next_ns <= now:
            cam.service(now)
        w0 = c0.waiting
        w1 = c1.waiting or not core1_running
        if w0:
            lt0 = now
        if w1:
            lt1 = now
        if w0 and w1:
            idle = until_ns - now
            if clock._next_alarm is not None and clock._next_alarm.nanos - now < idle:
                idle = clock._next_alarm.nanos - now
            if camon and cam.next_ns - now < idle:
                idle = cam.next_ns - now
            if idle > 1e17:          # both asleep, nothing scheduled, no deadline: stuck for good
                break
            if idle < CYCLE_NS:
                idle = CYCLE_NS
            clock.tick(idle)
            adv = <long long>(idle / CYCLE_NS)
            if adv < 1:
                adv = 1
            if camon:
                _pio_with_camera(p0, p1, cam, now, adv)
            else:
                _pio_advance(p0, p1, adv)
            jumps += 1
            steps += 1
            continue
        if w0:
            k = 1
        elif w1:
            k = 0
        else:
            k = 0 if lt0 <= lt1 else 1
        c = c0 if k == 0 else c1
        if rp.core is not c:
            rp.core = c
        cyc = c.execute_instruction()
        if k == 0:
            lt0 += cyc * CYCLE_NS
        else:
            lt1 += cyc * CYCLE_NS
        w0 = c0.waiting
        w1 = c1.waiting or not core1_running
        if w0 and w1:
            target = lt0 if lt0 > lt1 else lt1
        elif w0:
            target = lt1
        elif w1:
            target = lt0
        else:
            target = lt0 if lt0 < lt1 else lt1
        if target > now:
            clock.tick(target - now)
            adv = <long long>((target - now) / CYCLE_NS + 0.5)
            if camon:
                _pio_with_camera(p0, p1, cam, now, adv)
            else:
                _pio_advance(p0, p1, adv)
        steps += 1
    g_lt[0] = lt0
    g_lt[1] = lt1
    return steps, jumps, time.monotonic() - t_start


# ---- the XIP flash cache, traced (the compiled twin of xip.XipCache + xip.FlashTrace) ----
cdef enum:
    XIP_SETS = 1024                     # 16 kB / 8-byte lines / 2 ways

cdef class XipTrace:
    """Every XIP read (0x10000000..0x13ffffff) of both cores into a model of the RP2040's
    flash cache, and per-call counts of the function at `entry`: the same model and counts
    as pico4ml.emulator.xip's XipCache and FlashTrace (tests/test_xip_cache.py holds them
    equal), compiled, because the hooks run on every instruction fetch. Its read_uint32/16/8
    go in place of the chip's (on the instance: the compiled core's calls honour them)."""
    cdef RP2040 rp
    cdef CortexM0Core c0
    cdef long long tag0[XIP_SETS]
    cdef long long tag1[XIP_SETS]
    cdef unsigned char lru[XIP_SETS]
    cdef public long long hits, fills, uncached
    cdef public unsigned int entry
    cdef unsigned int ret[2]
    cdef bint active[2]
    cdef long long n_fills[2], n_reads[2], n_unc[2], n_other[2]
    cdef double t_start[2]
    cdef public list done               # (core, start_ns, end_ns, fills, reads, uncached, other_core_fills)

    def __init__(self, RP2040 rp, unsigned int entry):
        self.rp = rp
        self.c0 = getattr(rp, "core0", rp.core)
        self.entry = entry & 0xFFFFFE
        self.done = []
        self.flush()
        self.hits = self.fills = self.uncached = 0
        for k in range(2):
            self.active[k] = False
            self.ret[k] = 0xFFFFFFFF

    def flush(self):
        cdef int s
        for s in range(XIP_SETS):
            self.tag0[s] = -1
            self.tag1[s] = -1
            self.lru[s] = 0

    cpdef int access(self, unsigned int address):
        """1: a hit; 0: a miss that filled a line; 2: a flash read not cached."""
        cdef unsigned int alias = (address >> 24) & 0x3
        cdef unsigned int line = (address & 0xFFFFFF) >> 3
        cdef unsigned int s = line & (XIP_SETS - 1)
        cdef long long tag = line >> 10
        if alias <= 1:
            if self.tag0[s] == tag:
                self.lru[s] = 1
                self.hits += 1
                return 1
            if self.tag1[s] == tag:
                self.lru[s] = 0
                self.hits += 1
                return 1
        if alias == 0 or alias == 2:
            if alias == 2:
                if self.tag0[s] == tag:
                    self.lru[s] = 1
                    self.fills += 1
                    return 0
                if self.tag1[s] == tag:
                    self.lru[s] = 0
                    self.fills += 1
                    return 0
            if self.lru[s] == 0:
                self.tag0[s] = tag
                self.lru[s] = 1
            else:
                self.tag1[s] = tag
                self.lru[s] = 0
            self.fills += 1
            return 0
        self.uncached += 1
        return 2

    cdef inline void _note(self, unsigned int address, bint fetch):
        cdef CortexM0Core core = self.rp.core
        cdef int k = 0 if core is self.c0 else 1
        cdef int r = self.access(address)
        cdef unsigned int pc
        if fetch:
            pc = address & 0xFFFFFF
            if not self.active[k] and pc == self.entry:
                self.active[k] = True
                self.ret[k] = (core.registers[14] & 0xFFFFFE)
                self.t_start[k] = self.rp.clock._nanos_counter
                self.n_fills[k] = self.n_reads[k] = self.n_unc[k] = self.n_other[k] = 0
            elif self.active[k] and pc == self.ret[k]:
                self.active[k] = False
                self.done.append((k, self.t_start[k], self.rp.clock._nanos_counter, self.n_fills[k],
                                  self.n_reads[k], self.n_unc[k], self.n_other[k]))
        if self.active[k]:
            self.n_reads[k] += 1
            if r == 0:
                self.n_fills[k] += 1
            elif r == 2:
                self.n_unc[k] += 1
        if r == 0 and self.active[1 - k]:
            self.n_other[1 - k] += 1

    def read_uint32(self, long long address):
        cdef unsigned int a = <unsigned int>(address & 0xFFFFFFFF)
        if 0x10000000 <= a < 0x14000000:
            self._note(a, False)
        return RP2040.read_uint32(self.rp, address)

    def read_uint16(self, long long address):
        cdef unsigned int a = <unsigned int>(address & 0xFFFFFFFF)
        if 0x10000000 <= a < 0x14000000:
            self._note(a, a == self.rp.core.registers[15])
        return RP2040.read_uint16(self.rp, address)

    def read_uint8(self, long long address):
        cdef unsigned int a = <unsigned int>(address & 0xFFFFFFFF)
        if 0x10000000 <= a < 0x14000000:
            self._note(a, False)
        return RP2040.read_uint8(self.rp, address)
