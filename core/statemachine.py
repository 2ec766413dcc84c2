"""Explicit tables of allowed status moves, shared by every stateful model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.errors import InvalidTransition


@dataclass(frozen=True)
class TransitionTable:
    name: str
    moves: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, name: str, moves: Mapping[str, Iterable[str]]) -> TransitionTable:
        return cls(name=name, moves={src: frozenset(dst) for src, dst in moves.items()})

    def allows(self, current: str, target: str) -> bool:
        return target in self.moves.get(current, frozenset())

    def sources_of(self, target: str) -> frozenset[str]:
        return frozenset(src for src, dst in self.moves.items() if target in dst)

    def check(self, current: str, target: str) -> None:
        if not self.allows(current, target):
            raise InvalidTransition(
                fields={"status": [f"{self.name}: {current} -> {target}"]},
                extra={"current_status": current, "requested_status": target},
            )
