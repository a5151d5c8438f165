"""Images people upload (avatars, pictures in questions): checked, then re-encoded.

Nothing uploaded is stored or served as sent. :func:`clean_image` refuses what is too
large, what is not a PNG, JPEG or WebP image (whatever its name or Content-Type says:
the bytes decide), what is truncated, and decompression bombs (a small file that claims
a huge picture: its size is read from the header and checked *before* anything is
decoded); what passes is turned upright (EXIF orientation), converted to RGB or RGBA,
shrunk to fit a square and written as a fresh PNG: no EXIF, GPS, text chunks, ICC
profile or anything else of the original survives.

Blocking (Pillow decodes in C, releasing the GIL as it goes): call it in a thread.
"""

from __future__ import annotations

import base64
import binascii
import io

from PIL import Image, ImageOps, UnidentifiedImageError

#: what is accepted (Pillow's format names)
FORMATS = ("PNG", "JPEG", "WEBP")
#: largest upload, in bytes
MAX_IMAGE_BYTES = 2 * 1024 * 1024
#: most pixels an accepted image may claim: decoding costs 4 bytes a pixel (64 MiB here),
#: and a 2 MiB upload of an honest picture is well under it (a 12-megapixel photo)
MAX_PIXELS = 16_000_000

# what other files start with, to tell someone what they sent
_SIGNATURES = (
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x00\x00\x01\x00", "an ICO image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
)


class ImageError(ValueError):
    """An image that is refused; ``str(e)`` names the problem, ``status`` is the HTTP
    status to answer with (400: broken or not an image)."""

    status = 400


class ImageTooLarge(ImageError):
    """More bytes than accepted (413)."""

    status = 413


class UnsupportedImage(ImageError):
    """An image, but not in an accepted format (415)."""

    status = 415


def clean_image(
    data: bytes,
    *,
    max_side: int = 256,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_PIXELS,
    what: str = "image",
) -> bytes:
    """``data`` checked and re-encoded as a PNG of at most ``max_side`` pixels a side,
    without metadata; ImageError (a subclass saying which status) naming the problem.
    ``what`` names the upload in messages ("avatar", "image")."""
    if len(data) > max_bytes:
        raise ImageTooLarge(f"{what} is {_size(len(data))}; at most {_size(max_bytes)} is accepted")
    if not data:
        raise ImageError(f"{what} is empty: send the bytes of a PNG, JPEG or WebP image")
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise _not_accepted(data, what) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise _bomb(what, max_pixels, e) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{what} is not a readable image: {e}") from None
    with image:
        width, height = image.size
        # from the header alone: nothing has been decoded yet
        if width * height > max_pixels:
            raise _bomb(what, max_pixels, f"it claims {width}x{height}")
        if width < 1 or height < 1:
            raise ImageError(f"{what} has no pixels")
        try:
            if image.format == "JPEG":
                # decode at the smallest scale still at least max_side: less work, memory
                image.draft("RGB", (max_side, max_side))
            image.load()
            return _reencoded(image, max_side)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise _bomb(what, max_pixels, e) from None
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            # "image file is truncated", a broken stream, a text chunk too large...
            raise ImageError(f"{what} is a damaged {image.format} image: {e}") from None


def from_base64(value, what: str = "data") -> bytes:
    """The bytes of an image sent in JSON: base64, or a ``data:`` URL holding base64;
    ImageError naming ``what`` otherwise."""
    if not isinstance(value, str) or not value:
        raise ImageError(f"{what} is required: the image's bytes in base64")
    if value.startswith("data:") and ";base64," in value[:100]:
        value = value.split(";base64,", 1)[1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError(f"{what} is not valid base64") from None


def base64_body_limit(max_bytes: int) -> int:
    """The largest JSON body that may hold an image of ``max_bytes`` in base64 (with
    room for a name and a few fields); the image's own limit is checked once decoded."""
    return 4 * -(-max_bytes // 3) + 64 * 1024


def _reencoded(image: Image.Image, max_side: int) -> bytes:
    upright = ImageOps.exif_transpose(image)
    has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    converted = upright.convert("RGBA" if has_alpha else "RGB")
    converted.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # a new image made of the pixels alone: no `info` (EXIF, text, ICC, dpi) to carry
    fresh = Image.frombytes(converted.mode, converted.size, converted.tobytes())
    out = io.BytesIO()
    fresh.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _bomb(what: str, max_pixels: int, detail) -> ImageError:
    return ImageError(
        f"{what} claims more pixels than accepted (at most {max_pixels:,}; a decompression "
        f"bomb?): {detail}"
    )


def _not_accepted(data: bytes, what: str) -> ImageError:
    """The refusal of bytes Pillow did not read as PNG, JPEG or WebP: naming what they
    are, when that is easy to tell."""
    head = data[:64]
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return UnsupportedImage(f"{what} is {kind}: only PNG, JPEG and WebP are accepted")
    if head.lstrip().lower().startswith((b"<svg", b"<?xml")):
        return UnsupportedImage(f"{what} is an SVG image: only PNG, JPEG and WebP are accepted")
    return ImageError(f"{what} is not an image: only PNG, JPEG and WebP are accepted")


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB".replace(".0 MiB", " MiB")
    return f"{size / 1024:.0f} KiB" if size >= 1024 else f"{size} bytes"
