"""LoRAs and IP-Adapter in the diffusers backends: per-shot conditioning that never leaks between shots.

A render loads its pipeline once (`diffusion.PipelineCache`) and renders many shots with it,
so everything a shot adds to the pipeline is set again, completely, before each call:

**LoRAs.** A shot's LoRAs are its style's LoRA, then each cast member's, in cast order
(`shot_loras`). Each file is loaded once into the pipeline with diffusers' `load_lora_weights`
(diffusers or kohya layout) as an adapter named after its content hash, so the name is the
same in every process. Before every pipeline call exactly the shot's adapters are activated
with their weights (`set_adapters`, in that order: the order sums their deltas in), or all
LoRA layers are disabled when the shot has none. A disabled LoRA layer computes exactly its
base layer, and an inactive adapter is skipped, so a shot renders the same bytes whatever
was rendered before it in the process (tested: A, B, A against a fresh process). The same
LoRA asked twice (a style and a character sharing a file) is one adapter with the weights
summed. A LoRA none of whose weights fit the model, or only some of them, is an error that
names who asked for it (`style:<id>` / `character:<id>`) and the file.

**IP-Adapter** (`model.ip_adapter`, SDXL and AnimateDiff pipelines; Wan has none). The folder:

    <ip_adapter>/
      <name>.safetensors             the adapter weights, the only .safetensors at the top, in the
                                     original IP-Adapter layout diffusers' `load_ip_adapter` reads
                                     (`image_proj.*`, `ip_adapter.<n>.to_k_ip/to_v_ip.weight`), e.g.
                                     ip-adapter_sdxl.safetensors next to its image encoder
      image_encoder/
        config.json + model.safetensors   a CLIPVisionModelWithProjection
        preprocessor_config.json          optional CLIPImageProcessor settings; without it images are
                                          prepared as diffusers prepares them (CLIPImageProcessor at the
                                          encoder's image size)

Both are loaded from that folder only (nothing is fetched), checked like a checkpoint (every
weight present, nothing on the meta device) and copied out of the file's memory map. Each cast
character's `ip_adapter_image` is encoded once per (adapter, image, guidance on/off) in a process
(`ImageEmbeds`) by the pipeline's own `prepare_ip_adapter_image_embeds`, and the tensor is passed
as `ip_adapter_image_embeds`, so every shot casting that character gets byte-identical embeddings.
A character's scale is their own `ip_adapter_scale`, else `model.ip_adapter_scale`.

Each character conditions only their own pixels. In a shot casting two or more characters, the
images (cast order, one per cast member who has one) go to the adapter as separate images, each
with its character's mask and scale: diffusers' IP-Adapter masking (`cross_attention_kwargs=
{"ip_adapter_masks": [...]}`, one scale per image), where each image is attended on its own and
its term is multiplied by its mask. The masks are the previz's exact per-character masks
(`previz.passes.character_masks`) of each frame at the model's native size, which diffusers scales
to each attention layer's token grid (`IPAdapterMaskProcessor.downsample`: bicubic without
antialiasing, so a token takes the mask around its centre, softened within a couple of pixels of
an edge). They are per frame on AnimateDiff too: its UNet attends frame by frame, so the masks'
rows are the window's frames (twice under guidance), never a union over the window. With text
conditioning the masks still place each identity where the previz has the character. A character
out of frame has an empty mask there and their image adds nothing; a cast member without an image
gets none. Masks derive from the previz geometry (figures, blocking, camera), which the job key already
covers; the scales are keyed through `CastMember.ip_adapter_scale`.

A shot casting one character is called exactly as before masks existed: no masks, the whole frame
at that character's scale. A shot with no IP-Adapter image is called with zero embeddings at
scale 0: diffusers' IP-Adapter attention then skips the image branch and computes exactly the
text attention, so the frame equals that of the pipeline without the adapter (tested).
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from reelforge.backends.checkpoints import CheckpointError, check_model_folder
from reelforge.backends.diffusion import load_model, native_job
from reelforge.backends.runtime import settle_loaded_module
from reelforge.previz.camera import CameraPose, camera_path
from reelforge.previz.passes import character_masks
from reelforge.previz.raster import ShotScene
from reelforge.store.hashing import cached_file_sha256, file_sha256

if TYPE_CHECKING:
    from reelforge.plan.base import LoraJob
    from reelforge.plan.cast import CastMember
    from reelforge.plan.jobs import ShotJob

# torch, diffusers, transformers and peft are imported inside the functions that use them: they take
# seconds to import, and planning, file checks and previz renders never need them.

IMAGE_ENCODER = "image_encoder"
PROCESSOR_CONFIG = "preprocessor_config.json"
IP_ADAPTER_BACKENDS = ("sdxl", "animatediff", "animatediff-sdxl")


# ----------------------------------------------------------------------------- IP-Adapter folder


def check_ip_adapter_folder(folder: Path) -> Path:
    """The folder has one top-level weights file and a complete image encoder; returns the weights file.

    Cheap (no torch): planning calls it so a wrong folder fails before any render starts.
    """
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such folder (an IP-Adapter folder holds the adapter's .safetensors "
                              f"and its {IMAGE_ENCODER}/)")
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is a file; an IP-Adapter is a folder with the adapter's .safetensors and "
                              f"its {IMAGE_ENCODER}/ (CLIPVisionModelWithProjection) beside it")
    weights = sorted(p for p in folder.glob("*.safetensors") if p.is_file())
    if len(weights) != 1:
        found = ", ".join(p.name for p in weights) or "none"
        raise CheckpointError(f"{folder}: an IP-Adapter folder holds exactly one .safetensors weights file at its top "
                              f"level (found {found}); put each adapter in its own folder with its {IMAGE_ENCODER}/")
    check_model_folder(folder / IMAGE_ENCODER, "IP-Adapter image encoder")
    return weights[0]


def _settle_new_weights(module, *markers: str) -> None:
    """Eval mode, and the weights an adapter just added (names containing a marker) copied into fresh memory.

    Same reason as `runtime.settle_loaded_module` (tensors read from a file can sit in its memory map,
    and unaligned memory changes CPU matmul low bits), but only for the adapter's own tensors: copying
    a whole SDXL UNet again for each LoRA would cost gigabytes.
    """
    import torch

    module.eval()
    with torch.no_grad():
        for name, param in module.named_parameters():
            if any(marker in name for marker in markers):
                param.data = param.data.clone()


def load_ip_adapter(pipeline, job: ShotJob):
    """Load the job's IP-Adapter folder into a freshly loaded pipeline (it is part of the pipeline's cache key)."""
    import torch
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    folder = Path(job.files.ip_adapter)
    where = "$.model.ip_adapter"
    if not hasattr(pipeline, "load_ip_adapter"):
        raise CheckpointError(f"{where}: the {job.backend} pipeline ({type(pipeline).__name__}) cannot use an "
                              "IP-Adapter; remove it")
    try:
        weights = check_ip_adapter_folder(folder)
        encoder_folder = folder / IMAGE_ENCODER
        encoder = load_model(CLIPVisionModelWithProjection, encoder_folder, "IP-Adapter image encoder", job.model.dtype)
    except CheckpointError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    settle_loaded_module(encoder)
    if (encoder_folder / PROCESSOR_CONFIG).is_file():
        processor = CLIPImageProcessor.from_pretrained(str(encoder_folder), local_files_only=True)
    else:  # what diffusers' load_ip_adapter builds when the pipeline has none
        size = encoder.config.image_size
        processor = CLIPImageProcessor(size=size, crop_size=size)
    pipeline.register_modules(image_encoder=encoder.to(job.model.device), feature_extractor=processor)
    try:
        with torch.no_grad():
            pipeline.load_ip_adapter(str(folder), subfolder="", weight_name=weights.name, image_encoder_folder=None,
                                     local_files_only=True, low_cpu_mem_usage=False)
    except (ValueError, KeyError, RuntimeError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{where}: {weights} does not fit the {job.backend} model's UNet ({reason}); an "
                              "IP-Adapter is trained for one base model (SD 1.5 or SDXL)") from None
    _settle_new_weights(pipeline.unet, ".to_k_ip.", ".to_v_ip.", "encoder_hid_proj.")
    return pipeline


# ----------------------------------------------------------------------------- LoRAs


def adapter_name(sha256: str) -> str:
    """A LoRA's adapter name in the pipeline: from its content, so it is the same in every process."""
    return f"lora_{sha256[:16]}"


def shot_loras(job: ShotJob) -> list[tuple[str, float, LoraJob]]:
    """(adapter name, weight, first requester) of the shot's LoRAs: style first, then cast order.

    A file asked for twice is one adapter at the summed weight (the same change to the weights).
    """
    requested = [job.style.lora] if job.style.lora is not None else []
    requested += [member.lora for member in job.cast if member.lora is not None]
    merged: dict[str, list] = {}
    for lora in requested:
        name = adapter_name(lora.sha256)
        if name in merged:
            merged[name][1] += lora.weight
        else:
            merged[name] = [name, lora.weight, lora]
    return [(name, float(weight), lora) for name, weight, lora in merged.values()]


def lora_file(job: ShotJob, lora: LoraJob) -> Path:
    """The LoRA's file from the job's assets, still holding the bytes the job was planned with."""
    path = job.assets.get(lora.sha256)
    if path is None:
        raise CheckpointError(f"{lora.source}: the job has no file for its LoRA {lora.sha256[:12]} (assets)")
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{lora.source}: LoRA {path}: no such file")
    if cached_file_sha256(path) != lora.sha256:
        raise CheckpointError(f"{lora.source}: LoRA {path} has changed since the shot was planned; plan again")
    return path


def _modules_with(component, name: str) -> int:
    from peft.tuners.tuners_utils import BaseTunerLayer

    return sum(1 for module in component.modules() if isinstance(module, BaseTunerLayer)
               and (name in getattr(module, "lora_A", {}) or name in getattr(module, "lora_embedding_A", {})))


def load_lora(pipeline, job: ShotJob, lora: LoraJob, name: str) -> None:
    """Load one LoRA file as adapter `name`; every module it has weights for must exist in the model."""
    import torch

    path = lora_file(job, lora)
    fits = f"{lora.source}: LoRA {path} does not fit the {job.backend} model"
    if not hasattr(pipeline, "load_lora_weights"):
        raise CheckpointError(f"{lora.source}: the {job.backend} pipeline cannot load LoRAs; remove the LoRA")
    try:
        state = pipeline.lora_state_dict(str(path.parent), weight_name=path.name, local_files_only=True)
        state = state[0] if isinstance(state, tuple) else state
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="peft")  # "multiple adapters in the model": by design
            pipeline.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name,
                                       local_files_only=True)
    except (ValueError, KeyError, RuntimeError, OSError) as exc:
        _forget(pipeline, name)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{fits} ({reason[:300]})") from None
    # Modules the file has weights for, per pipeline component ("unet.<module>.lora_A.weight").
    wanted: dict[str, set[str]] = {}
    for key in state:
        if ".lora" in key:
            component, _, module = key.partition(".")
            wanted.setdefault(component, set()).add(module.split(".lora")[0])
    for component, modules in wanted.items():
        model = getattr(pipeline, component, None)
        if model is None:
            _forget(pipeline, name)
            raise CheckpointError(f"{fits}: it adapts a {component}, which this model does not have (a LoRA is "
                                  "trained for one base model)")
        got = _modules_with(model, name)
        if got < len(modules):
            _forget(pipeline, name)
            raise CheckpointError(f"{fits}: only {got} of the {len(modules)} {component} layers it adapts exist in "
                                  "the model (a LoRA is trained for one base model)")
    if not wanted or not any(name in names for names in pipeline.get_list_adapters().values()):
        _forget(pipeline, name)
        raise CheckpointError(f"{fits}: none of its weights name a layer of the model")
    for component in wanted:
        _settle_new_weights(getattr(pipeline, component), f".{name}.")


def _forget(pipeline, name: str) -> None:
    """Remove a half-loaded adapter, so a failed load leaves the cached pipeline as it was."""
    try:
        if any(name in names for names in pipeline.get_list_adapters().values()):
            pipeline.delete_adapters(name)
    except (ValueError, KeyError, AttributeError):
        pass


def activate_loras(pipeline, job: ShotJob) -> None:
    """Exactly the shot's LoRAs active at their weights (loading any not yet loaded), or LoRA layers off."""
    import torch

    loras = shot_loras(job)
    # Adapter weights must be ordinary tensors, whoever calls: PEFT flips their requires_grad on
    # activation, which torch refuses for tensors made in inference mode.
    with torch.inference_mode(False), torch.no_grad():
        for name, _, lora in loras:
            if not any(name in names for names in pipeline.get_list_adapters().values()):
                load_lora(pipeline, job, lora, name)
        if not pipeline.get_list_adapters():
            return  # no LoRA ever loaded: the pipeline's layers are plain
        if loras:
            pipeline.enable_lora()
            pipeline.set_adapters([name for name, _, _ in loras], adapter_weights=[w for _, w, _ in loras])
        else:
            pipeline.disable_lora()


# ----------------------------------------------------------------------------- IP-Adapter embeddings


def classifier_free_guidance(pipeline, job: ShotJob) -> bool:
    """Whether this pipeline class will run guidance at the job's guidance scale (its own rule, asked of it):
    the embeddings passed must then hold the negative half too."""
    rule = type(pipeline).do_classifier_free_guidance.fget
    return bool(rule(SimpleNamespace(_guidance_scale=job.model.guidance_scale, unet=pipeline.unet)))


class ImageEmbeds:
    """Each IP-Adapter image encoded once per process, by (adapter, image, guidance, device, dtype, threads).

    Every shot casting a character is handed the very same tensor, so its identity conditioning
    cannot drift between shots; a fresh process computes the same bytes under the pinned runtime.
    """

    BLANK = "blank"  # a black image: only its shape is used (zero embeddings at scale 0)

    PREVIZ_SHOTS = 2  # shots whose previz scene and camera path are kept for their masks

    def __init__(self) -> None:
        self._encoded: dict[tuple, tuple] = {}
        self._lock = threading.Lock()
        self._previz: OrderedDict[str, tuple] = OrderedDict()

    def previz(self, native: ShotJob) -> tuple:
        """The shot's previz scene and camera path at the model's size, built once per shot (not per frame:
        a per-frame SDXL call asks for one frame's masks, and a long shot's camera path costs tenths of a second)."""
        key = native.key
        with self._lock:
            if key in self._previz:
                self._previz.move_to_end(key)
            else:
                self._previz[key] = (ShotScene(native), camera_path(native))
                while len(self._previz) > self.PREVIZ_SHOTS:
                    self._previz.popitem(last=False)
            return self._previz[key]

    def _encode(self, pipeline, job: ShotJob, image_sha: str, guidance: bool) -> tuple:
        """(negative, positive) embeddings of one image, each (1, 1, …): diffusers' own preparation."""
        m = job.model
        key = (m.ip_adapter_sha256, image_sha, guidance, m.device, m.dtype, m.threads)
        with self._lock:
            if key not in self._encoded:
                if image_sha == self.BLANK:
                    size = pipeline.image_encoder.config.image_size
                    image = Image.new("RGB", (size, size))
                else:
                    image = _ip_image(job, image_sha)
                (embeds,) = pipeline.prepare_ip_adapter_image_embeds(
                    ip_adapter_image=[image], ip_adapter_image_embeds=None, device=pipeline._execution_device,
                    num_images_per_prompt=1, do_classifier_free_guidance=guidance)
                self._encoded[key] = tuple(embeds.chunk(2)) if guidance else (None, embeds)
            return self._encoded[key]

    def inputs(self, pipeline, job: ShotJob, frames: Sequence[int]) -> dict:
        """The shot's IP-Adapter inputs for a call rendering `frames`, and the adapter's scale set.

        `ip_adapter_image_embeds` (cast images in cast order); with masks (`masked`), also
        `cross_attention_kwargs={"ip_adapter_masks": …}` and one scale per image.
        """
        import torch

        guidance = classifier_free_guidance(pipeline, job)
        members = image_members(job)
        extra = {}
        if members:
            pairs = [self._encode(pipeline, job, m.ip_adapter_image_sha256, guidance) for m in members]
            positive = torch.cat([pos for _, pos in pairs], dim=1)
            negative = torch.cat([neg for neg, _ in pairs], dim=1) if guidance else None
            scales = [member_scale(job, m) for m in members]
            if masked(job):
                native = native_job(job)
                masks = ip_adapter_masks(native, image_members(job), frames, guidance, *self.previz(native))
                masks = masks.to(pipeline._execution_device)
                extra["cross_attention_kwargs"] = {"ip_adapter_masks": [masks]}
                scale = [scales]  # one adapter, one scale per image
            else:
                (scale,) = scales
        else:
            negative, positive = self._encode(pipeline, job, self.BLANK, guidance)
            positive = torch.zeros_like(positive)
            negative = torch.zeros_like(negative) if guidance else None
            scale = 0.0
        pipeline.set_ip_adapter_scale(scale)
        embeds = torch.cat([negative, positive]) if guidance else positive
        return {"ip_adapter_image_embeds": [embeds], **extra}


def image_members(job: ShotJob) -> list[CastMember]:
    """The cast members with an IP-Adapter image, in cast order (the order of the adapter's images)."""
    return [member for member in job.cast if member.ip_adapter_image_sha256]


def member_scale(job: ShotJob, member: CastMember) -> float:
    """The character's own IP-Adapter scale, else the model's."""
    return float(member.ip_adapter_scale if member.ip_adapter_scale is not None else job.model.ip_adapter_scale)


def masked(job: ShotJob) -> bool:
    """Whether each image is confined to its character's pixels: a shot casting two or more characters
    with at least one image. A one-character shot conditions the whole frame, as before masks existed."""
    return len(job.cast) > 1 and bool(image_members(job))


def ip_adapter_masks(native: ShotJob, members: Sequence[CastMember], frames: Sequence[int], guidance: bool,
                     scene: ShotScene, poses: Sequence[CameraPose]):
    """(rows, images, height, width) float 0/1 tensor: each member's character mask in each frame, at the model's
    size (`native`: the job at the model's native size; `scene`, `poses`: its previz scene and camera path).

    The layout diffusers' IP-Adapter attention takes per adapter (`IPAdapterMaskProcessor`'s
    binary masks, one channel per image). Rows are the UNet's attention batch in its order: the
    call's frames (AnimateDiff's UNet attends each frame of the window as a row of its own), then
    the same again under guidance (the negative half comes first), so every frame gets its own
    masks, never a union. Masks come from the previz geometry (`character_masks` of the frame at
    the model's native size), which the job key already covers (figures, blocking, camera).
    """
    import torch

    rows = []
    for index in frames:
        masks = character_masks(native, index, scene=scene, pose=poses[index])
        rows.append(np.stack([masks[m.character_id] for m in members]))
    tensor = torch.from_numpy(np.stack(rows).astype(np.float32))
    return torch.cat([tensor, tensor]) if guidance else tensor


def _ip_image(job: ShotJob, sha: str):
    """A cast member's IP-Adapter image from the job's assets, checked against the hash it was planned with."""
    path = job.assets.get(sha)
    owner = next((m.character_id for m in job.cast if m.ip_adapter_image_sha256 == sha), "?")
    if path is None or not Path(path).is_file():
        raise CheckpointError(f"character:{owner}: IP-Adapter image {sha[:12]} is not in the job's assets "
                              f"({path or 'no path'})")
    if file_sha256(Path(path)) != sha:
        raise CheckpointError(f"character:{owner}: IP-Adapter image {path} has changed since the shot was planned")
    with Image.open(path) as image:
        return image.convert("RGB")


# ----------------------------------------------------------------------------- per call


class Adapters:
    """One backend's adapter state: call `prepare` before every pipeline call, under the backend's lock."""

    def __init__(self) -> None:
        self.embeds = ImageEmbeds()

    def prepare(self, pipeline, job: ShotJob, frames: Sequence[int]) -> dict:
        """Set the shot's LoRAs and IP-Adapter scale on the pipeline; the extra pipeline inputs for a
        call that renders `frames` (the frame indices of its outputs, in order).

        Call inside `deterministic_torch` (image encoding runs on the pinned runtime).
        """
        activate_loras(pipeline, job)
        if job.files is not None and job.files.ip_adapter is not None:
            return self.embeds.inputs(pipeline, job, frames)
        return {}
