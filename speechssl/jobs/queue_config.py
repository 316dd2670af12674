"""Kaldi-style cluster config files (conf/slurm.conf, conf/queue.conf), shared by slurm and sge.

Format, one directive per line, ``#`` starts a comment::

    command sbatch --export=PATH        # the submit program and its fixed flags
    option mem=* --mem $0               # --mem V adds "--mem V" ($0 is the value)
    option gpu=0                        # --gpu 0 adds nothing
    option gpu=* -p gpu --gres=gpu:$0   # any other --gpu value
    default gpu=0                       # value used when the option is not given

An exact ``option name=value`` line wins over ``option name=*``.  Giving an option that
the config has no line for is an error, so a typo never silently drops a resource request.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from speechssl.utils.errors import SpeechSSLError


@dataclass
class QueueConfig:
    """A parsed config: the submit ``command``, ``options[name][value or '*']`` -> flags,
    and ``defaults[name]`` -> value."""

    source: str
    command: list[str]
    options: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    def flags(self, values: dict[str, str]) -> list[str]:
        """Scheduler flags for the given option values, defaults filled in, in the config's order."""
        merged = {**self.defaults, **values}
        for name, value in merged.items():
            if name not in self.options:
                raise SpeechSSLError(
                    f"option --{name.replace('_', '-')} {value} is not supported by {self.source}: "
                    f"add a line 'option {name}=* <flags using $0>' there, or drop the option")
        out: list[str] = []
        for name, choices in self.options.items():  # in the config's order
            if name not in merged:
                continue
            value = merged[name]
            if value in choices:
                out += choices[value]
            elif "*" in choices:
                out += [flag.replace("$0", value) for flag in choices["*"]]
            else:
                raise SpeechSSLError(
                    f"value {value!r} of --{name.replace('_', '-')} is not supported by {self.source} "
                    f"(it has {', '.join(sorted(choices))}): add 'option {name}={value} <flags>' "
                    f"or 'option {name}=* <flags>'")
        return out


def parse_queue_config(text: str, source: str) -> QueueConfig:
    """Parse config ``text``; ``source`` names it in error messages (a path or 'built-in ...')."""
    command: list[str] | None = None
    options: dict[str, dict[str, list[str]]] = {}
    defaults: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        where = f"{source}:{lineno}"
        try:
            words = shlex.split(raw, comments=True)
        except ValueError as e:
            raise SpeechSSLError(f"{where}: cannot split line ({e}): {raw.strip()!r}") from None
        if not words:
            continue
        keyword, rest = words[0], words[1:]
        if keyword == "command":
            if not rest:
                raise SpeechSSLError(f"{where}: 'command' needs the submit program, e.g. 'command sbatch'")
            command = rest
        elif keyword in ("option", "default"):
            if not rest or "=" not in rest[0]:
                raise SpeechSSLError(f"{where}: expected '{keyword} name=value ...', got {raw.strip()!r}")
            name, value = rest[0].split("=", 1)
            if not name or not value:
                raise SpeechSSLError(f"{where}: empty name or value in {rest[0]!r}")
            if keyword == "option":
                options.setdefault(name, {})[value] = rest[1:]
            elif len(rest) > 1:
                raise SpeechSSLError(f"{where}: 'default {rest[0]}' takes nothing after the value")
            else:
                defaults[name] = value
        else:
            raise SpeechSSLError(f"{where}: unknown directive {keyword!r}; use command, option or default")
    if command is None:
        raise SpeechSSLError(f"{source}: no 'command' line (e.g. 'command sbatch --export=PATH')")
    for name, value in defaults.items():
        choices = options.get(name, {})
        if value not in choices and "*" not in choices:
            raise SpeechSSLError(f"{source}: 'default {name}={value}' has no matching 'option {name}=...' line")
    return QueueConfig(source, command, options, defaults)


def load_queue_config(path: str | None, builtin: str, backend: str) -> QueueConfig:
    """The config at ``path``, or the backend's ``builtin`` text when ``path`` is ``None``."""
    if path is None:
        return parse_queue_config(builtin, f"the built-in {backend} config")
    p = Path(path)
    if not p.is_file():
        raise SpeechSSLError(f"{backend} config {path} not found; pass --config conf/{backend}.conf "
                             "(copy egs/TEMPLATE/conf/) or leave --config out for the built-in one")
    return parse_queue_config(p.read_text(encoding="utf-8"), str(path))
