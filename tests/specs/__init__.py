"""The specifications the tests validate against, kept in the repository (see README.md here)."""

from pathlib import Path

SPECS = Path(__file__).resolve().parent
DISCORD_OPENAPI = SPECS / "discord-api-spec" / "openapi.json"
COMPOSE_SCHEMA = SPECS / "compose-spec" / "compose-spec.json"
