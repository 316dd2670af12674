"""Small argparse helpers shared by the ``speechssl.bin`` programs."""
from __future__ import annotations

import argparse


def str2bool(value: str) -> bool:
    """Parse Kaldi-style booleans (true/false; also 1/0, yes/no) for argparse."""
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def add_config_option(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--config FILE.yaml``: a mapping of option names to values, used as defaults."""
    parser.add_argument(
        "--config", default=None,
        help="YAML file of option values (keys are option names with - or _); "
             "options given on the command line win",
    )
    return parser


def parse_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse ``argv``, taking defaults from the YAML file named by ``--config``.

    Unknown keys in the file are an error naming the file and the key.
    """
    from speechssl.utils.errors import SpeechSSLError

    args = parser.parse_args(argv)
    if not getattr(args, "config", None):
        return args
    import yaml

    try:
        with open(args.config, encoding="utf-8") as f:
            values = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise SpeechSSLError(f"{args.config}: cannot read the config ({e})") from None
    if not isinstance(values, dict):
        raise SpeechSSLError(f"{args.config}: expected a mapping of option: value")
    actions = {a.dest: a for a in parser._actions}
    defaults = {}
    for key, value in values.items():
        dest = str(key).replace("-", "_")
        if dest not in actions or dest in ("help", "config") or not actions[dest].option_strings:
            raise SpeechSSLError(f"{args.config}: unknown option {key!r} for {parser.prog}")
        action = actions[dest]
        if isinstance(value, bool):
            value = "true" if value else "false"
        if action.type is not None and isinstance(value, str):
            value = action.type(value)
        elif action.type is not None and not isinstance(value, (list, dict)):
            value = action.type(str(value))
        if action.choices is not None and value not in action.choices:
            raise SpeechSSLError(f"{args.config}: {key}: {value!r} is not one of {list(action.choices)}")
        defaults[dest] = value
    parser.set_defaults(**defaults)
    return parser.parse_args(argv)
