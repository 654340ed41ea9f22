"""The demo distributor: a simulated tobacco wholesaler's landing folder (no Dagster)."""

from restock.demo.generator import (
    MANIFEST_NAME,
    SCALES,
    DemoConfig,
    GenerationResult,
    generate,
    read_manifest,
)

__all__ = ["MANIFEST_NAME", "SCALES", "DemoConfig", "GenerationResult", "generate", "read_manifest"]
