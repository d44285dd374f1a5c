"""Frames into bytes: BT.709 RGB→YUV, H.264 segments and their joins, the watermark and subtitle recipes, contact sheets."""
