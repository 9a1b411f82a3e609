#!/usr/bin/env python3
"""Writes eng/icon.png, the 128x128 package icon (a rounded square with three live-data bars).
Pure standard library, so it runs anywhere: python3 eng/make-icon.py"""
import os, struct, zlib

N = 128
BG, FG = (0x1f, 0x4e, 0x79), (0xff, 0xff, 0xff)
ACCENT = (0x4f, 0xc3, 0xf7)

def inside_rounded(x, y, r=24):
    cx = min(max(x, r), N - 1 - r)
    cy = min(max(y, r), N - 1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r

def pixel(x, y):
    if not inside_rounded(x, y):
        return (0, 0, 0, 0)
    # three bars of different lengths: a live table / a stream of rows
    for i, (length, colour) in enumerate([(80, FG), (60, ACCENT), (92, FG)]):
        top = 30 + i * 26
        if top <= y < top + 16 and 18 <= x < 18 + length:
            return colour + (255,)
    return BG + (255,)

rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(N)) for y in range(N))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", N, N, 8, 6, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "icon.png"), "wb") as f:
    f.write(png)
