"""The PNG and JPEG header reader gives Pillow's reading of every file it takes, and leaves the rest to Pillow.

Each example is a real file written by Pillow (any mode, EXIF orientation before or after the pixels, XMP, ICC,
progressive, multi-picture), some then damaged byte by byte; the reader's answer is compared with Pillow's own
(`pillow_source_header`), which is what a spec's sources were read with before.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from kohya_prep.spec.headers import MAX_SOURCE_PIXELS, pillow_source_header, probe, read_source_header

PNG_MODES = ["1", "L", "LA", "RGB", "RGBA", "P", "P+transparency", "RGB+transparency", "I;16"]
JPEG_MODES = ["L", "RGB", "CMYK"]
XMP_TURNED = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _image(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
    base, _, extra = mode.partition("+")
    if base == "I;16":
        return Image.fromarray(pixels[:, :, 0].astype(np.uint16) * 257)
    img = Image.fromarray(pixels, "RGBA").convert(base)
    if extra == "transparency":
        img.info["transparency"] = 0 if base == "P" else (1, 2, 3)
    return img


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _png(mode: str, size: tuple[int, int], seed: int, orientation: int, after_pixels: bool, xmp: bool) -> bytes:
    img = _image(mode, size, seed)
    buffer = io.BytesIO()
    options: dict = {"transparency": img.info["transparency"]} if "transparency" in img.info else {}
    if orientation and not after_pixels:
        options["exif"] = _exif(orientation)
    if xmp:
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_itxt("XML:com.adobe.xmp", XMP_TURNED.decode())
        options["pnginfo"] = info
    img.save(buffer, format="PNG", **options)
    data = buffer.getvalue()
    if orientation and after_pixels:  # allowed by the PNG spec; Pillow finds it only by decoding
        end = data.rindex(b"IEND") - 4
        data = data[:end] + _chunk(b"eXIf", _exif(orientation)) + data[end:]
    return data


def _jpeg(path: Path, mode: str, size: tuple[int, int], seed: int, orientation: int, xmp: bool, progressive: bool,
          icc: bool) -> bytes:
    """A JPEG written to `path` by Pillow; its bytes."""
    img = _image(mode, size, seed)
    options: dict = {"quality": 80, "progressive": progressive}
    if orientation:
        options["exif"] = _exif(orientation)
    if xmp:
        options["xmp"] = XMP_TURNED
    if icc:
        # a baseline JPEG's spans two APP2 segments (Pillow cannot write that much into a progressive one)
        options["icc_profile"] = b"\0" * (3_000 if progressive else 70_000)
    img.save(path, format="JPEG", **options)
    return path.read_bytes()


def _damaged(data: bytes, where: float, byte: int) -> bytes:
    """One byte of the first 200 (the headers) replaced."""
    index = int(where * min(len(data), 200))
    return data[:index] + bytes([byte]) + data[index + 1:]


def _pillow(path: Path) -> tuple | str:
    try:
        return pillow_source_header(path)
    except (OSError, SyntaxError, ValueError) as err:
        return type(err).__name__


def _ours(path: Path) -> tuple | str:
    try:
        return read_source_header(path)
    except (OSError, SyntaxError, ValueError) as err:
        return type(err).__name__


SIZES = st.tuples(st.integers(1, 40), st.integers(1, 40))
ORIENTATIONS = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=st.sampled_from(PNG_MODES), size=SIZES, seed=st.integers(0, 3), orientation=ORIENTATIONS,
       after_pixels=st.booleans(), xmp=st.booleans(), damage=st.none() | st.tuples(st.floats(0, 0.999), st.integers(0, 255)))
def test_a_png_reads_as_pillow_reads_it(tmp_path: Path, mode: str, size: tuple[int, int], seed: int, orientation: int,
                                        after_pixels: bool, xmp: bool, damage: tuple[float, int] | None) -> None:
    data = _png(mode, size, seed, orientation, after_pixels, xmp)
    path = tmp_path / "a.png"
    path.write_bytes(_damaged(data, *damage) if damage else data)
    assert _ours(path) == _pillow(path)
    header = probe(path)
    if header is not None:  # the files the render decodes with libpng straight into RGB or RGBA
        with Image.open(path) as img:
            assert header.plain == (img.mode in ("RGB", "RGBA") and "transparency" not in img.info
                                    and path.read_bytes()[24] == 8)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=st.sampled_from(JPEG_MODES), size=SIZES, seed=st.integers(0, 3), orientation=ORIENTATIONS,
       xmp=st.booleans(), progressive=st.booleans(), icc=st.booleans(),
       damage=st.none() | st.tuples(st.floats(0, 0.999), st.integers(0, 255)))
def test_a_jpeg_reads_as_pillow_reads_it(tmp_path: Path, mode: str, size: tuple[int, int], seed: int, orientation: int,
                                         xmp: bool, progressive: bool, icc: bool,
                                         damage: tuple[float, int] | None) -> None:
    path = tmp_path / "a.jpg"
    data = _jpeg(path, mode, size, seed, orientation, xmp, progressive, icc)
    path.write_bytes(_damaged(data, *damage) if damage else data)
    assert _ours(path) == _pillow(path)
    header = probe(path)
    if header is not None:
        with Image.open(path) as img:
            assert header.plain == (img.format == "JPEG" and img.mode in ("RGB", "L"))


def test_xmp_orientation_without_exif_is_left_to_pillow(tmp_path: Path) -> None:
    _jpeg(tmp_path / "a.jpg", "RGB", (30, 10), 0, 0, xmp=True, progressive=False, icc=False)
    assert probe(tmp_path / "a.jpg") is None
    assert read_source_header(tmp_path / "a.jpg") == ((10, 30), True, False)  # Pillow reads tiff:Orientation 6


def test_a_multi_picture_jpeg_is_left_to_pillow(tmp_path: Path) -> None:
    first, second = _image("RGB", (20, 10), 0), _image("RGB", (20, 10), 1)
    first.save(tmp_path / "pair.jpg", format="MPO", save_all=True, append_images=[second])
    assert probe(tmp_path / "pair.jpg") is None
    assert read_source_header(tmp_path / "pair.jpg") == ((20, 10), False, False)  # Pillow: an MPO, not a JPEG


def test_a_source_over_the_limit_is_refused_in_pillows_words(tmp_path: Path) -> None:
    width = MAX_SOURCE_PIXELS // 1000 + 1
    header = struct.pack(">IIBBBBB", width, 2000, 8, 2, 0, 0, 0)
    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b""))
                     + _chunk(b"IEND", b""))
    assert probe(path) is None
    with pytest.raises(OSError, match="exceeds limit"):
        read_source_header(path)


def test_a_chunk_length_past_the_end_of_the_file_is_never_read(tmp_path: Path) -> None:
    """A hostile length (4 GB before the pixels, or in an eXIf after them) allocates nothing: it goes to Pillow,
    which refuses the file, or reads as no orientation."""
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", 40, 20, 8, 2, 0, 0, 0))
    idat = _chunk(b"IDAT", zlib.compress(b"\0" * (20 * 121)))
    huge = struct.pack(">I", 0xFFFFFFF0)
    (tmp_path / "before.png").write_bytes(b"\x89PNG\r\n\x1a\n" + header + huge + b"tEXt" + b"x" * 10)
    (tmp_path / "after.png").write_bytes(b"\x89PNG\r\n\x1a\n" + header + idat + huge + b"eXIf" + b"MM\0*")
    # in a process that may not map 1 GB: a read of the stated length would fail with MemoryError. The second
    # reader is the one Pillow's path uses (a palette PNG, say) to find an eXIf after the pixels.
    script = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
              "from kohya_prep.spec.headers import png_exif_chunk, probe\n"
              "print([probe(p) is None for p in sys.argv[1:]], [probe(p).size for p in sys.argv[2:]],"
              " png_exif_chunk(sys.argv[2]))\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "before.png"), str(tmp_path / "after.png")],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.stdout.strip() == "[True, False] [(40, 20)] b'MM\\x00*'", done.stderr
    assert _ours(tmp_path / "before.png") == _pillow(tmp_path / "before.png")
    assert read_source_header(tmp_path / "after.png") == ((40, 20), False, False)
