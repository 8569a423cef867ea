"""Settings from environment variables (``CROSSDESK_*``) and an optional TOML file.

Precedence: constructor arguments, then environment, then the TOML file named by ``CROSSDESK_CONFIG``
(default ``crossdesk.toml`` in the working directory, if present), then the defaults below.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _toml_file() -> Path:
    return Path(os.environ.get("CROSSDESK_CONFIG", "crossdesk.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CROSSDESK_", extra="ignore")

    data_dir: Path = Field(Path("crossdesk-data"), description="Folder for the SQLite database and files.")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; default: SQLite in data_dir. e.g. postgresql+asyncpg://..."
    )
    redis_url: str | None = Field(None, description="Redis URL for cross-process event fan-out.")
    max_body_bytes: int = Field(1_000_000, description="Largest request body accepted (413 above).")
    session_days: int = Field(14, description="How long a login session lasts.")
    secure_cookies: bool = Field(False, description="Mark cookies Secure (set behind HTTPS).")
    assistant_enabled: bool = Field(
        True, description="Run the assistant on buyer messages (each workspace's policy still applies)."
    )
    event_retention: int = Field(
        5_000, description="Events a reconnecting client may catch up on before it is told to reload."
    )
    webhook_tolerance_s: int = Field(
        300, description="Max age of a signed webhook, where the platform signs its time (replay bound)."
    )
    smtp_listen_port: int | None = Field(
        None,
        ge=1,
        le=65_535,
        description="Port of the built-in SMTP receiver for e-mail channels (e.g. 2525); off when unset.",
    )
    smtp_listen_host: str = Field("127.0.0.1", description="Address the SMTP receiver listens on.")
    smtp_max_message_bytes: int = Field(
        25 * 1024 * 1024, ge=1024, description="Largest e-mail the SMTP receiver accepts (552 above)."
    )
    email_inbound_domain: str | None = Field(
        None, description="Mail to <channel public id>@<this domain> reaches that e-mail channel."
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="The address buyers reach this server at, for links in messages (e.g. unsubscribe).",
    )
    log_level: str = Field("INFO")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, _toml_file()))

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'crossdesk.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
