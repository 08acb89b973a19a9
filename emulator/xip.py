"""The RP2040's XIP flash cache, modelled from the datasheet and fed with the emulated board's
flash reads: how many 8-byte line fills from the QSPI flash one inference (`net()`) costs.

rp2040py charges a flash read like an SRAM read and keeps no cache, so the firmware's flash
traffic is traced instead: `FlashTrace` puts hooks in place of the chip's bus reads
(`read_uint32/16/8`, on the instance: the compiled core's calls honour them) and feeds every
read of the XIP window 0x10000000..0x13ffffff, from either core, into `XipCache`, a
trace-driven model of the cache:

- RP2040 datasheet 2.6.3.1 (XIP cache): 16 kB, two-way set-associative, 1-cycle hit; 2.6.3.2:
  the flush "takes just over 1024 clock cycles (16 kB total size / 8 bytes per line / 2 ways
  per set)": 8-byte lines, 1024 sets. So a flash offset's set is bits 3..12 and its tag the
  bits above: two offsets 8 kB apart share a set.
- the four aliases of the 24-bit flash space (2.6.3.1): 0x10.. cacheable and allocating,
  0x11.. checks for a hit but does not fill on a miss, 0x12.. does not check but fills,
  0x13.. neither. A read the cache does not serve is one flash transfer.
- assumed (the datasheet does not say): least-recently-used replacement within a set; the
  cache starts empty when the trace starts (warmed up by the inferences before the counted ones).

Cost of a fill, assumed: the SDK's boot2 for the Pico's W25Q080 (the Pico4ML builds with
PICO_BOARD=pico: boot_stage2/boot2_w25q080.S) leaves the flash in quad continuous-read mode
(EBh) with 4 wait cycles at clk_sys / PICO_FLASH_SPI_CLKDIV (2 in boards/pico.h): one line is
24 address + 8 mode bits over four lines (8 SCK), 4 dummy SCK and 64 data bits (16 SCK),
28 SCK = 56 clk_sys cycles, not counting the SSI's own set-up and chip-select time, so a lower
bound. A hit costs what the emulator already charges; the estimate adds fills x FILL_CYCLES.
Bus contention with the other core and DMA is still not modelled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

CACHE_BYTES = 16 * 1024
LINE_BYTES = 8
WAYS = 2
SETS = CACHE_BYTES // (LINE_BYTES * WAYS)          # 1024
XIP_BASE, XIP_END = 0x10000000, 0x14000000          # the four aliases of the flash
FLASH_SPI_CLKDIV = 2                                # boards/pico.h (PICO_BOARD=pico)
SCK_PER_FILL = (24 + 8) // 4 + 4 + 64 // 4          # quad address+mode, dummy, 8 data bytes
FILL_CYCLES = SCK_PER_FILL * FLASH_SPI_CLKDIV       # 56 clk_sys cycles per 8-byte line


class XipCache:
    """Trace-driven model of the XIP cache: access(address) -> True on a hit. Counts hits,
    fills (lines brought in from flash) and uncached flash transfers."""

    def __init__(self) -> None:
        self.tag0 = [-1] * SETS
        self.tag1 = [-1] * SETS
        self.lru = [0] * SETS       # the way to replace next in each set
        self.hits = 0
        self.fills = 0              # misses that allocated a line (8 bytes read from flash)
        self.uncached = 0           # reads the cache neither served nor kept (0x11 miss, 0x12, 0x13)

    @property
    def flash_reads(self) -> int:
        """Transfers from the QSPI flash."""
        return self.fills + self.uncached

    def flush(self) -> None:
        self.tag0 = [-1] * SETS
        self.tag1 = [-1] * SETS
        self.lru = [0] * SETS

    def access(self, address: int) -> bool:
        alias = (address >> 24) & 0x3
        line = (address & 0xFFFFFF) >> 3
        s = line & (SETS - 1)
        tag = line >> 10
        if alias <= 1:                          # cacheable: look it up
            if self.tag0[s] == tag:
                self.lru[s] = 1
                self.hits += 1
                return True
            if self.tag1[s] == tag:
                self.lru[s] = 0
                self.hits += 1
                return True
        if alias == 0 or alias == 2:            # allocating: the line is filled
            if alias == 2:                      # a line of this address may be there already
                if self.tag0[s] == tag:
                    self.lru[s] = 1
                    self.fills += 1
                    return False
                if self.tag1[s] == tag:
                    self.lru[s] = 0
                    self.fills += 1
                    return False
            if self.lru[s] == 0:
                self.tag0[s] = tag
                self.lru[s] = 1
            else:
                self.tag1[s] = tag
                self.lru[s] = 0
            self.fills += 1
            return False
        self.uncached += 1
        return False

    def run(self, addresses: Iterable[int]) -> int:
        """Feed a trace; returns the fills it caused."""
        before = self.fills
        for a in addresses:
            self.access(a)
        return self.fills - before


@dataclass
class Inference:
    core: int
    start_ns: float
    fills: int = 0              # caused by the core running net(), from its entry to its return
    uncached: int = 0
    reads: int = 0              # flash reads (hits included) by that core in that time
    other_core_fills: int = 0   # the other core's fills meanwhile (the cache is shared)
    end_ns: float | None = None


@dataclass
class FlashTrace:
    """Every XIP read of the board's two cores into an XipCache, with per-inference counts:
    an inference is a call of the function at `entry` (net()), from its first instruction to
    the return to its caller (interrupts taken on that core meanwhile included)."""

    mcu: Any
    entry: int                          # net()'s address (Thumb bit clear)
    cache: XipCache = field(default_factory=XipCache)
    inferences: list[Inference] = field(default_factory=list)
    installed: bool = False

    def __post_init__(self) -> None:
        self._active: list[Inference | None] = [None, None]
        self._ret = [-1, -1]

    def install(self) -> None:
        from rp2040py.native._rp2040 import RP2040

        mcu = self.mcu
        base32, base16, base8 = RP2040.read_uint32, RP2040.read_uint16, RP2040.read_uint8
        cores = getattr(mcu, "cores", None) or (mcu.core, None)   # DualRP2040, or a one-core RP2040
        access = self._access

        def read_uint32(address: int) -> int:
            if XIP_BASE <= address < XIP_END:
                access(address, False)
            return base32(mcu, address)

        def read_uint16(address: int) -> int:
            if XIP_BASE <= address < XIP_END:
                access(address, address == mcu.core.pc)
            return base16(mcu, address)

        def read_uint8(address: int) -> int:
            if XIP_BASE <= address < XIP_END:
                access(address, False)
            return base8(mcu, address)

        self._cores = cores
        mcu.read_uint32, mcu.read_uint16, mcu.read_uint8 = read_uint32, read_uint16, read_uint8
        self.installed = True

    def remove(self) -> None:
        for name in ("read_uint32", "read_uint16", "read_uint8"):
            self.mcu.__dict__.pop(name, None)
        self.installed = False

    def _access(self, address: int, fetch: bool) -> None:
        mcu = self.mcu
        k = 0 if mcu.core is self._cores[0] else 1
        cache = self.cache
        fills, uncached = cache.fills, cache.uncached
        cache.access(address)
        if fetch:
            pc = address & 0xFFFFFF
            if self._active[k] is None and pc == self.entry & 0xFFFFFF:
                inf = Inference(k, mcu.clock.nanos)
                self.inferences.append(inf)
                self._active[k] = inf
                self._ret[k] = (mcu.core.registers[14] & 0xFFFFFFFE) & 0xFFFFFF
            elif self._active[k] is not None and pc == self._ret[k]:
                self._active[k].end_ns = mcu.clock.nanos
                self._active[k] = None
        inf = self._active[k]
        if inf is not None:
            inf.reads += 1
            inf.fills += cache.fills - fills
            inf.uncached += cache.uncached - uncached
        other = self._active[1 - k]
        if other is not None:
            other.other_core_fills += cache.fills - fills

    def done(self) -> list[Inference]:
        """The inferences that returned."""
        return [i for i in self.inferences if i.end_ns is not None]


class CompiledFlashTrace:
    """FlashTrace's face over the compiled loop's XipTrace (the same model and counts, about
    10x faster: the hooks run on every instruction fetch)."""

    def __init__(self, mcu: Any, entry: int, loop: Any = None) -> None:
        if loop is None:
            from pico4ml.emulator.native import load_loop
            loop = load_loop()
        self.mcu = mcu
        self.impl = loop.XipTrace(mcu, entry)

    @property
    def cache(self) -> Any:
        return self.impl             # hits, fills, uncached, access(), flush()

    def install(self) -> None:
        t = self.impl
        self.mcu.read_uint32, self.mcu.read_uint16, self.mcu.read_uint8 = t.read_uint32, t.read_uint16, t.read_uint8

    def remove(self) -> None:
        for name in ("read_uint32", "read_uint16", "read_uint8"):
            self.mcu.__dict__.pop(name, None)

    def done(self) -> list[Inference]:
        return [Inference(core=k, start_ns=t0, fills=f, uncached=u, reads=r, other_core_fills=o, end_ns=t1)
                for k, t0, t1, f, r, u, o in self.impl.done]


def symbol_address(elf, name: str) -> int:
    """A function's address in the firmware ELF (Thumb bit clear)."""
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        syms = [s for s in (symtab.get_symbol_by_name(name) or []) if s["st_info"]["type"] == "STT_FUNC"] \
            if symtab else []
    if not syms:
        raise KeyError(f"{elf}: no function {name}")
    return syms[0]["st_value"] & ~1


def trace_inferences(board, entry: int, count: int = 2, warmup: int = 1, emulated_s: float = 5.0,
                     wall_s: float = 1800.0) -> dict:
    """Run the board with every flash read traced until `warmup + count` calls of net() (at
    `entry`) have returned; the first `warmup` only warm the modelled cache up (it starts
    empty). Returns the counts per counted inference."""
    import statistics

    trace = CompiledFlashTrace(board.mcu, entry, board.loop)
    trace.install()
    try:
        board.run_until(lambda b: len(trace.done()) >= warmup + count, emulated_s=emulated_s, wall_s=wall_s)
    finally:
        trace.remove()
    counted = trace.done()[warmup:]
    if not counted:
        return {"inferences": 0, "error": f"net() at {entry:#x} did not return {warmup + count} times within "
                                          f"{emulated_s} s of board time / {wall_s} s wall"}
    fills = [i.fills for i in counted]
    reads = [i.reads for i in counted]
    cycles = [round((i.end_ns - i.start_ns) / 8.0) for i in counted]   # clk_sys 125 MHz in the emulator
    med = statistics.median
    return {
        "inferences": len(counted),
        "fills": fills,
        "fills_median": med(fills),
        "reads_median": med(reads),
        "hit_rate": round(1 - sum(fills) / max(1, sum(reads)), 4),
        "uncached_median": med([i.uncached for i in counted]),
        "other_core_fills_median": med([i.other_core_fills for i in counted]),
        "net_cycles_emulated": med(cycles),
        "fill_cycles": med(fills) * FILL_CYCLES,
        "net_cycles_with_fills": med(cycles) + med(fills) * FILL_CYCLES,
    }


ASSUMPTIONS = (f"XIP cache {CACHE_BYTES // 1024} kB, {WAYS}-way, {LINE_BYTES}-byte lines, {SETS} sets (RP2040 "
               f"datasheet 2.6.3); LRU replacement and an empty cache when tracing starts (assumed); a fill = "
               f"{SCK_PER_FILL} SCK (quad EBh continuous read: 8 address+mode, 4 dummy, 16 data) x clkdiv "
               f"{FLASH_SPI_CLKDIV} = {FILL_CYCLES} clk_sys cycles, SSI set-up not counted; an inference = net() "
               f"from entry to return on its core, interrupts there included; no bus contention")
