"""Babel extractor for the YAML flows: pulls ``say``, ``ask``, ``why`` and ``label`` texts
(and facts marked ``translate: true``), with the node id as a comment for translators.

Used by ``pybabel extract -F babel.cfg`` through the ``[bot.engine.extract:extract_flows: …]``
section of babel.cfg.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import yaml

TEXT_KEYS = frozenset({"say", "ask", "why", "label", "footer", "more"})


def _walk(node: yaml.Node, path: tuple[str, ...]) -> Iterator[tuple[int, str, str]]:
    if isinstance(node, yaml.MappingNode):
        pairs = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        translate = pairs.get("translate")
        for key_node, value in node.value:
            key = key_node.value
            if key in TEXT_KEYS and isinstance(value, yaml.ScalarNode):
                yield value.start_mark.line + 1, yaml.safe_load(yaml.serialize(value)), \
                    ".".join(path)
            elif (key == "value" and isinstance(value, yaml.ScalarNode)
                  and isinstance(translate, yaml.ScalarNode) and translate.value == "true"):
                yield value.start_mark.line + 1, value.value, ".".join(path)
            else:
                yield from _walk(value, (*path, str(key)))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, path)


def extract_flows(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str, str, list[str]]]:
    flow = Path(str(getattr(fileobj, "name", "flow"))).stem
    root = yaml.compose(fileobj.read().decode("utf-8"))
    if root is None:
        return
    for lineno, text, where in _walk(root, ()):
        if isinstance(text, str) and text.strip():
            where = where.removeprefix("nodes.").removeprefix("facts.")
            for suffix, kind in ((".buttons", "button"), (".choices", "answer button")):
                if where.endswith(suffix):
                    where = f"{kind} on {flow}.{where.removesuffix(suffix)}"
                    break
            else:
                where = f"{flow}.{where}"
            yield lineno, "", text, [where]
