"""A two-core RP2040 on rp2040py 0.3.6, extended from outside the package.

rp2040py models one Cortex-M0+. Its NVIC, VTOR, PRIMASK and event register live in the
core object, and the PPB and SIO look at `rp2040.core` for "the core that is executing",
so a second CortexM0Core on the same bus, with the scheduler (loop.pyx) pointing
`rp2040.core` at whichever core runs the next instruction, gives each core its own view.
What the package keeps only once and the silicon has per core is added here:
- SIO: CPUID, the two 8-deep inter-core FIFOs (VLD/RDY/WOF/ROE, SIO_IRQ_PROCn), and the
  divider + both interpolators (RP2040 datasheet 2.3.1). Spinlocks and GPIO stay shared.
- PPB: SysTick (one per core, each raising its own core's exception; datasheet 2.4.8).
- IO_BANK0 interrupts: PROC0_INTE/INTF/INTS and PROC1_INTE/INTF/INTS (datasheet 2.19.6:
  each core has its own GPIO interrupt enables, both on IO_IRQ_BANK0 of its own NVIC).
- Interrupt lines: every other peripheral IRQ reaches both NVICs (each core enables its
  own), SIO_IRQ_PROCn only core n.
"""
from __future__ import annotations

from collections import deque

from rp2040py.cortex_m0_core import CortexM0Core
from rp2040py.peripherals.io import RPIO
from rp2040py.peripherals.ppb import RPPPB
from rp2040py.rp2040 import RP2040
from rp2040py.sio import RPSIO

CPUID = 0x000
FIFO_ST, FIFO_WR, FIFO_RD = 0x050, 0x054, 0x058
FIFO_DEPTH = 8
PER_CORE_SIO = range(0x060, 0x100)      # divider (0x60-0x78) and interp0/1 (0x80-0xFC)
SIO_IRQ_PROC0, SIO_IRQ_PROC1 = 15, 16
ST_VLD, ST_RDY, ST_WOF, ST_ROE = 1, 2, 4, 8
IO_BANK0 = 0x40014000
INTR0, PROC_INT_BASE, PROC_INT_STRIDE, DORMANT_WAKE = 0x0F0, 0x100, 0x30, 0x160
IO_IRQ_BANK0 = 13


def cpu_of(rp2040) -> int:
    return 0 if rp2040.core is rp2040.core0 else 1


class DualSIO(RPSIO):
    """SIO seen by two cores: this object is core 0's divider/interpolators and the shared
    part; `local1` is core 1's divider/interpolators."""

    def __init__(self, rp2040):
        super().__init__(rp2040)
        self.local1 = RPSIO(rp2040)
        self.fifo = (deque(), deque())   # fifo[k]: written by core k, read by core 1-k
        self.wof = [False, False]
        self.roe = [False, False]
        self.fifo_writes = 0

    def _update_irq(self) -> None:
        for k in (0, 1):
            level = bool(self.fifo[1 - k]) or self.wof[k] or self.roe[k]
            self.rp2040.cores[k].set_interrupt(SIO_IRQ_PROC0 + k, level)

    def read_uint32(self, offset):
        k = cpu_of(self.rp2040)
        if offset == CPUID:
            return k
        if offset == FIFO_ST:
            return ((ST_VLD if self.fifo[1 - k] else 0) | (ST_RDY if len(self.fifo[k]) < FIFO_DEPTH else 0)
                    | (ST_WOF if self.wof[k] else 0) | (ST_ROE if self.roe[k] else 0))
        if offset == FIFO_RD:
            q = self.fifo[1 - k]
            if q:
                value = q.popleft()
            else:
                self.roe[k] = True     # read on empty: sticky flag, returns 0 (datasheet 2.3.1.5)
                value = 0
            self._update_irq()
            return value
        if offset == FIFO_WR:
            return 0
        if k == 1 and offset in PER_CORE_SIO:
            return self.local1.read_uint32(offset)
        return super().read_uint32(offset)

    def write_uint32(self, offset, value):
        k = cpu_of(self.rp2040)
        if offset == FIFO_WR:
            if len(self.fifo[k]) < FIFO_DEPTH:
                self.fifo[k].append(value & 0xFFFFFFFF)
                self.fifo_writes += 1
            else:
                self.wof[k] = True      # write on full: dropped, sticky flag
            self._update_irq()
            return
        if offset == FIFO_ST:           # write any value clears WOF and ROE
            self.wof[k] = self.roe[k] = False
            self._update_irq()
            return
        if k == 1 and offset in PER_CORE_SIO:
            self.local1.write_uint32(offset, value)
            return
        super().write_uint32(offset, value)

    def reset(self):
        super().reset()
        if hasattr(self, "local1"):
            self.local1.reset()
            self.fifo[0].clear()
            self.fifo[1].clear()
            self.wof[:] = [False, False]
            self.roe[:] = [False, False]


class DualIO(RPIO):
    """IO_BANK0 with one interrupt enable/force/status set per core. The pin objects keep the
    OR of both cores' enables (so they report every edge); each core's IO_IRQ_BANK0 level is
    worked out here from its own masks."""

    def __init__(self, rp2040, name):
        super().__init__(rp2040, name)
        n = len(self.pins)
        self.inte = [[0] * n, [0] * n]
        self.intf = [[0] * n, [0] * n]

    def _proc_reg(self, offset):
        """(core, register 0 INTE / 1 INTF / 2 INTS, first pin) or None."""
        if not PROC_INT_BASE <= offset < DORMANT_WAKE:
            return None
        core, rel = divmod(offset - PROC_INT_BASE, PROC_INT_STRIDE)
        return core, rel >> 4, (rel & 0xF) * 2

    def read_uint32(self, offset):
        reg = self._proc_reg(offset)
        if reg is None:
            return super().read_uint32(offset)
        core, kind, first = reg
        result = 0
        for i in range(min(8, len(self.pins) - first)):
            p = first + i
            if kind == 0:
                v = self.inte[core][p]
            elif kind == 1:
                v = self.intf[core][p]
            else:
                v = (self.pins[p].irq_status & self.inte[core][p]) | self.intf[core][p]
            result |= (v & 0xF) << (4 * i)
        return result

    def write_uint32(self, offset, value):
        reg = self._proc_reg(offset)
        if reg is None or reg[1] == 2:          # INTS is read-only
            if reg is None:
                super().write_uint32(offset, value)
            return
        core, kind, first = reg
        table = self.inte if kind == 0 else self.intf
        for i in range(min(8, len(self.pins) - first)):
            p = first + i
            table[core][p] = (value >> (4 * i)) & 0xF
            pin = self.pins[p]
            pin.irq_enable_mask = self.inte[0][p] | self.inte[1][p]
            pin.irq_force_mask = self.intf[0][p] | self.intf[1][p]
        self.rp2040.update_io_interrupt()

    def core_level(self, core) -> bool:
        for p, pin in enumerate(self.pins):
            if (pin.irq_status & self.inte[core][p]) | self.intf[core][p]:
                return True
        return False


class _FixedCore:
    """The chip as one core's SysTick sees it: `core` is always that core."""

    def __init__(self, rp2040, core):
        self._rp2040 = rp2040
        self.core = core

    def __getattr__(self, name):
        return getattr(self._rp2040, name)


class DualPPB:
    """The private peripheral bus: SysTick per core; NVIC/SCB already per core (they read
    `rp2040.core`). The core-0 block keeps the package's own PPB object."""

    def __init__(self, rp2040, ppb0):
        self.rp2040 = rp2040
        self.blocks = (ppb0, RPPPB(_FixedCore(rp2040, rp2040.core1), "PPB1"))
        ppb0.rp2040 = _FixedCore(rp2040, rp2040.core0)   # its SysTick alarm pends core 0 only

    def read_uint32(self, offset):
        return self.blocks[cpu_of(self.rp2040)].read_uint32(offset)

    def write_uint32(self, offset, value):
        self.blocks[cpu_of(self.rp2040)].write_uint32(offset, value)

    def reset(self):
        for b in self.blocks:
            b.reset()


class DualRP2040(RP2040):
    """The RP2040 with core 1. Core 1 leaves reset into the boot ROM, which parks it in the
    FIFO launch loop that multicore_launch_core1() talks to."""

    def __init__(self, clock=None):
        super().__init__(clock)
        self.core0 = self.core
        self.core1 = CortexM0Core(self)
        self.cores = (self.core0, self.core1)
        self.sio = DualSIO(self)
        self.ppb = DualPPB(self, self.ppb)
        self.io_bank0 = DualIO(self, "IO_BANK0_BASE")
        self.peripherals[(IO_BANK0 >> 12) & 0xFFFFF] = self.io_bank0

    def update_io_interrupt(self) -> None:
        if "io_bank0" not in self.__dict__:
            super().update_io_interrupt()
            return
        for k in (0, 1):
            self.cores[k].set_interrupt(IO_IRQ_BANK0, self.io_bank0.core_level(k))

    def set_interrupt(self, irq, value):
        if "cores" not in self.__dict__:        # peripheral resets inside RP2040.__init__
            self.core.set_interrupt(irq, value)
        elif irq in (SIO_IRQ_PROC0, SIO_IRQ_PROC1):
            self.cores[irq - SIO_IRQ_PROC0].set_interrupt(irq, value)
        else:
            self.core0.set_interrupt(irq, value)
            self.core1.set_interrupt(irq, value)

    def reset_core1(self) -> None:
        """Core 1 out of reset: boot ROM reset vector (the ROM sends it to its launch wait)."""
        saved = self.core
        self.core = self.core1
        try:
            self.core1.reset()
        finally:
            self.core = saved
