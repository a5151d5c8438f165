"""Avatars: whatever is uploaded is checked (size, format, claimed pixels, damage) and
re-encoded as a small PNG with no metadata; served to signed-in users only."""

from __future__ import annotations

import base64
import io
import json
import zlib

import pytest
from PIL import Image, PngImagePlugin
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from grader.images import (
    MAX_IMAGE_BYTES,
    ImageError,
    ImageTooLarge,
    UnsupportedImage,
    clean_image,
)
from grader.learners import profiles
from tests.conftest import Client

GPS_PLACE = "51.5007,-0.1246"


def photo_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # Make
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 2.5), 3: "W", 4: (0.0, 7.0, 28.5)}  # GPS IFD
    return exif


def jpeg_with_exif(size=(800, 600), orientation: int = 1) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", exif=photo_exif(orientation))
    return out.getvalue()


def png_with_metadata(mode="RGBA", size=(640, 480)) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("GPS", GPS_PLACE)
    info.add_itxt("Comment", "taken at home", zip=True)
    out = io.BytesIO()
    Image.new(mode, size, (10, 200, 10, 128)[: len(mode)]).save(
        out, "PNG", pnginfo=info, exif=photo_exif()
    )
    return out.getvalue()


def jpeg_bomb(width=20000, height=20000) -> bytes:
    """A tiny JPEG whose header claims width x height pixels."""
    out = io.BytesIO()
    Image.new("L", (8, 8)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    frame = data.find(b"\xff\xc0")  # start of frame: length(2) precision(1) height width
    data[frame + 5 : frame + 7] = height.to_bytes(2, "big")
    data[frame + 7 : frame + 9] = width.to_bytes(2, "big")
    return bytes(data)


def png_bomb(side=30000) -> bytes:
    """A PNG whose IHDR claims side x side pixels (a few bytes of zeros follow)."""
    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = data.find(b"IHDR")
    data[ihdr + 4 : ihdr + 8] = side.to_bytes(4, "big")
    data[ihdr + 8 : ihdr + 12] = side.to_bytes(4, "big")
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = crc.to_bytes(4, "big")
    return bytes(data)


def opened(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image


# clean_image ---------------------------------------------------------------------------


def test_a_png_with_exif_and_text_chunks_loses_them_all():
    data = png_with_metadata()
    assert GPS_PLACE.encode() in data and b"SecretCamera" in data
    png = clean_image(data)
    image = opened(png)
    assert image.size == (256, 192) and image.mode == "RGBA"  # resized, alpha kept
    assert image.info == {} and not image.getexif()
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP"):
        assert chunk not in png
    assert GPS_PLACE.encode() not in png and b"SecretCamera" not in png


def test_a_jpeg_with_gps_is_turned_upright_and_stripped():
    data = jpeg_with_exif((800, 600), orientation=6)  # "rotate 90° to display"
    assert b"SecretCamera" in data
    image = opened(clean_image(data))
    assert image.size == (192, 256) and image.mode == "RGB"  # upright: portrait now
    assert image.info == {} and not image.getexif()


def test_webp_is_accepted_and_small_images_are_not_enlarged():
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(out, "WEBP")
    assert opened(clean_image(out.getvalue())).size == (40, 30)


def test_a_palette_image_with_transparency_keeps_it():
    out = io.BytesIO()
    Image.new("P", (10, 10), 0).save(out, "PNG", transparency=0)
    assert opened(clean_image(out.getvalue())).mode == "RGBA"


@pytest.mark.parametrize("bomb", [jpeg_bomb(), jpeg_bomb(5000, 4000), png_bomb()])
def test_decompression_bombs_are_refused_before_decoding(bomb):
    assert len(bomb) < 1000
    with pytest.raises(ImageError, match="claims more pixels than accepted") as e:
        clean_image(bomb)
    assert e.value.status == 400


@pytest.mark.parametrize(
    "data, kind, status, message",
    [
        (b"", ImageError, 400, "empty"),
        (b"hello, I am text", ImageError, 400, "is not an image"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>', UnsupportedImage,
         415, "is an SVG image"),
        (b"GIF89a\x01\x00\x01\x00", UnsupportedImage, 415, "is a GIF image"),
        (b"%PDF-1.7\n", UnsupportedImage, 415, "is a PDF document"),
        (b"x" * (MAX_IMAGE_BYTES + 1), ImageTooLarge, 413, "at most 2 MiB"),
    ],
)  # fmt: skip
def test_what_is_not_an_accepted_image_is_named(data, kind, status, message):
    with pytest.raises(kind, match=message) as e:
        clean_image(data, what="avatar")
    assert e.value.status == status and str(e.value).startswith("avatar ")


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9])
def test_truncated_files_are_refused(cut):
    for data in (png_with_metadata("RGB"), jpeg_with_exif()):
        with pytest.raises(ImageError) as e:
            clean_image(data[: int(len(data) * cut)])
        assert e.value.status == 400


def test_a_real_image_over_the_size_limit_is_refused_before_decoding():
    noise = Image.frombytes("RGB", (1000, 1000), bytes(range(256)) * 11719 + b"\0" * 36)
    out = io.BytesIO()
    noise.save(out, "PNG", compress_level=0)
    assert len(out.getvalue()) > MAX_IMAGE_BYTES
    with pytest.raises(ImageTooLarge):
        clean_image(out.getvalue())


# through the service --------------------------------------------------------------------


@pytest.fixture
def no_avatar_interval(monkeypatch):
    monkeypatch.setattr(profiles, "AVATAR_CHANGE_INTERVAL", 0)


async def put_avatar(client, data: bytes, content_type="image/jpeg"):
    """PUT the raw bytes, as the extension forwards them."""
    headers = {"Authorization": f"token {client.token}", "Content-Type": content_type}
    try:
        response = await AsyncHTTPClient().fetch(
            client.base_url + "profile/avatar", method="PUT", headers=headers, body=data
        )
    except HTTPClientError as e:
        response = e.response
    client.last_response = response
    return response.code, json.loads(response.body)


async def test_upload_read_and_delete_an_avatar(grader, no_avatar_interval):
    ann, bob = grader.client_for("ann"), grader.client_for("bob")
    code, model = await put_avatar(ann, jpeg_with_exif())
    assert code == 200, model
    assert model["avatar"].startswith("profiles/ann/avatar?v=")
    code, public = await bob.get("profiles/ann")
    assert public["avatar"] == model["avatar"]

    response = await raw_get(bob, model["avatar"])
    assert response.code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"].startswith("private")
    image = opened(response.body)
    assert image.size == (256, 192) and b"SecretCamera" not in response.body

    # the same through JSON (base64), as the extension may send it; a new version
    code, again = await ann.request(
        "PUT", "profile/avatar", {"data": base64.b64encode(png_with_metadata()).decode()}
    )
    assert code == 200 and again["avatar"] != model["avatar"], again
    assert GPS_PLACE.encode() not in (await raw_get(bob, again["avatar"])).body

    code, gone = await ann.request("DELETE", "profile/avatar")
    assert code == 200 and gone["avatar"] is None
    assert (await raw_get(bob, "profiles/ann/avatar")).code == 404
    assert (await raw_get(bob, "profiles/nobody/avatar")).code == 404


async def raw_get(client, path):
    headers = {"Authorization": f"token {client.token}"} if client.token else {}
    return await AsyncHTTPClient().fetch(client.base_url + path, headers=headers, raise_error=False)


@pytest.mark.parametrize(
    "data, status, message",
    [
        (b"#!/bin/sh\nrm -rf /", 400, "avatar is not an image"),
        (b"GIF89a" + b"\0" * 100, 415, "avatar is a GIF image"),
        (jpeg_bomb(), 400, "claims more pixels than accepted"),
        (b"\xff" * (3 * 2**20), 413, "at most 2 MiB"),
    ],
)
async def test_bad_avatars_are_refused_and_nothing_is_stored(grader, data, status, message):
    ann = grader.client_for("ann")
    # whatever Content-Type is claimed, the bytes decide
    code, body = await put_avatar(ann, data, content_type="image/png")
    assert (code, body["status"]) == (status, status) and message in body["message"], body
    code, model = await ann.get("profile")
    assert model["avatar"] is None


async def test_bad_base64_is_named(grader):
    code, data = await grader.client_for("ann").request(
        "PUT", "profile/avatar", {"data": "not base64 !!"}
    )
    assert code == 400 and "data is not valid base64" in data["message"]


async def test_avatar_changes_are_rate_limited(grader):
    ann = grader.client_for("ann")
    assert (await put_avatar(ann, jpeg_with_exif()))[0] == 200
    code, data = await put_avatar(ann, jpeg_with_exif())
    assert code == 429 and "a moment ago" in data["message"]
    assert 0 < int(ann.last_response.headers["Retry-After"]) <= profiles.AVATAR_CHANGE_INTERVAL


async def test_avatars_are_for_signed_in_users_only(grader, no_avatar_interval):
    ann = grader.client_for("ann")
    assert (await put_avatar(ann, jpeg_with_exif()))[0] == 200
    nobody = Client(grader.base_url, None)
    response = await raw_get(nobody, "profiles/ann/avatar")
    assert response.code == 403 and response.headers["Content-Type"].startswith("application/json")
    forged = Client(grader.base_url, "made-up-token")
    assert (await raw_get(forged, "profiles/ann/avatar")).code == 403
    code, data = await put_avatar(nobody, jpeg_with_exif())
    assert code == 403
