# SPDX-License-Identifier: GPL-3.0-or-later
"""Model loading: local folders, hub ids, offline behaviour, device/dtype options."""

import time

import pytest
import torch

from lgvsc.backends.hf_common import (
    VisionLanguageModel,
    hub_offline,
    load_diffusers_pipeline,
    load_vlm,
    resolve_device,
    resolve_dtype,
    resolve_source,
)
from lgvsc.errors import UserError

MISSING_HUB_ID = "lgvsc-tests/no-such-model-0123"


def test_local_folder_resolves(tiny_models):
    src = resolve_source(tiny_models["llava"])
    assert src.local and src.location == str(tiny_models["llava"])


def test_hub_id_parsed_with_revision(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    src = resolve_source("llava-hf/llava-1.5-7b-hf@main")
    assert (src.location, src.revision, src.local) == ("llava-hf/llava-1.5-7b-hf", "main", False)


@pytest.mark.parametrize("bad", ["./no/such/dir", "/nonexistent/model", "just-a-name", ""])
def test_bad_source_is_a_user_error(bad):
    with pytest.raises(UserError):
        resolve_source(bad)


def test_file_or_folder_without_config_is_refused(tmp_path):
    (tmp_path / "weights.safetensors").write_bytes(b"x")
    with pytest.raises(UserError, match="is a file"):
        resolve_source(tmp_path / "weights.safetensors")
    with pytest.raises(UserError, match="config.json"):
        resolve_source(tmp_path)


def test_uncached_hub_id_fails_fast_offline():
    assert hub_offline()
    t0 = time.monotonic()
    with pytest.raises(UserError, match="HF_HUB_OFFLINE") as exc:
        load_vlm(MISSING_HUB_ID, device="cpu", what="semantic judge")
    assert time.monotonic() - t0 < 5.0
    assert MISSING_HUB_ID in str(exc.value) and "semantic judge" in str(exc.value)
    with pytest.raises(UserError, match="not in the local Hugging Face cache"):
        load_diffusers_pipeline(MISSING_HUB_ID, device="cpu")


def test_device_and_dtype_options():
    assert resolve_device(None) == "auto"
    assert resolve_device("cpu") == "cpu"
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    with pytest.raises(UserError, match="dtype"):
        resolve_dtype("float8", "cpu")
    with pytest.raises(UserError, match="device"):
        resolve_device("warp-drive")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA"):
            resolve_device("cuda")


def test_vlm_loads_with_dtype(tiny_models):
    vlm = VisionLanguageModel.load(tiny_models["llava"], device="cpu", dtype="bfloat16")
    assert vlm.model.dtype == torch.bfloat16
    assert type(vlm.model).__name__ == "LlavaForConditionalGeneration"
    assert vlm.tokenizer.padding_side == "left"


def test_pickled_weights_are_refused(tiny_models, tmp_path):
    """safetensors only: a checkpoint whose weights are a pickle is not loaded."""
    import shutil

    from safetensors.torch import load_file

    dst = tmp_path / "pickled"
    shutil.copytree(tiny_models["llava"], dst)
    weights = dst / "model.safetensors"
    torch.save(load_file(weights), dst / "pytorch_model.bin")
    weights.unlink()
    with pytest.raises(UserError, match="cannot load"):
        load_vlm(dst, device="cpu")
