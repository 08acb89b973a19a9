/* Second-stage boot loader (boot2): the 256 bytes at the start of flash.
 *
 * The RP2040 boot ROM copies these 252 bytes (+ CRC-32 in the last 4, patched in by
 * the build) to SRAM and runs them. We set the flash interface (SSI) up for plain
 * 03h serial reads, which every QSPI flash supports (slow but enough for a
 * benchmark whose weights stream from the XIP cache), then jump through the vector
 * table that follows at 0x10000100. Position-independent: it runs from SRAM on the
 * board and straight from flash in the emulator (which starts at 0x10000000).
 * Written from the RP2040 datasheet's SSI register description; no Pico SDK code.
 */
    .syntax unified
    .cpu cortex-m0plus
    .thumb

    .section .boot2, "ax"
    .global boot2_entry
    .type boot2_entry, %function
boot2_entry:
    ldr  r3, =0x18000000        /* XIP_SSI_BASE */
    movs r1, #0
    str  r1, [r3, #0x08]        /* SSIENR = 0: disable to configure */
    movs r1, #4
    str  r1, [r3, #0x14]        /* BAUDR: clk_sys / 4 */
    ldr  r1, =((31 << 16) | (3 << 8))   /* CTRLR0: 32-bit frames, EEPROM-read mode, std SPI */
    str  r1, [r3, #0x00]
    ldr  r1, =((0x03 << 24) | (2 << 8) | (6 << 2))  /* SPI_CTRLR0: cmd 03h, 8-bit cmd, 24-bit addr */
    movs r0, #0xf4
    str  r1, [r3, r0]
    movs r1, #0
    str  r1, [r3, #0x04]        /* CTRLR1: one frame per XIP access */
    movs r1, #1
    str  r1, [r3, #0x08]        /* SSIENR = 1 */

    ldr  r0, =0x10000100        /* our vector table */
    ldr  r1, =0xe000ed08        /* VTOR */
    str  r0, [r1]
    ldmia r0, {r0, r1}          /* initial SP, reset handler */
    msr  msp, r0
    bx   r1
    .ltorg
