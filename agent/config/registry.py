"""Device-profile registry: finds `<vendor>/<model>.yaml` files and loads them once."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from agent.config.profile import Profile
from agent.config.strict import coercion_issues
from agent.config.yamlsource import load_yaml, validation_issues
from agent.errors import ConfigError, ConfigIssue

__all__ = ["ProfileRegistry", "builtin_profiles_dir", "load_profile"]


def builtin_profiles_dir() -> Path:
    """The shipped profiles: $ENERGY_AGENT_PROFILES, else edge_configs/profiles beside the package."""
    override = os.environ.get("ENERGY_AGENT_PROFILES")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "edge_configs" / "profiles"


def load_profile(path: Path, expected_id: str | None = None) -> Profile:
    """Load one profile file; raise ConfigError with file:line for every problem."""
    loaded = load_yaml(path)
    if loaded.issues:
        raise ConfigError(loaded.issues)
    if not isinstance(loaded.data, dict):
        raise ConfigError([ConfigIssue(str(path), 1, "", "a profile must be a mapping")])
    for where, message in coercion_issues(Profile, loaded.data):
        loaded.issue(where, message)
    try:
        profile = Profile.model_validate(loaded.data)
    except ValidationError as exc:
        loaded.issues.extend(validation_issues(loaded, exc))
    if loaded.issues:
        loaded.issues.sort(key=lambda i: (i.line or 0, i.path))
        raise ConfigError(loaded.issues)
    if expected_id is not None and profile.id != expected_id:
        raise ConfigError(
            [loaded.issue(("id",), f"id {profile.id!r} does not match the file's place ({expected_id!r})")]
        )
    return profile


_LOADED: dict[tuple[Path, str, int, int], Profile] = {}


def _load_unchanged(path: Path, profile_id: str) -> Profile:
    """load_profile, kept while the file is unchanged: every validate, run and reload builds a new
    registry, and parsing the shipped profiles again cost most of a config load (60 of 90 ms)."""
    try:
        stat = path.stat()
    except OSError:
        return load_profile(path, expected_id=profile_id)  # reports the file as unreadable
    key = (path.resolve(), profile_id, stat.st_mtime_ns, stat.st_size)
    profile = _LOADED.get(key)
    if profile is None:
        profile = load_profile(path, expected_id=profile_id)  # a broken file is never kept
        _LOADED[key] = profile
    return profile


class ProfileRegistry:
    """Profiles by id, searched in the given directories in order (the first wins)."""

    def __init__(self, dirs: Iterable[Path] = ()) -> None:
        self.dirs = [*dirs, builtin_profiles_dir()]
        self._cache: dict[str, Profile] = {}

    def path_of(self, profile_id: str) -> Path | None:
        if "/" not in profile_id or ".." in profile_id:
            return None
        for base in self.dirs:
            candidate = base / f"{profile_id}.yaml"
            if candidate.is_file():
                return candidate
        return None

    def get(self, profile_id: str) -> Profile:
        """The profile, loaded and validated; KeyError if no directory has it."""
        if profile_id not in self._cache:
            path = self.path_of(profile_id)
            if path is None:
                raise KeyError(profile_id)
            self._cache[profile_id] = _load_unchanged(path, profile_id)
        return self._cache[profile_id]

    def ids(self) -> list[str]:
        return sorted({pid for pid, _ in self._files()})

    def _files(self) -> Iterator[tuple[str, Path]]:
        for base in self.dirs:
            if base.is_dir():
                for path in sorted(base.glob("*/*.yaml")):
                    yield f"{path.parent.name}/{path.stem}", path
