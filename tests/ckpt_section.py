#!/usr/bin/env python3
"""Print the SHA-256 of one section of an mgsd checkpoint (docs/checkpoint.md layout).
Usage: ckpt_section.py FILE SECTION"""
import hashlib, struct, sys

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"MGSDCKPT", "not an mgsd checkpoint"
n = struct.unpack_from("<I", data, 12)[0]
off = 16
for _ in range(n):
    name_len = struct.unpack_from("<H", data, off + 4)[0]
    length = struct.unpack_from("<Q", data, off + 12)[0]
    name = data[off + 20: off + 20 + name_len].decode()
    start = (off + 20 + name_len + 63) // 64 * 64
    if name == sys.argv[2]:
        print(hashlib.sha256(data[start:start + length]).hexdigest())
        sys.exit(0)
    off = start + length
sys.exit("no section " + sys.argv[2])
