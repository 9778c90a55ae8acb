# Writes the hand-made seeds of the png and zip fuzz corpora (testing/fuzz/corpus/):
# 16-bit, gamma/sRGB, paletted+tRNS and interlaced PNGs, and zips whose PNG
# entries inflate far beyond what their 8x8 header allows:
#   python3 testing/fuzz/make_corpus_seeds.py testing/fuzz/corpus
import io, os, struct, sys, zipfile, zlib
out = sys.argv[1]
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
def png(w, h, depth, ctype, rows_bytes, extra=b'', interlace=0, plte=None):
    ihdr = struct.pack('>IIBBBBB', w, h, depth, ctype, 0, 0, interlace)
    out = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + extra
    if plte: out += chunk(b'PLTE', plte)
    return out + chunk(b'IDAT', zlib.compress(rows_bytes)) + chunk(b'IEND', b'')
def raw(rows): return b''.join(b'\x00' + r for r in rows)
# 16-bit gray 2x2 with gAMA 1/2.2 and sRGB: read as stored, scaled by 255/65535.
g16 = [struct.pack('>HH', 32809, 28767), struct.pack('>HH', 0, 65535)]
open(os.path.join(out, 'png', 'gray16_gama_2x2.png'), 'wb').write(png(2, 2, 16, 0, raw(g16), chunk(b'gAMA', struct.pack('>I', 45455)) + chunk(b'sRGB', b'\x00')))
# 8-bit gray with gAMA 1.0 (values must not change).
open(os.path.join(out, 'png', 'gray8_gama1_3x1.png'), 'wb').write(png(3, 1, 8, 0, raw([bytes([0, 128, 255])]), chunk(b'gAMA', struct.pack('>I', 100000))))
# 16-bit RGBA 1x2.
open(os.path.join(out, 'png', 'rgba16_1x2.png'), 'wb').write(png(1, 2, 16, 6, raw([struct.pack('>HHHH', 1, 40000, 65535, 5), struct.pack('>HHHH', 65535, 0, 300, 65535)])))
# Paletted 2-bit 3x2 with a tRNS chunk.
plte = bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
rows = [bytes([0b00011011]), bytes([0b11100100])]
open(os.path.join(out, 'png', 'palette2_trns_3x2.png'), 'wb').write(png(3, 2, 2, 3, raw(rows), chunk(b'tRNS', b'\x00\x80'), plte=plte))
# Adam7-interlaced 8-bit gray 5x3.
W, H = 5, 3
img = [[(x * 40 + y * 70) % 256 for x in range(W)] for y in range(H)]
passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
data = b''
for x0, y0, dx, dy in passes:
    xs = list(range(x0, W, dx)); ys = list(range(y0, H, dy))
    if not xs or not ys: continue
    for y in ys: data += b'\x00' + bytes(img[y][x] for x in xs)
open(os.path.join(out, 'png', 'gray8_adam7_5x3.png'), 'wb').write(png(W, H, 8, 0, data, interlace=1))
# Zip: an 8x8 data set whose second entry, named like a PNG, inflates to 4 MiB of zeros.
good = png(8, 8, 8, 0, raw([bytes(range(i * 8, i * 8 + 8)) for i in range(8)]))
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('00000/img00000000.png', good)
    z.writestr('00000/img00000001.png', b'\x00' * (4 << 20))
    z.writestr('dataset.json', '{"labels": null}')
open(os.path.join(out, 'zip', 'zeros_4mib_entry.zip'), 'wb').write(buf.getvalue())
# A PNG entry of the declared size followed by 4 MiB of padding.
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('00000/img00000000.png', good + b'\x00' * (4 << 20))
    z.writestr('dataset.json', '{"labels": null}')
open(os.path.join(out, 'zip', 'padded_png_entry.zip'), 'wb').write(buf.getvalue())
