#!/usr/bin/env python3
"""Regenerates the seed corpus in Fuzz/corpus/ (small hand-made inputs, one folder per target).
Run from anywhere: python3 Fuzz/make_seeds.py. Uses only the standard library and one 4 KB
photo of the bundled gallery."""
import json, os, struct, zlib

here = os.path.dirname(os.path.abspath(__file__))
corpus = os.path.join(here, "corpus")
def w(p, b):
    p = os.path.join(corpus, p)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(b)

def st(header, data=b""):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data
w("safetensors/f32.safetensors", st({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, struct.pack("<4f", 1, 2, 3, 4)))
w("safetensors/mixed-metadata.safetensors", st({"__metadata__": {"format": "pt", "heads": "2"},
   "h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}, "b": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [4, 8]},
   "i": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]}, "d": {"dtype": "F64", "shape": [], "data_offsets": [16, 24]},
   "e": {"dtype": "U8", "shape": [0], "data_offsets": [24, 24]}}, b"\x00\x3c\x00\xc0\x80\x3f\x20\xc0" + struct.pack("<q", 7) + struct.pack("<d", 0.5)))
w("safetensors/huge-claim.safetensors", st({"t": {"dtype": "F32", "shape": [1000000, 1000000], "data_offsets": [0, 4]}}, b"\0\0\0\0"))

def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
def png(width, height, depth, ctype, rows, extra=b""):
    raw = b"".join(b"\0" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, ctype, 0, 0, 0)) + extra
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
w("image/rgb8.png", png(4, 3, 8, 2, [bytes(sum(([x * 60, y * 80, 128] for x in range(4)), [])) for y in range(3)]))
w("image/palette-trns.png", png(4, 2, 8, 3, [bytes([0, 1, 2, 1])] * 2, chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255])) + chunk(b"tRNS", bytes([255, 0]))))
w("image/grey16.png", png(3, 3, 16, 0, [bytes(sum(([x * 20, y * 7] for x in range(3)), [])) for y in range(3)]))
w("image/rgba8.png", png(2, 2, 8, 6, [bytes([255, 0, 0, 128, 0, 255, 0, 0])] * 2))
jpg = open(os.path.join(here, "..", "assets", "gallery", "photos", "gcompris-hammer8.jpg"), "rb").read()
w("image/small.jpg", jpg)
tiff = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 6) + struct.pack("<I", 0)
app1 = b"Exif\0\0" + tiff   # EXIF orientation 6 (rotate 90°)
w("image/exif-orientation6.jpg", jpg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpg[2:])
w("image/truncated.jpg", jpg[: len(jpg) // 2])

w("clip-bpe/plain.txt", b"A photo of a cat on the grass")
w("clip-bpe/html-mojibake.txt", "caf\u00c3\u00a9 &amp;eacute; &notit; \u2019quoted\u2019 \ufb01ne \uff21\uff22 <|endoftext|> don't".encode())
w("clip-bpe/unicode.txt", "\u0130stanbul \u00df \u03a3\u039f\u03a3 \u0345 '\u017f 12,5% \U0001F600\u200d\U0001F431 \u4e2d\u6587 \x1b[31mred".encode())
w("clip-bpe/invalid-utf8.bin", b"ok \xff\xfe\xc3( \xe2\x82 end")
w("clip-bpe/long-word.txt", b"a" * 300 + b" " + b"xy" * 40)
for n in ["plain.txt", "unicode.txt", "invalid-utf8.bin"]:
    w("wordpiece/" + n, open(os.path.join(corpus, "clip-bpe", n), "rb").read())
w("wordpiece/punct-cjk.txt", "Sounds good!! unaffable [SEP] \u00e9t\u00e9 \u6f22\u5b57\t\u00a0x\u0000y \ufffd".encode())

d1 = {"id": "d1", "turns": [{"speaker": "A", "text": "look at my dog"}, {"speaker": "B", "text": "cute!", "image": "dog.jpg"}],
      "share_turn": 1, "photo": {"description": "a dog", "url": "http://x", "shared_by": "B"}}
d2 = {"id": 7, "turns": [{"text": "hi"}]}
w("dialogues/dialogues.jsonl", (json.dumps(d1) + "\n\n" + json.dumps(d2) + "\n").encode())
w("dialogues/replies.txt", b"Sounds good!\n  \nsee you\nsee you\n\xc3\xa9t\xc3\xa9\n")
w("dialogues/bad-record.jsonl", b'{"turns": 3}\n{"turns": [{"text": 1}]}\n')
g = [{"file": "photos/a.jpg", "captions": ["a dog", "dog"], "category": "dog", "label": "Dog", "license": "CC0"},
     {"file": "b.png", "caption": " a cat "}, {"file": "../c.jpg"}]
w("captions/gallery.jsonl", ("\n".join(json.dumps(x) for x in g) + "\n  \nnot json\n").encode())
