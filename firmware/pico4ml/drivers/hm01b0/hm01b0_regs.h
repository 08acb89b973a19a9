/* Himax HM01B0 register addresses (16-bit) and field values, named after the
 * HM01B0 datasheet's register map. Only what this driver writes or reads. */
#ifndef HM01B0_REGS_H
#define HM01B0_REGS_H

/* Sensor id */
#define HM01B0_MODEL_ID_H           0x0000
#define HM01B0_MODEL_ID_L           0x0001
#define HM01B0_MODEL_ID             0x01B0
#define HM01B0_FRAME_COUNT          0x0005

/* Sensor mode control */
#define HM01B0_MODE_SELECT          0x0100
#define   HM01B0_MODE_STANDBY       0x00
#define   HM01B0_MODE_STREAMING     0x01
#define HM01B0_IMAGE_ORIENTATION    0x0101  /* bit0 horizontal mirror, bit1 vertical flip */
#define HM01B0_SW_RESET             0x0103
#define HM01B0_GRP_PARAM_HOLD       0x0104  /* write 1: apply the registers below at the next frame */

/* Exposure and gain (used when AE is off) */
#define HM01B0_INTEGRATION_H        0x0202  /* coarse integration time, lines */
#define HM01B0_INTEGRATION_L        0x0203
#define HM01B0_ANALOG_GAIN          0x0205  /* [6:4]: gain = 2^n, n = 0..3 */
#define HM01B0_DIGITAL_GAIN_H       0x020E  /* [1:0]: integer part (Q2.6 gain, 0x40 = 1x) */
#define HM01B0_DIGITAL_GAIN_L       0x020F  /* [7:2]: fraction */

/* Frame timing */
#define HM01B0_FRAME_LEN_LINES_H    0x0340
#define HM01B0_FRAME_LEN_LINES_L    0x0341
#define HM01B0_LINE_LEN_PCK_H       0x0342
#define HM01B0_LINE_LEN_PCK_L       0x0343

/* Digital gain control (Himax script: "Dgain Control", 0x7F) */
#define HM01B0_DGAIN_CONTROL        0x0350

/* Readout / binning */
#define HM01B0_READOUT_X            0x0383  /* 0x01 full, 0x03 skip/bin by 2 */
#define HM01B0_READOUT_Y            0x0387
#define HM01B0_BINNING_MODE         0x0390  /* 0x00 off, 0x03 2x2 binning */
#define HM01B0_QVGA_WIN_EN          0x3010  /* 1: 324x244 window */

/* Black level, defect pixel correction */
#define HM01B0_BLC_CFG              0x1000
#define HM01B0_BLC_DITHER           0x1001
#define HM01B0_BLC_DARK_THD         0x1002
#define HM01B0_BLC_TGT              0x1003
#define HM01B0_BLI_EN               0x1006
#define HM01B0_BLC2_TGT             0x1007
#define HM01B0_DPC_CTRL             0x1008
#define HM01B0_SYNC_SHIFT_EN        0x1012  /* [1:0]: VSYNC / HSYNC shift enable */

/* Statistics and automatic exposure */
#define HM01B0_STAT_CTRL            0x2000  /* [0] AE statistics enable */
#define HM01B0_AE_CTRL              0x2100  /* [0] AE enable */
#define HM01B0_AE_TARGET_MEAN       0x2101
#define HM01B0_AE_MIN_MEAN          0x2102
#define HM01B0_CONVERGE_IN_TH       0x2103
#define HM01B0_CONVERGE_OUT_TH      0x2104
#define HM01B0_MAX_INTG_H           0x2105
#define HM01B0_MAX_INTG_L           0x2106
#define HM01B0_MIN_INTG             0x2107
#define HM01B0_MAX_AGAIN_FULL       0x2108
#define HM01B0_MAX_AGAIN_BIN2       0x2109
#define HM01B0_MIN_AGAIN            0x210A
#define HM01B0_MAX_DGAIN            0x210B
#define HM01B0_MIN_DGAIN            0x210C
#define HM01B0_DAMPING_FACTOR       0x210D
#define HM01B0_FS_CTRL              0x210E  /* flicker step control, 0 = off */
#define HM01B0_MD_CTRL              0x2150  /* motion detection, 0 = off */

/* Analog block, undocumented in the public datasheet beyond its name:
 * Himax's own init script and Zephyr's driver describe these as CDS settling
 * time (0x3044, 0x3047), negative offset range (0x3050..0x3053), signal
 * clamping (0x3054), "dsun" tuning (0x3055, 0x3058), ADC non-overlap clock
 * (0x3056) and ADC power "for missing code" (0x3057). */
#define HM01B0_ANA_CDS_TIME_1       0x3044
#define HM01B0_ANA_CDS_TG_RST       0x3045
#define HM01B0_ANA_CDS_TIME_2       0x3047
#define HM01B0_ANA_OFFSET_0         0x3050
#define HM01B0_ANA_OFFSET_1         0x3051
#define HM01B0_ANA_OFFSET_2         0x3052
#define HM01B0_ANA_OFFSET_3         0x3053
#define HM01B0_ANA_SF_CLAMP         0x3054
#define HM01B0_ANA_DSUN_TUNE        0x3055
#define HM01B0_ANA_ADC_NONOVERLAP   0x3056
#define HM01B0_ANA_ADC_POWER        0x3057
#define HM01B0_ANA_DSUN_ON          0x3058

/* Output interface */
#define HM01B0_BIT_WIDTH            0x3011  /* 0x70: 8-bit pixels (6-bit mode off) */
#define HM01B0_ADVANCE_VSYNC        0x3022
#define HM01B0_BIT_CONTROL          0x3059  /* [6] 4-bit bus, [5] serial (1-bit), [4:0] keep 0x02 */
#define   HM01B0_BIT_CONTROL_SERIAL 0x22
#define HM01B0_OSC_CLK_DIV          0x3060  /* [5] gated PCLK, [4] MSB first, [3:2] vt_reg_div, [1:0] vt_sys_div */
#define HM01B0_TRIGGER_SYNC         0x3064
#define HM01B0_OUTPUT_PIN_CTRL      0x3065

#endif
