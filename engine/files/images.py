"""What a file really is, read from its bytes, and thumbnails of images.

    sniff(content, filename)  -> Kind | None   the type by magic numbers (images confirmed by Pillow)
    without_metadata(content, kind) -> bytes | None   a photo as stored: turned upright, no EXIF
    thumbnail(content)        -> bytes | None  a small JPEG of an image (None when it cannot be drawn)

The uploader's file name and Content-Type are never believed: a page renamed photo.jpg is
not an image, and an image is not served as what its name says. Only the name's extension
is used, for the extensions a field lists itself (`accept: [.dwg]`), and then the file is
served as a download, never inline.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass

__all__ = ["Kind", "THUMBNAIL_SIZE", "sniff", "thumbnail", "without_metadata"]

THUMBNAIL_SIZE = (320, 320)
MAX_PIXELS = 50_000_000
"""A larger picture is refused: a few KB can decode to gigabytes (a decompression bomb)."""


@dataclass(frozen=True, slots=True)
class Kind:
    """A sniffed type: its group for `accept` (image, pdf, office, other), MIME type and extension."""

    group: str
    content_type: str
    extension: str

    @property
    def inline(self) -> bool:
        """Shown in the page (images); everything else is downloaded."""
        return self.group == "image"


# MPO: the JPEG of many phone cameras (a JPEG with a second, depth or preview, picture appended).
_IMAGES = {"JPEG": ("image/jpeg", "jpg"), "MPO": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"),
           "GIF": ("image/gif", "gif"), "WEBP": ("image/webp", "webp")}
_SAVED_AS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
JPEG_QUALITY = 90
"""A turned photo is encoded again: close to the camera's own quality, a fraction of a PNG's size."""
_OOXML = {"word/": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
          "xl/": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
          "ppt/": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx")}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc/.xls/.ppt of Office 97-2003
_OLE_EXTENSIONS = {"doc": "application/msword", "xls": "application/vnd.ms-excel",
                   "ppt": "application/vnd.ms-powerpoint"}
# Never stored whatever a field accepts: a browser may run them (a page, a script, an SVG).
_ACTIVE = (b"<!doctype html", b"<html", b"<svg", b"<?xml", b"<script")


def _image(content: bytes) -> Kind | None:
    from PIL import Image, UnidentifiedImageError  # imported on first use: a step without photos never pays for it

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(content)) as image:
                if image.format not in _IMAGES or image.width * image.height > MAX_PIXELS:
                    return None
                image.verify()
                content_type, extension = _IMAGES[image.format]
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
                SyntaxError, ValueError):
            return None
    return Kind("image", content_type, extension)


def _office(content: bytes) -> Kind | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for prefix, (content_type, extension) in _OOXML.items():
        if any(name.startswith(prefix) for name in names):
            return Kind("office", content_type, extension)
    return None


def _extension(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sniff(content: bytes, filename: str = "") -> Kind | None:
    """The file's type from its first bytes; None when it is none we store.

    `filename` only picks between the old Office formats (all one container) and names the
    extension of a file no magic number identifies (kind 'other', for `accept: [.dwg]`).
    """
    head = content[:16]
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")) or (
            head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return _image(content)
    if head.startswith(b"%PDF-"):
        return Kind("pdf", "application/pdf", "pdf")
    if head.startswith(b"PK\x03\x04"):
        found = _office(content)
        if found is not None:
            return found
    extension = _extension(filename)
    if head.startswith(_OLE):
        if extension in _OLE_EXTENSIONS:
            return Kind("office", _OLE_EXTENSIONS[extension], extension)
        return None
    if content.lstrip()[:64].lower().startswith(_ACTIVE):
        return None
    if extension and extension.isalnum() and len(extension) <= 8:
        return Kind("other", "application/octet-stream", extension)
    return None


def without_metadata(content: bytes, kind: Kind) -> bytes | None:
    """The photo as it is stored: turned the way the camera was held, then saved without its metadata.

    A phone's EXIF holds the GPS position of the home, the device and often the owner's name;
    JPEG comments and XMP may too. Only the pixels and the colour profile are kept (of an MPO
    or an animated WebP, the first picture). A GIF carries no EXIF and is kept as given
    (re-encoding would lose its animation); None when the picture cannot be decoded (it is
    then refused like a file of the wrong type).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    saved_as = _SAVED_AS.get(kind.content_type)
    if saved_as is None:
        return content
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(content)) as image:
                image.seek(0)  # an MPO's or an animated WebP's first picture: the photo itself
                icc = image.info.get("icc_profile")
                upright = ImageOps.exif_transpose(image)  # a copy, turned, its orientation tag dropped
                # Nothing the source carried is written again (comment, XMP, EXIF, PNG text) but the
                # palette's transparent colour, which is part of the picture.
                upright.info = {k: v for k, v in upright.info.items() if k == "transparency"}
                options: dict[str, object] = {"icc_profile": icc} if icc else {}
                if saved_as == "JPEG":
                    if upright.mode not in ("RGB", "L", "CMYK"):
                        upright = upright.convert("RGB")
                    options |= {"quality": JPEG_QUALITY, "optimize": True}
                elif saved_as == "WEBP":
                    options |= {"quality": JPEG_QUALITY}
                out = io.BytesIO()
                upright.save(out, saved_as, **options)
                return out.getvalue()
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
                SyntaxError, ValueError):
            return None


def thumbnail(content: bytes) -> bytes | None:
    """A JPEG at most THUMBNAIL_SIZE, turned the way the camera held it; None when it cannot be drawn."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(content)) as image:
                image.seek(0)
                # A JPEG is decoded at a fraction of its size (the step's transaction waits for this).
                image.draft("RGB", (THUMBNAIL_SIZE[0] * 2, THUMBNAIL_SIZE[1] * 2))
                small = ImageOps.exif_transpose(image) or image
                small.thumbnail(THUMBNAIL_SIZE)
                if small.mode not in ("RGB", "L"):
                    small = small.convert("RGB")
                out = io.BytesIO()
                small.save(out, "JPEG", quality=80)  # no EXIF: a photo's GPS position stays in the original
                return out.getvalue()
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
                SyntaxError, ValueError):
            return None
