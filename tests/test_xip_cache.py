"""The XIP flash cache model (pico4ml.emulator.xip) against what the RP2040 datasheet implies
(2.6.3.1/2.6.3.2: 16 kB, two ways, 8-byte lines, so 1024 sets and offsets 8 kB apart in one
set; the four aliases), worked out by hand, and its trace hooks on a real rp2040py core."""
from __future__ import annotations

import pytest

from pico4ml.emulator.xip import FILL_CYCLES, SETS, FlashTrace, XipCache

BASE = 0x10000000


def test_geometry_from_the_datasheet():
    assert SETS == 1024                      # 16 kB / 8 B per line / 2 ways: the flush's 1024 cycles
    assert FILL_CYCLES == 56                 # (8 address+mode + 4 dummy + 16 data) SCK x clkdiv 2


@pytest.mark.parametrize("n_bytes", [8, 64, 4096, 16384])
def test_a_sequential_sweep_fills_one_line_per_8_bytes(n_bytes):
    c = XipCache()
    assert c.run(range(BASE, BASE + n_bytes, 4)) == n_bytes // 8     # word reads: 2 per line
    assert c.hits == n_bytes // 8
    # 16 kB fits exactly: a second sweep is all hits
    if n_bytes <= 16384:
        assert c.run(range(BASE, BASE + n_bytes, 4)) == 0


def test_a_sweep_larger_than_the_cache_misses_every_line_again():
    c = XipCache()
    c.run(range(BASE, BASE + 32768, 8))
    assert c.fills == 4096
    assert c.run(range(BASE, BASE + 32768, 8)) == 4096              # LRU: each line evicted before reuse


def test_two_ways_hold_two_lines_8_kb_apart_a_third_evicts_the_least_recently_used():
    a, b, c3 = BASE + 0x40, BASE + 0x40 + 8192, BASE + 0x40 + 16384  # one set
    c = XipCache()
    assert not c.access(a) and not c.access(b)                      # two fills
    assert c.access(a) and c.access(b) and c.access(a)              # both kept: two ways
    assert not c.access(c3)                                         # evicts b (a was used last)
    assert c.access(a) and not c.access(b)                          # a still there, b gone
    assert not c.access(c3)                                         # b's refill took c3's way; c3 now takes a's
    assert c.fills == 5 and c.hits == 4
    assert c.access(b + 4) and not c.access(a)                      # b's line (any byte of it) is there, a is not
    assert not c.access(b + 8) and c.access(b)                      # the next line is in the next set: b stays


def test_other_sets_are_independent():
    c = XipCache()
    lines = [BASE + 8 * i for i in range(1024)] + [BASE + 8192 + 8 * i for i in range(1024)]
    assert c.run(lines) == 2048 and c.run(lines) == 0              # 2 x 1024 lines = 16 kB


def test_the_aliases():
    c = XipCache()
    assert not c.access(0x11000000) and c.uncached == 1 and c.fills == 0   # checks, does not allocate
    assert not c.access(0x10000000) and c.fills == 1
    assert c.access(0x11000004)                                             # a hit through 0x11
    assert not c.access(0x13000000) and c.uncached == 2                     # never cached
    assert not c.access(0x12000100) and c.fills == 2                        # no lookup, but fills
    assert c.access(0x10000100)
    assert not c.access(0x12000100) and c.fills == 3                        # no lookup even when there
    assert c.flash_reads == 5
    c.flush()
    assert not c.access(0x10000000)


def _run_loop(mcu, trace) -> list[tuple]:
    """net() in flash: ldrb r2,[r0]; adds r0,#1; subs r1,#1; bne net; bx lr -- over 64 bytes
    of flash, called with a return to a bkpt; run instruction by instruction on the core with
    the trace's hooks in place. Returns the calls counted, (core, fills, reads, uncached)."""
    import struct

    entry, ret, data = 0x100, 0x140, 0x1000
    code = struct.pack("<5H", 0x7802, 0x3001, 0x3901, 0xD1FB, 0x4770)
    mcu.flash[entry:entry + len(code)] = code
    mcu.flash[ret:ret + 2] = struct.pack("<H", 0xBE00)
    trace.install()
    core = mcu.core
    core.registers[0], core.registers[1] = BASE + data, 64
    core.registers[14] = BASE + ret + 1
    core.pc = BASE + entry
    for _ in range(1000):
        if core.pc == BASE + ret:
            break
        core.execute_instruction()
    assert core.pc == BASE + ret and core.registers[1] == 0
    core.execute_instruction()                                   # the fetch at the return address
    trace.remove()
    assert "read_uint16" not in mcu.__dict__
    return [(i.core, i.end_ns >= i.start_ns, trace.cache.fills, i.fills, i.reads, i.uncached, i.other_core_fills)
            for i in trace.done()]


def test_the_trace_sees_the_cores_flash_reads():
    """The hooks on rp2040py's own (compiled) core: every fetch and load of the XIP window
    reaches the model, and the call is counted as one inference from its entry to its return."""
    rp2040py = pytest.importorskip("rp2040py", reason="rp2040py not installed (pip install rp2040py==0.3.6)")
    mcu = rp2040py.RP2040()
    (call,) = _run_loop(mcu, FlashTrace(mcu, BASE + 0x100))
    core, timed, total_fills, fills, reads, uncached, other = call
    assert core == 0 and timed and uncached == 0 and other == 0
    assert reads == 64 + 64 * 4 + 1          # the loads, 4 fetches a loop, bx lr
    assert fills == 64 // 8 + 2              # the data's lines, and 10 bytes of code in 2 lines
    assert total_fills == fills + 1          # + the bkpt's line, fetched after the return


def _compiled_loop():
    from pico4ml.emulator.native import EmulatorUnavailable, load_loop
    try:
        return load_loop()
    except EmulatorUnavailable as e:
        pytest.skip(str(e))


def test_the_compiled_cache_is_the_same_model():
    """The compiled twin (loop.pyx XipTrace, what the bench runs) against XipCache on a trace
    of random reads over the four aliases, clustered so that sets fill and evict."""
    import random

    import rp2040py

    loop = _compiled_loop()
    rnd = random.Random(9)
    ref, fast = XipCache(), loop.XipTrace(rp2040py.RP2040(), BASE)
    for _ in range(50_000):
        alias = rnd.choice([0, 0, 0, 0, 1, 2, 3])
        addr = (0x10 + alias) << 24 | rnd.choice([0, 8192, 16384, 24576]) + 8 * rnd.randrange(64) + rnd.randrange(8)
        assert ref.access(addr) == (fast.access(addr) == 1)
    assert (ref.hits, ref.fills, ref.uncached) == (fast.hits, fast.fills, fast.uncached)
    assert ref.fills > 5000 and ref.hits > 5000


def test_the_compiled_trace_counts_like_the_reference():
    rp2040py = pytest.importorskip("rp2040py", reason="rp2040py not installed (pip install rp2040py==0.3.6)")
    from pico4ml.emulator.xip import CompiledFlashTrace

    loop = _compiled_loop()
    got = []
    for make in (lambda m: FlashTrace(m, BASE + 0x100), lambda m: CompiledFlashTrace(m, BASE + 0x100, loop)):
        mcu = rp2040py.RP2040()
        trace = make(mcu)
        got.append(_run_loop(mcu, trace))
    assert got[0] == got[1]
    assert got[0][0][3:6] == (64 // 8 + 2, 64 + 64 * 4 + 1, 0)       # fills, reads, uncached of the one call
