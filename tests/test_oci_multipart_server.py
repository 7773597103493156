"""The loopback server's multipart uploads answer as OCI's do, seen through the raw SDK client:
the shapes the SDK deserializes, Content-MD5 checks, and the MD5 headers of what was committed."""

from __future__ import annotations

import base64
import hashlib
import io

import oci as oci_sdk
import pytest
from oci.object_storage.models import (
    CommitMultipartUploadDetails,
    CommitMultipartUploadPartDetails,
    CreateMultipartUploadDetails,
)

from lib.storage.oci_auth import client_options, load_auth
from tests.loopback import settings_for

BUCKET = "multipart-server"
NO_RETRY = oci_sdk.retry.NoneRetryStrategy()


def md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


@pytest.fixture
def sdk(oci):
    oci.server.bucket(BUCKET)
    return oci_sdk.object_storage.ObjectStorageClient(
        **client_options(load_auth(settings_for(oci, BUCKET).oci_credentials), oci.url, None)
    )


def create(sdk, oci, name: str, **details):
    return sdk.create_multipart_upload(
        oci.server.namespace, BUCKET, CreateMultipartUploadDetails(object=name, **details)
    ).data


def put_part(sdk, oci, upload, number: int, data: bytes, content_md5: str | None = None):
    return sdk.upload_part(
        oci.server.namespace,
        BUCKET,
        upload.object,
        upload.upload_id,
        number,
        io.BytesIO(data),
        content_length=len(data),
        content_md5=content_md5 or b64(md5(data)),
        retry_strategy=NO_RETRY,
    )


def test_parts_commit_into_an_object_with_a_multipart_md5(oci, sdk):
    namespace = oci.server.namespace
    upload = create(sdk, oci, "Mp/a.bin", content_type="video/mp4", storage_tier="Archive")
    assert upload.namespace == namespace and upload.bucket == BUCKET
    assert upload.storage_tier == "Archive" and upload.time_created is not None
    pieces = [b"a" * 1000, b"b" * 500]
    responses = [put_part(sdk, oci, upload, n, data) for n, data in enumerate(pieces, 1)]
    assert [r.headers["opc-content-md5"] for r in responses] == [b64(md5(p)) for p in pieces]
    parts = sdk.list_multipart_upload_parts(namespace, BUCKET, "Mp/a.bin", upload.upload_id).data
    assert [(p.part_number, p.size, p.md5) for p in parts] == [
        (1, 1000, b64(md5(pieces[0]))),
        (2, 500, b64(md5(pieces[1]))),
    ]
    details = CommitMultipartUploadDetails(
        parts_to_commit=[
            CommitMultipartUploadPartDetails(part_num=n, etag=r.headers["etag"])
            for n, r in enumerate(responses, 1)
        ]
    )
    commit = sdk.commit_multipart_upload(namespace, BUCKET, "Mp/a.bin", upload.upload_id, details)
    expected = f"{b64(md5(md5(pieces[0]) + md5(pieces[1])))}-2"
    assert commit.headers["opc-multipart-md5"] == expected
    head = sdk.head_object(namespace, BUCKET, "Mp/a.bin")
    assert head.headers["opc-multipart-md5"] == expected
    assert "content-md5" not in head.headers
    assert head.headers["content-type"] == "video/mp4"
    assert head.headers["storage-tier"] == "Archive"
    assert sdk.get_object(namespace, BUCKET, "Mp/a.bin").data.content == b"".join(pieces)
    listed = sdk.list_objects(namespace, BUCKET, prefix="Mp/", fields="name,md5").data.objects
    assert [(o.name, o.md5) for o in listed] == [("Mp/a.bin", expected)]
    assert sdk.list_multipart_uploads(namespace, BUCKET).data == []


def test_a_part_or_object_whose_body_is_not_its_content_md5_is_refused(oci, sdk):
    upload = create(sdk, oci, "Mp/bad.bin")
    with pytest.raises(oci_sdk.exceptions.ServiceError) as caught:
        put_part(sdk, oci, upload, 1, b"data", content_md5=b64(md5(b"other")))
    assert (caught.value.status, caught.value.code) == (400, "UnmatchedContentMD5")
    with pytest.raises(oci_sdk.exceptions.ServiceError) as caught:
        sdk.put_object(
            oci.server.namespace,
            BUCKET,
            "Mp/bad.bin",
            b"data",
            content_md5=b64(md5(b"other")),
            retry_strategy=NO_RETRY,
        )
    assert (caught.value.status, caught.value.code) == (400, "UnmatchedContentMD5")
    assert "Mp/bad.bin" not in oci.server.bucket(BUCKET).objects
    sdk.abort_multipart_upload(oci.server.namespace, BUCKET, "Mp/bad.bin", upload.upload_id)


def test_unknown_uploads_and_wrong_etags_are_refused(oci, sdk):
    namespace = oci.server.namespace
    with pytest.raises(oci_sdk.exceptions.ServiceError) as caught:
        sdk.abort_multipart_upload(namespace, BUCKET, "Mp/x.bin", "no-such-upload")
    assert (caught.value.status, caught.value.code) == (404, "NoSuchUpload")
    upload = create(sdk, oci, "Mp/x.bin")
    put_part(sdk, oci, upload, 1, b"x")
    details = CommitMultipartUploadDetails(
        parts_to_commit=[CommitMultipartUploadPartDetails(part_num=1, etag="wrong")]
    )
    with pytest.raises(oci_sdk.exceptions.ServiceError) as caught:
        sdk.commit_multipart_upload(
            namespace, BUCKET, "Mp/x.bin", upload.upload_id, details, retry_strategy=NO_RETRY
        )
    assert caught.value.status == 400
    sdk.abort_multipart_upload(namespace, BUCKET, "Mp/x.bin", upload.upload_id)
    assert sdk.list_multipart_uploads(namespace, BUCKET).data == []


def test_put_object_keeps_its_tier_and_md5(oci, sdk):
    data = b"poster bytes"
    sdk.put_object(
        oci.server.namespace,
        BUCKET,
        "Mp/poster.jpg",
        data,
        content_type="image/jpeg",
        storage_tier="InfrequentAccess",
    )
    head = sdk.head_object(oci.server.namespace, BUCKET, "Mp/poster.jpg")
    assert head.headers["content-md5"] == b64(md5(data))
    assert head.headers["storage-tier"] == "InfrequentAccess"
    assert head.headers["content-type"] == "image/jpeg"
