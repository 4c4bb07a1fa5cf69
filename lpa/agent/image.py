#!/usr/bin/env python3
"""image.py — finishes a linked agent image: fills in the image-info block's size and
SHA-256 and writes the three forms a factory flashes.

    image.py OBJCOPY LINKED.elf OUT.elf OUT.bin OUT.hex

The raw binary starts at the image's load address (0x10000000); the info block sits at
offset 0x40 (startup.c, docs/agent.md "Image"). The SHA-256 is over the raw binary with
its own 32-byte field zero, so anyone can recompute it from the flashed bytes
(`lpa-station agent info` does).
"""
import hashlib
import os
import struct
import subprocess
import sys
import tempfile

INFO_OFF = 0x40
INFO_LEN = 0x40
SIZE_OFF = INFO_OFF + 8
HASH_OFF = INFO_OFF + 16
LOAD_ADDR = 0x10000000


def intel_hex(data, base):
    lines = []
    upper = None
    for off in range(0, len(data), 16):
        addr = base + off
        if addr >> 16 != upper:
            upper = addr >> 16
            rec = bytes([2, 0, 0, 4]) + struct.pack(">H", upper)
            lines.append(":" + rec.hex().upper() + "%02X" % (-sum(rec) & 0xFF))
        chunk = data[off:off + 16]
        rec = bytes([len(chunk)]) + struct.pack(">H", addr & 0xFFFF) + b"\x00" + chunk
        lines.append(":" + rec.hex().upper() + "%02X" % (-sum(rec) & 0xFF))
    lines.append(":00000001FF")
    return "\n".join(lines) + "\n"


def main():
    objcopy, linked, out_elf, out_bin, out_hex = sys.argv[1:6]
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.bin")
        subprocess.run([objcopy, "-O", "binary", linked, raw], check=True)
        img = bytearray(open(raw, "rb").read())
        if img[INFO_OFF:INFO_OFF + 4] != b"LPAI":
            sys.exit(f"{linked}: no image-info block at offset 0x{INFO_OFF:x}")
        struct.pack_into("<I", img, SIZE_OFF, len(img))
        img[HASH_OFF:HASH_OFF + 32] = bytes(32)
        img[HASH_OFF:HASH_OFF + 32] = hashlib.sha256(img).digest()
        info = os.path.join(tmp, "info.bin")
        open(info, "wb").write(img[INFO_OFF:INFO_OFF + INFO_LEN])
        subprocess.run([objcopy, "--update-section", ".agent_info=" + info, linked, out_elf],
                       check=True)
    open(out_bin, "wb").write(img)
    open(out_hex, "w").write(intel_hex(bytes(img), LOAD_ADDR))


if __name__ == "__main__":
    main()
