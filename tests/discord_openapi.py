"""Validate the REST requests a discord.py bot makes against Discord's OpenAPI description.

Discord publishes an OpenAPI 3.1 description of its HTTP API v10 (a copy lives in
``tests/discord_api/openapi.json`` with its source, commit and licence; see the README there). It is
an independent oracle for the request bodies discord.py builds for us: the SimCord
double records every REST call in ``env.http_requests`` and :func:`assert_requests_valid`
checks each of them:

* the concrete path (``/channels/123/messages``) must match a path template of the
  description (``/channels/{channel_id}/messages``; a literal segment beats a
  parameter) and that template must document the HTTP method; snowflake path
  parameters must be snowflakes;
* the JSON body (for multipart uploads SimCord records the decoded ``payload_json``
  part, which the description gives the same schema as the JSON body) is validated
  with ``jsonschema`` Draft 2020-12 against the operation's request schema, every
  ``#/components/schemas/...`` reference resolving through a ``referencing`` registry
  holding the whole document;
* the documented rules the description leaves out (see the README) are enforced on
  top: message content <= 2000 characters, buttons carry a custom_id xor a url (or a
  sku_id for premium buttons), CHAT_INPUT command and option names are lower case
  and match ``^[-_\\p{L}\\p{N}]{1,32}$``, 5 components per action row, 5 action rows,
  25 fields per embed, 10 embeds and 6000 embed characters per message.

Two narrow normalisations, both for places where the preview description's typing
disagrees with Discord's written documentation and discord.py follows the
documentation (the README: "some string ids are typed as integers"; "the
documentation wins"):

* ``SnowflakeType`` is a decimal string in the description, but Discord accepts JSON
  integers wherever a snowflake is expected and discord.py sends ints for
  ``allowed_mentions.users/roles``, ``message_reference.message_id``, ``sticker_ids``,
  upload ``attachments[].id`` (the upload index)...  A non-negative integer below
  2**64 is accepted where the schema is the snowflake string format; nothing else is.
* Permission bit sets (``default_member_permissions``, ``permissions``, ``allow``,
  ``deny``) are documented as strings ("serialized permission bit set") and
  discord.py sends them as decimal strings, but the description types them as
  integers. A decimal digit string in one of those four properties is checked as
  the integer it spells, so minimum/maximum still apply.
"""

from __future__ import annotations

import json
import os
import re
import reprlib
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

try:  # ``regex`` (a simcord dependency) understands \p{L} / \p{N}
    import regex as _regex
except ImportError:  # pragma: no cover - fallback through unicodedata categories
    _regex = None

__all__ = [
    "ENV_VAR",
    "OpenAPIValidator",
    "assert_requests_valid",
    "check_env",
    "check_requests",
    "command_violations",
    "default_spec_path",
    "get_validator",
    "message_violations",
]

ENV_VAR = "DISCORD_OPENAPI_PATH"
SPEC_PATH = Path(__file__).resolve().with_name("discord_api") / "openapi.json"
SPEC_URI = "urn:discord-api:openapi.json"

HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")

# --------------------------------------------------------------------------- limits
# Documented limits the description leaves out (or that we re-check with a clearer
# message): https://discord.com/developers/docs/resources/message and
# .../interactions/application-commands, .../components/reference.
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_FIELDS = 25
MAX_EMBED_TOTAL_CHARS = 6000
MAX_ACTION_ROWS = 5
MAX_ROW_COMPONENTS = 5
IS_COMPONENTS_V2 = 1 << 15

COMPONENT_ACTION_ROW = 1
COMPONENT_BUTTON = 2
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
BUTTON_LINK = 5
BUTTON_PREMIUM = 6

CHAT_INPUT = 1
PRIMARY_ENTRY_POINT = 4
OPTION_SUB_COMMAND = 1
OPTION_SUB_COMMAND_GROUP = 2

_COMMAND_NAME_RE = _regex.compile(r"^[-_\p{L}\p{N}]{1,32}$") if _regex is not None else None

# Routes whose body (or part of it) is a message, as (METHOD, template).
MESSAGE_ROUTES = frozenset(
    {
        ("POST", "/channels/{channel_id}/messages"),
        ("PATCH", "/channels/{channel_id}/messages/{message_id}"),
        ("POST", "/webhooks/{webhook_id}/{webhook_token}"),
        ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
        ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
    }
)
THREAD_CREATE_ROUTE = ("POST", "/channels/{channel_id}/threads")  # forum posts carry "message"
CALLBACK_ROUTE = ("POST", "/interactions/{interaction_id}/{interaction_token}/callback")
CALLBACK_MESSAGE_TYPES = frozenset({4, 7})  # CHANNEL_MESSAGE_WITH_SOURCE, UPDATE_MESSAGE
COMMAND_LIST_ROUTES = frozenset(
    {
        ("PUT", "/applications/{application_id}/commands"),
        ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"),
    }
)
COMMAND_ROUTES = frozenset(
    {
        ("POST", "/applications/{application_id}/commands"),
        ("PATCH", "/applications/{application_id}/commands/{command_id}"),
        ("POST", "/applications/{application_id}/guilds/{guild_id}/commands"),
        ("PATCH", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}"),
    }
)

_SNOWFLAKE_STR = re.compile(r"^(0|[1-9][0-9]*)$")
_API_PREFIX = re.compile(r"^/api/v\d+(?=/)")
_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = 4
_short.maxdict = 4


# ------------------------------------------------------------------ normalisations
_BASE_TYPE = Draft202012Validator.VALIDATORS["type"]
_BASE_PROPERTIES = Draft202012Validator.VALIDATORS["properties"]

# Properties documented as serialized permission bit sets (strings) but typed as
# integers in the preview description.
PERMISSION_BITSET_PROPERTIES = frozenset({"default_member_permissions", "permissions", "allow", "deny"})


def _is_int_snowflake(instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool) and 0 <= instance < 2**64


def _type_allowing_int_snowflakes(validator, types, instance, schema):
    if schema.get("format") == "snowflake" and _is_int_snowflake(instance):
        return
    yield from _BASE_TYPE(validator, types, instance, schema)


def _schema_types(schema: Any) -> set[str]:
    if not isinstance(schema, Mapping):
        return set()
    types = schema.get("type", ())
    return {types} if isinstance(types, str) else set(types)


def _properties_reading_permission_strings(validator, properties, instance, schema):
    if isinstance(instance, dict) and not PERMISSION_BITSET_PROPERTIES.isdisjoint(instance):
        converted = dict(instance)
        for name in PERMISSION_BITSET_PROPERTIES.intersection(instance):
            value = instance[name]
            types = _schema_types(properties.get(name))
            if (
                isinstance(value, str)
                and _SNOWFLAKE_STR.match(value)
                and "integer" in types
                and "string" not in types
            ):
                converted[name] = int(value)
        instance = converted
    yield from _BASE_PROPERTIES(validator, properties, instance, schema)


_DiscordValidator = validators.extend(
    Draft202012Validator,
    {"type": _type_allowing_int_snowflakes, "properties": _properties_reading_permission_strings},
)


# ------------------------------------------------------------------ error rendering
def _location(path: Iterable[Any], root: str = "body") -> str:
    out = root
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _is_branch_miss(sub: ValidationError) -> bool:
    """True when a oneOf/anyOf branch failed on its discriminator, not on details.

    Discord's unions are discriminated by a ``type`` enum (components, interaction
    callbacks, command options) or by being ``{"type": "null"}``: such a branch was
    clearly not the one meant, and its errors would only be noise.
    """
    rel = list(sub.relative_path)
    if not rel and sub.validator == "type":
        return True
    return rel == ["type"] and sub.validator in ("enum", "const", "type")


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    by_branch: dict[Any, list[ValidationError]] = defaultdict(list)
    for sub in error.context:
        by_branch[sub.relative_schema_path[0]].append(sub)
    candidates = [errs for errs in by_branch.values() if not any(_is_branch_miss(e) for e in errs)]
    if len(candidates) == 1:
        return [leaf for sub in candidates[0] for leaf in _leaf_errors(sub)]
    if not candidates:
        return [error]
    best = best_match([error])
    return [best] if best is not None else [error]


def _describe(error: ValidationError, root: str = "body") -> str:
    where = _location(error.absolute_path, root)
    value, instance = error.validator_value, error.instance
    kind = error.validator
    if kind == "maxLength" and isinstance(instance, str):
        return f"{where}: {len(instance)} characters, at most {value} allowed"
    if kind == "minLength" and isinstance(instance, str):
        return f"{where}: {len(instance)} characters, at least {value} required"
    if kind == "maxItems" and isinstance(instance, list):
        return f"{where}: {len(instance)} items, at most {value} allowed"
    if kind == "minItems" and isinstance(instance, list):
        return f"{where}: {len(instance)} items, at least {value} required"
    if kind in ("anyOf", "oneOf"):
        return f"{where}: {_short.repr(instance)} matches no documented shape ({kind})"
    message = error.message
    if len(message) > 300:
        message = message[:300] + "..."
    return f"{where}: {message} (schema {kind})"


# ----------------------------------------------------------- documented extra rules
def _text_len(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def _embed_chars(embed: Mapping[str, Any]) -> int:
    total = _text_len(embed.get("title")) + _text_len(embed.get("description"))
    for field in embed.get("fields") or ():
        if isinstance(field, Mapping):
            total += _text_len(field.get("name")) + _text_len(field.get("value"))
    footer, author = embed.get("footer"), embed.get("author")
    if isinstance(footer, Mapping):
        total += _text_len(footer.get("text"))
    if isinstance(author, Mapping):
        total += _text_len(author.get("name"))
    return total


def _walk_components(components: Any, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every component of a (possibly Components V2) tree, with its location."""
    if not isinstance(components, list):
        return
    for index, component in enumerate(components):
        if not isinstance(component, Mapping):
            continue
        here = f"{where}[{index}]"
        yield here, component
        yield from _walk_components(component.get("components"), f"{here}.components")
        accessory = component.get("accessory")
        if isinstance(accessory, Mapping):
            yield f"{here}.accessory", accessory
        child = component.get("component")  # label (type 18) wraps a single component
        if isinstance(child, Mapping):
            yield f"{here}.component", child


def _button_violations(button: Mapping[str, Any], where: str) -> list[str]:
    has_custom_id = bool(button.get("custom_id"))
    has_url = bool(button.get("url"))
    has_sku = bool(button.get("sku_id"))
    style = button.get("style")
    out: list[str] = []
    if has_custom_id and has_url:
        out.append(f"{where}: button has both a custom_id and a url")
    if style == BUTTON_PREMIUM:
        if not has_sku:
            out.append(f"{where}: premium button (style 6) needs a sku_id")
        if has_custom_id or has_url:
            out.append(f"{where}: premium button (style 6) cannot have a custom_id or a url")
    elif style == BUTTON_LINK:
        if not has_url:
            out.append(f"{where}: link button (style 5) needs a url")
    elif not has_custom_id and not has_url:
        out.append(f"{where}: button has neither a custom_id nor a url")
    elif not has_custom_id:
        out.append(f"{where}: non-link button (style {style}) needs a custom_id, not a url")
    return out


def message_violations(message: Any, where: str = "body") -> list[str]:
    """Documented message rules the OpenAPI description does not encode."""
    if not isinstance(message, Mapping):
        return []
    out: list[str] = []
    content = message.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        out.append(f"{where}.content: {len(content)} characters, Discord allows at most {MAX_CONTENT}")

    embeds = message.get("embeds")
    if isinstance(embeds, list):
        if len(embeds) > MAX_EMBEDS:
            out.append(f"{where}.embeds: {len(embeds)} embeds, at most {MAX_EMBEDS} per message")
        total = 0
        for index, embed in enumerate(embeds):
            if not isinstance(embed, Mapping):
                continue
            fields = embed.get("fields")
            if isinstance(fields, list) and len(fields) > MAX_EMBED_FIELDS:
                out.append(
                    f"{where}.embeds[{index}].fields: {len(fields)} fields, at most {MAX_EMBED_FIELDS}"
                )
            total += _embed_chars(embed)
        if total > MAX_EMBED_TOTAL_CHARS:
            out.append(
                f"{where}.embeds: {total} characters over all embeds (title, description, field "
                f"names and values, footer text, author name), at most {MAX_EMBED_TOTAL_CHARS}"
            )

    components = message.get("components")
    if isinstance(components, list):
        flags = message.get("flags")
        v2 = (isinstance(flags, int) and bool(flags & IS_COMPONENTS_V2)) or any(
            isinstance(c, Mapping) and c.get("type") != COMPONENT_ACTION_ROW for c in components
        )
        if not v2 and len(components) > MAX_ACTION_ROWS:
            out.append(
                f"{where}.components: {len(components)} action rows, at most {MAX_ACTION_ROWS} per message"
            )
        for here, component in _walk_components(components, f"{where}.components"):
            kind = component.get("type")
            if kind == COMPONENT_BUTTON:
                out.extend(_button_violations(component, here))
            elif kind == COMPONENT_ACTION_ROW:
                children = [c for c in component.get("components") or () if isinstance(c, Mapping)]
                if len(children) > MAX_ROW_COMPONENTS:
                    out.append(
                        f"{here}.components: {len(children)} components in an action row, "
                        f"at most {MAX_ROW_COMPONENTS}"
                    )
                if len(children) > 1 and any(c.get("type") in SELECT_TYPES for c in children):
                    out.append(f"{here}: an action row holding a select menu cannot hold anything else")
    return out


def _bad_name(name: Any) -> str | None:
    if not isinstance(name, str):
        return None  # the schema reports the type
    if _COMMAND_NAME_RE is not None:
        pattern_ok = bool(_COMMAND_NAME_RE.match(name))
    else:  # pragma: no cover
        pattern_ok = 1 <= len(name) <= 32 and all(
            ch in "-_" or unicodedata.category(ch)[0] in "LN" for ch in name
        )
    problems = []
    if not pattern_ok:
        problems.append("does not match ^[-_\\p{L}\\p{N}]{1,32}$")
    if name != name.lower():
        problems.append("is not lower case")
    return " and ".join(problems) or None


def _name_violations(obj: Mapping[str, Any], where: str) -> list[str]:
    out: list[str] = []
    problem = _bad_name(obj.get("name"))
    if problem:
        out.append(f"{where}.name: {obj.get('name')!r} {problem}")
    localizations = obj.get("name_localizations")
    if isinstance(localizations, Mapping):
        for locale, value in localizations.items():
            problem = _bad_name(value)
            if problem:
                out.append(f"{where}.name_localizations.{locale}: {value!r} {problem}")
    return out


def _option_violations(options: Any, where: str) -> list[str]:
    out: list[str] = []
    if not isinstance(options, list):
        return out
    for index, option in enumerate(options):
        if not isinstance(option, Mapping):
            continue
        here = f"{where}[{index}]"
        out.extend(_name_violations(option, here))
        if option.get("type") in (OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP):
            out.extend(_option_violations(option.get("options"), f"{here}.options"))
    return out


def command_violations(command: Any, where: str = "body") -> list[str]:
    """Naming rules for one application command (CHAT_INPUT names and all option names).

    USER and MESSAGE (context menu) commands may be mixed case and contain spaces,
    so only their length (checked by the description) applies to them.
    """
    if not isinstance(command, Mapping):
        return []
    out: list[str] = []
    if command.get("type") in (None, CHAT_INPUT, PRIMARY_ENTRY_POINT):
        out.extend(_name_violations(command, where))
    out.extend(_option_violations(command.get("options"), f"{where}.options"))
    return out


# --------------------------------------------------------------------- the validator
def default_spec_path() -> Path:
    """``$DISCORD_OPENAPI_PATH``, else the copy kept in the repository (``tests/discord_api/``)."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else SPEC_PATH


@cache
def _read_document(path: str) -> dict[str, Any]:
    """The parsed description (1.2 MB), read once per process and path. Treat as read-only."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class OpenAPIValidator:
    """Request validator over one OpenAPI document; use :func:`get_validator` for a cached one."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_spec_path()
        self.document: dict[str, Any] = _read_document(str(self.path.resolve()))
        self.paths: dict[str, dict[str, Any]] = self.document["paths"]
        self.registry = Registry().with_resource(
            SPEC_URI, Resource.from_contents(self.document, default_specification=DRAFT202012)
        )
        self._by_length: dict[int, list[tuple[tuple[str | None, ...], str]]] = defaultdict(list)
        for template in self.paths:
            segments = tuple(
                None if seg.startswith("{") and seg.endswith("}") else seg
                for seg in template.strip("/").split("/")
            )
            self._by_length[len(segments)].append((segments, template))
        self._validators: dict[tuple[str, str, str], Any] = {}
        # (method, template, the body as canonical JSON) -> its schema violations. Validation is a
        # pure function of these; every SimCord test syncs the same 33 kB command list, 0.27 s to
        # validate, so a worker validates each distinct body once.
        self._checked: dict[tuple[str, str, str], list[str]] = {}

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> OpenAPIValidator:
        """The process-wide cached instance (same as :func:`get_validator`)."""
        return get_validator(path)

    # ------------------------------------------------------------------ routing
    @staticmethod
    def normalise_path(path: str) -> str:
        path = path.split("?", 1)[0]
        path = _API_PREFIX.sub("", path)
        return "/" + path.strip("/")

    def match_route(self, path: str) -> str | None:
        """The spec template for a concrete path, preferring literal segments."""
        segments = self.normalise_path(path).strip("/").split("/")
        best: tuple[tuple[int, tuple[int, ...]], str] | None = None
        for template_segments, template in self._by_length.get(len(segments), ()):
            if all(t is None or t == s for t, s in zip(template_segments, segments, strict=True)):
                literal_flags = tuple(0 if t is None else 1 for t in template_segments)
                score = (sum(literal_flags), literal_flags)
                if best is None or score > best[0]:
                    best = (score, template)
        return best[1] if best else None

    def operation(self, method: str, template: str) -> dict[str, Any] | None:
        return self.paths.get(template, {}).get(method.lower())

    def _path_parameter_violations(self, method: str, template: str, path: str) -> list[str]:
        item = self.paths[template]
        params = list(item.get("parameters") or ()) + list(item[method.lower()].get("parameters") or ())
        snowflakes = {
            p["name"]
            for p in params
            if p.get("in") == "path"
            and isinstance(p.get("schema"), Mapping)
            and p["schema"].get("$ref", "").endswith("/SnowflakeType")
        }
        out = []
        segments = self.normalise_path(path).strip("/").split("/")
        for tpl, seg in zip(template.strip("/").split("/"), segments, strict=True):
            name = tpl[1:-1] if tpl.startswith("{") else None
            if name in snowflakes and not _SNOWFLAKE_STR.match(seg):
                out.append(f"path parameter {name}={seg!r} is not a snowflake")
        return out

    # --------------------------------------------------------------- body schemas
    def _media_type(self, operation: Mapping[str, Any]) -> str | None:
        content = (operation.get("requestBody") or {}).get("content") or {}
        for media in ("application/json", "multipart/form-data", "application/x-www-form-urlencoded"):
            if media in content:
                return media
        return None

    def body_validator(self, method: str, template: str) -> tuple[Any, str] | None:
        """The cached jsonschema validator for an operation's request body."""
        operation = self.operation(method, template)
        if operation is None:
            return None
        media = self._media_type(operation)
        if media is None:
            return None
        key = (template, method.lower(), media)
        validator = self._validators.get(key)
        if validator is None:
            pointer = "/".join(
                _escape_pointer(token)
                for token in ("paths", template, method.lower(), "requestBody", "content", media, "schema")
            )
            validator = _DiscordValidator({"$ref": f"{SPEC_URI}#/{pointer}"}, registry=self.registry)
            self._validators[key] = validator
        return validator, media

    @staticmethod
    def _is_missing_file_part(error: ValidationError, media: str) -> bool:
        """A multipart schema requiring a binary part SimCord logs apart from the body."""
        if media != "multipart/form-data" or error.validator != "required":
            return False
        properties = error.schema.get("properties") or {}
        missing = [name for name in error.validator_value if name not in error.instance]
        return bool(missing) and all(
            isinstance(properties.get(name), Mapping) and "contentEncoding" in properties[name]
            for name in missing
        )

    def schema_violations(self, method: str, template: str, body: Any) -> list[str]:
        found = self.body_validator(method, template)
        if found is None:
            return []
        try:
            text = json.dumps(body, sort_keys=True, ensure_ascii=False)
            exact = json.loads(text) == body  # False for a tuple, NaN…: what JSON would not give back
        except (TypeError, ValueError):
            exact = False
        if not exact:  # a test's own object, not a body off the wire: checked every time
            return self._schema_violations(found, body)
        key = (method, template, text)
        if key not in self._checked:
            self._checked[key] = self._schema_violations(found, body)
        return list(self._checked[key])

    def _schema_violations(self, found: tuple[Any, str], body: Any) -> list[str]:
        validator, media = found
        out: list[str] = []
        for error in validator.iter_errors(body):
            for leaf in _leaf_errors(error):
                if self._is_missing_file_part(leaf, media):
                    continue
                message = _describe(leaf)
                if message not in out:
                    out.append(message)
        return out

    # ----------------------------------------------------------------- validate
    def validate(self, method: str, path: str, body: Any = None) -> list[str]:
        """Human-readable violations of one request; empty when it is valid."""
        method = method.upper()
        template = self.match_route(path)
        if template is None:
            return [f"route not in Discord's OpenAPI description: {method} {self.normalise_path(path)}"]
        operation = self.operation(method, template)
        if operation is None:
            documented = sorted(m.upper() for m in self.paths[template] if m in HTTP_METHODS)
            return [
                f"route not in Discord's OpenAPI description: {method} {template} "
                f"(documented methods: {', '.join(documented)})"
            ]
        out = self._path_parameter_violations(method, template, path)
        if body is None:
            if "requestBody" in operation and method not in ("GET", "DELETE", "HEAD"):
                # A missing body is an empty one; report it only when {} would not do.
                if self.schema_violations(method, template, {}):
                    out.append(f"{method} {template} needs a request body")
            return out
        if "requestBody" not in operation:
            out.append(f"{method} {template} takes no request body, got {_short.repr(body)}")
            return out
        schema_problems = self.schema_violations(method, template, body)
        out.extend(schema_problems)
        # A documented limit the schema already reported at the same place (5 buttons
        # per row, 25 fields, 10 embeds...) is not repeated.
        reported = {problem.split(": ", 1)[0] for problem in schema_problems}
        out.extend(
            problem
            for problem in self.rule_violations(method, template, body)
            if problem.split(": ", 1)[0] not in reported
        )
        return out

    @staticmethod
    def rule_violations(method: str, template: str, body: Any) -> list[str]:
        """The documented rules the description leaves out, for this route's body."""
        route = (method.upper(), template)
        if route in MESSAGE_ROUTES:
            return message_violations(body)
        if route == CALLBACK_ROUTE:
            if isinstance(body, Mapping) and body.get("type") in CALLBACK_MESSAGE_TYPES:
                return message_violations(body.get("data"), "body.data")
            return []
        if route == THREAD_CREATE_ROUTE:
            return (
                message_violations(body.get("message"), "body.message") if isinstance(body, Mapping) else []
            )
        if route in COMMAND_LIST_ROUTES:
            if not isinstance(body, list):
                return []
            return [v for index, cmd in enumerate(body) for v in command_violations(cmd, f"body[{index}]")]
        if route in COMMAND_ROUTES:
            return command_violations(body)
        return []

    def validate_entry(self, entry: Any) -> list[str]:
        """Validate a ``simcord.HttpLogEntry`` (or anything with method, path and json)."""
        return self.validate(entry.method, entry.path, entry.json)


@cache
def _load(path: str) -> OpenAPIValidator:
    return OpenAPIValidator(path)


def get_validator(path: str | os.PathLike[str] | None = None) -> OpenAPIValidator:
    """The process-wide validator for a spec file (loaded once per resolved path)."""
    resolved = Path(path) if path is not None else default_spec_path()
    return _load(str(resolved.resolve()))


# ------------------------------------------------------------------ pytest helpers
def check_requests(entries: Iterable[Any], validator: OpenAPIValidator | None = None) -> list[str]:
    """``"METHOD path: violation"`` lines for every bad request among ``entries``."""
    validator = validator or get_validator()
    problems: list[str] = []
    for index, entry in enumerate(entries):
        for violation in validator.validate_entry(entry):
            problems.append(f"#{index} {entry.method} {entry.path}: {violation}")
    return problems


def check_env(env: Any, validator: OpenAPIValidator | None = None) -> list[str]:
    """Violations of every REST request recorded by a SimCord ``Env``."""
    return check_requests(env.http_requests, validator)


def assert_requests_valid(env: Any, validator: OpenAPIValidator | None = None) -> None:
    """Fail with a list of every request of ``env`` (or an iterable of entries) that Discord would reject."""
    entries = env.http_requests if hasattr(env, "http_requests") else env
    problems = check_requests(entries, validator)
    if problems:
        raise AssertionError(
            f"{len(problems)} request violation(s) against Discord's OpenAPI description "
            "and documented limits:\n" + "\n".join(f"  {line}" for line in problems)
        )
