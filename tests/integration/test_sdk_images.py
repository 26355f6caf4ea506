"""The docker SDK for Python against wharfied: ping, version, images.load/list/get/tag/remove."""

from __future__ import annotations

from pathlib import Path

import docker as docker_sdk
import imagegen
import pytest


def test_ping_and_version(sdk) -> None:
    assert sdk.ping() is True
    v = sdk.version()
    assert v["ApiVersion"] == "1.50"
    assert any(c["Name"] == "Engine" for c in v["Components"])
    info = sdk.info()
    assert {"Containers", "Images", "Debug"} <= set(info)


def test_images_load_list_get_tag_remove(sdk, busybox_archive: Path) -> None:
    want = imagegen.busybox_image().id
    loaded = sdk.images.load(busybox_archive.read_bytes())
    assert [i.id for i in loaded] == [want]
    assert loaded[0].tags == ["busybox:latest"]
    assert want in [i.id for i in sdk.images.list()]
    assert [i.id for i in sdk.images.list(name="busybox")] == [want]
    image = sdk.images.get("busybox:latest")
    assert image.id == want and image.short_id == "sha256:" + want[7:19]
    assert image.tag("sdk/test", "v2") is True
    assert "sdk/test:v2" in sdk.images.get(want).tags
    assert len(image.history()) == 1
    sdk.images.remove("sdk/test:v2")
    assert sdk.images.get(want).tags == ["busybox:latest"]
    with pytest.raises(docker_sdk.errors.ImageNotFound):
        sdk.images.get("sdk/test:v2")
    saved = b"".join(image.save(named=True))
    sdk.images.remove(want, force=True)
    with pytest.raises(docker_sdk.errors.ImageNotFound):
        sdk.images.get(want)
    again = sdk.images.load(saved)
    assert again[0].id == want


def test_low_level_api_errors(sdk) -> None:
    with pytest.raises(docker_sdk.errors.ImageNotFound) as e:
        sdk.api.inspect_image("does-not-exist:1")
    assert "No such image" in str(e.value)
    with pytest.raises(docker_sdk.errors.APIError) as e2:
        sdk.api.images(filters={"bogus": "1"})
    assert e2.value.status_code == 400
