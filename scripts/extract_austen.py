#!/usr/bin/env python3
"""Extracts Jane Austen's six novels as UTF-8 text (one line per source line) from Debian's
r-cran-janeaustenr data file, without R: the .rdb file is a sequence of [u32 BE uncompressed length]
[zlib stream] entries; each decompresses to R's XDR serialization ('X\\n', format version 3) of a
character vector (STRSXP, type 16) whose elements are CHARSXPs [u32 flags][i32 length][bytes].
Usage: extract_austen.py Rdata.rdb OUT.txt"""
import struct
import sys
import zlib


def read_entries(data):
    pos = 0
    while pos + 4 <= len(data):
        pos += 4  # uncompressed length (unused: zlib tells us)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(data[pos:])
        pos = len(data) - len(inflater.unused_data)
        yield raw


def strings_of(raw):
    if raw[:2] != b"X\n":
        return []
    pos = 2
    version = struct.unpack(">i", raw[pos:pos + 4])[0]
    pos += 12  # format version, R version, minimal R version
    if version == 3:
        n = struct.unpack(">i", raw[pos:pos + 4])[0]
        pos += 4 + n  # native encoding name
    flags, count = struct.unpack(">Ii", raw[pos:pos + 8])
    pos += 8
    if flags & 0xFF != 16:  # not a character vector (e.g. a data frame): skip
        return []
    out = []
    for _ in range(count):
        _, length = struct.unpack(">Ii", raw[pos:pos + 8])
        pos += 8
        if length < 0:
            out.append("")
            continue
        out.append(raw[pos:pos + length].decode("utf-8", errors="replace"))
        pos += length
    return out


def main():
    data = open(sys.argv[1], "rb").read()
    lines = []
    for raw in read_entries(data):
        lines.extend(strings_of(raw))
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"austen: {len(lines)} lines, {sum(len(l) for l in lines)} characters -> {sys.argv[2]}")


if __name__ == "__main__":
    main()
