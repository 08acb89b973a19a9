"""The emulated Pico4ML: the unmodified firmware image on two emulated RP2040 cores
(rp2040py, extended from outside) with models of the HM01B0 camera, the ST7735S LCD and a
USB host speaking the project's protocol. See docs/emulator.md.

Layer: imports common, train, export, host_twin; host_gui may import it.
"""
