"""Frames into bytes: BT.709 RGB→YUV, segments of every delivery format (H.264, HEVC, ProRes, DNxHR) and their
joins, frame sequences, the watermark and subtitle recipes, contact sheets."""
