"""Training API: `/training/1.0/<function>` for face galleries, identities and images."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.emulator.deps import StateDep, faces_owner
from service.emulator.errors import BadRequest
from service.emulator.face_check import face_problem
from service.emulator.images import read_image_header
from service.emulator.inputs import form_body, form_file, json_body, query_bool, validate
from service.emulator.schemas import (
    AddFaceImageRequest,
    CreateFaceRequest,
    CreateGalleryRequest,
    FaceRefRequest,
    ImageRefRequest,
    UpdateFaceRequest,
    UpdateGalleryRequest,
)
from service.emulator.training import ImageUpload

router = APIRouter(prefix="/training/1.0")

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMAGE_SIDE = 4096


@router.post("/upload_image")
async def upload_image(request: Request, state: StateDep) -> JSONResponse:
    """Upload one JPG/PNG training image (multipart: api_key, image_data)."""
    form = await form_body(request)
    try:
        owner = faces_owner(state, form.get("api_key"))
        image = form_file(form, "image_data")
        data = await image.read(MAX_IMAGE_BYTES + 1)
    finally:
        await form.close()
    if len(data) > MAX_IMAGE_BYTES:
        raise BadRequest("Invalid image: the maximum image file size is 8MB")
    try:
        info = read_image_header(data)
    except ValueError as exc:
        raise BadRequest(f"Invalid image: {exc}") from None
    if info.width > MAX_IMAGE_SIDE or info.height > MAX_IMAGE_SIDE:
        raise BadRequest(
            f"Invalid image: {info.width}x{info.height} pixels exceeds the maximum of "
            f"{MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE}"
        )
    upload_id = state.new_id()
    path = state.data_dir / "images" / f"{upload_id}.{'png' if info.format == 'png' else 'jpg'}"
    await asyncio.to_thread(path.write_bytes, data)
    state.training.add_upload(ImageUpload(upload_id, owner, path, info.width, info.height))
    return JSONResponse({"uploaded_file_url": f"valossaupload://{upload_id}"})


@router.post("/create_face_gallery")
async def create_face_gallery(request: Request, state: StateDep) -> JSONResponse:
    """Create a named, non-default face gallery."""
    body = await json_body(request)
    owner = faces_owner(state, body.get("api_key"))
    parsed = validate(CreateGalleryRequest, body)
    gallery = state.training.create_gallery(owner, parsed.gallery.name)
    return JSONResponse({"gallery_id": gallery.id})


@router.post("/update_face_gallery")
async def update_face_gallery(request: Request, state: StateDep) -> JSONResponse:
    """Rename a custom gallery (the default gallery cannot be modified)."""
    body = await json_body(request)
    owner = faces_owner(state, body.get("api_key"))
    parsed = validate(UpdateGalleryRequest, body)
    state.training.rename_gallery(owner, parsed.gallery.id, parsed.gallery.updates.name)
    return JSONResponse({})


@router.get("/list_face_galleries")
async def list_face_galleries(
    state: StateDep, api_key: str | None = None, show_details: str | None = None
) -> JSONResponse:
    """The key's galleries; with show_details=true also name and whether it is the default."""
    owner = faces_owner(state, api_key)
    details = query_bool(show_details, "show_details")
    listed = [
        {"id": g.id, "name": g.name, "is_default": g.is_default} if details else {"id": g.id}
        for g in state.training.list_galleries(owner)
    ]
    return JSONResponse({"face_galleries": listed})


@router.post("/create_face_identity")
async def create_face_identity(request: Request, state: StateDep) -> JSONResponse:
    """Create a face identity in the default gallery or the given one."""
    body = await json_body(request)
    owner = faces_owner(state, body.get("api_key"))
    parsed = validate(CreateFaceRequest, body)
    name = parsed.face.name if parsed.face else None
    gender = parsed.face.gender if parsed.face else None
    gallery_id = parsed.gallery.id if parsed.gallery else None
    face = state.training.create_face(owner, gallery_id, name, gender)
    return JSONResponse({"face_id": face.id})


@router.post("/add_face_image")
async def add_face_image(request: Request, state: StateDep) -> JSONResponse:
    """Add an image uploaded with upload_image, checked to show a face, to a face identity."""
    body = await json_body(request)
    owner = faces_owner(state, body.get("api_key"))
    parsed = validate(AddFaceImageRequest, body)
    upload = state.training.uploaded_image(owner, parsed.face.id, parsed.image.url)
    problem = await asyncio.to_thread(face_problem, upload.path)
    if problem is not None:
        raise BadRequest(
            f"No face found in the image: {problem}. Exactly one clearly visible face is required"
        )
    image = state.training.add_image(owner, parsed.face.id, upload)
    return JSONResponse({"image_id": image.id})


@router.get("/list_face_identities")
async def list_face_identities(
    state: StateDep,
    api_key: str | None = None,
    gallery_id: str | None = None,
    show_details: str | None = None,
) -> JSONResponse:
    """Identities of the default gallery or of gallery_id; details add name and gender."""
    owner = faces_owner(state, api_key)
    details = query_bool(show_details, "show_details")
    listed = [
        {"id": f.id, "name": f.name, "gender": f.gender} if details else {"id": f.id}
        for f in state.training.list_faces(owner, gallery_id)
    ]
    return JSONResponse({"face_identities": listed})


@router.get("/list_face_images")
async def list_face_images(
    state: StateDep, api_key: str | None = None, face_id: str | None = None
) -> JSONResponse:
    """The training images of one face identity."""
    owner = faces_owner(state, api_key)
    if not face_id:
        raise BadRequest("Missing required field: face_id")
    images = state.training.list_images(owner, face_id)
    return JSONResponse({"face_images": [{"id": image.id} for image in images]})


@router.post("/update_face_identity")
async def update_face_identity(request: Request, state: StateDep) -> JSONResponse:
    """Update name and/or gender: null unsets a field, an omitted field keeps its value."""
    body = await json_body(request)
    owner = faces_owner(state, body.get("api_key"))
    parsed = validate(UpdateFaceRequest, body)
    updates = parsed.face.updates
    if not updates.model_fields_set:
        raise BadRequest("Missing required field: face.updates (name and/or gender)")
    state.training.update_face(
        owner, parsed.face.id, updates.model_dump(include=updates.model_fields_set)
    )
    return JSONResponse({})


@router.post("/remove_face_image")
async def remove_face_image(request: Request, state: StateDep) -> JSONResponse:
    """Remove a training image from its face identity."""
    body = await json_body(request)
    owner = faces_owner(state, body.get("api_key"))
    parsed = validate(ImageRefRequest, body)
    state.training.remove_image(owner, parsed.image.id)
    return JSONResponse({})


@router.post("/remove_face_identity")
async def remove_face_identity(request: Request, state: StateDep) -> JSONResponse:
    """Remove a face identity and its images."""
    body = await json_body(request)
    owner = faces_owner(state, body.get("api_key"))
    parsed = validate(FaceRefRequest, body)
    state.training.remove_face(owner, parsed.face.id)
    return JSONResponse({})
