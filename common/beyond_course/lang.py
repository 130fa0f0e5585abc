"""The learner's language: every line the lessons print, in Chinese or English.

``LESSONS_LANG=zh`` or ``LESSONS_LANG=en`` chooses; left unset, the system's
language does (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` on Linux and
macOS, the user's display language on Windows); English when in doubt.

The messages are GNU gettext catalogues: the code holds the English text,
``print(_("saved {name}").format(name=...))``, and ``locale/zh.po`` its Chinese.
A third language is one more file, ``locale/<code>.po`` (any .po editor, e.g.
Poedit, opens it). A line with no translation, or one whose translation lost a
``{placeholder}``, stays English; a missing or broken file means English.

Why the .po is compiled here, at import, and no .mo is checked in: the lessons
have no install step that could run ``msgfmt``, and a checked-in binary goes
stale the moment someone edits the .po. Compiling a few hundred entries takes
about a millisecond; the result is the same bytes ``msgfmt --no-hash`` writes
(tests/test_lang.py compares them where msgfmt is installed), read by the
standard library's ``gettext.GNUTranslations``.

Importing this module also makes printing safe: a file name the console cannot
encode (an emoji on a GBK console, output redirected on Chinese Windows) is
printed with ``?`` in its place instead of ending the run in a traceback.
"""

import argparse
import gettext
import io
import os
import re
import struct
import sys
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"


# -- which language ---------------------------------------------------------------------------------


def _code(value):
    """'zh_CN.UTF-8' -> 'zh', 'en-US' -> 'en', 'C' / 'POSIX' / '' -> None."""
    code = re.split(r"[_.@-]", (value or "").strip(), maxsplit=1)[0].lower()
    return None if code in ("", "c", "posix") else code


def _windows_ui_language():
    """The Windows user's display language ('zh_CN', ...), or None."""
    try:
        import ctypes
        import locale

        return locale.windows_locale.get(ctypes.windll.kernel32.GetUserDefaultUILanguage())
    except Exception:  # no ctypes.windll, an unknown language id: English
        return None


def system_language(environ=None, platform=None):
    """The system's language code ('zh', 'en', ...), or None when it does not say."""
    environ = os.environ if environ is None else environ
    if (platform or sys.platform) == "win32":
        return _code(_windows_ui_language())
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):  # the order gettext itself reads them
        if environ.get(name):
            return _code(environ[name].split(":")[0])  # LANGUAGE may list several: zh_CN:en
    return None


def detect(environ=None, platform=None, folder=LOCALE_DIR):
    """LESSONS_LANG if set, else the system's language; 'en' if that has no catalogue here."""
    environ = os.environ if environ is None else environ
    code = _code(environ.get("LESSONS_LANG")) or system_language(environ, platform)
    return code if code and (Path(folder) / f"{code}.po").is_file() else "en"


# -- reading a .po file -----------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(text, where):
    if not (len(text) >= 2 and text[0] == text[-1] == '"'):
        raise ValueError(f"{where}: expected a quoted string, got {text!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def parse_po(text, name="catalogue"):
    """The entries of a .po file's text: dicts with 'msgctxt', 'msgid', 'msgid_plural',
    'msgstr' (a list: one string, or one per plural form) and 'fuzzy'. ValueError if malformed."""
    entries, entry, field = [], {}, None
    for number, raw in enumerate(text.splitlines(), 1):
        line, where = raw.strip(), f"{name}:{number}"
        keyword, _, rest = line.partition(" ")
        if "msgstr" in entry and (not line or line.startswith("#") or keyword in ("msgctxt", "msgid")):
            entries.append(entry)  # a blank line, a comment or a new msgid ends the entry before
            entry, field = {}, None
        if not line or line.startswith("#"):  # comments, references, obsolete (#~) entries
            if line.startswith("#,") and "fuzzy" in re.split(r"[\s,]+", line[2:]):
                entry["fuzzy"] = True
            continue
        plural = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
        if line.startswith('"'):
            if field is None:
                raise ValueError(f"{where}: a string continues nothing")
            kind, index = field
            if index is None:
                entry[kind] += _unquote(line, where)
            else:
                entry[kind][index] += _unquote(line, where)
        elif keyword in ("msgctxt", "msgid", "msgid_plural"):
            entry[keyword], field = _unquote(rest.strip(), where), (keyword, None)
        elif keyword == "msgstr" or plural:
            if "msgid" not in entry:
                raise ValueError(f"{where}: msgstr without a msgid")
            index = int(plural.group(1)) if plural else 0
            strs = entry.setdefault("msgstr", [])
            if index != len(strs):
                raise ValueError(f"{where}: msgstr[{index}] out of order")
            strs.append(_unquote(rest.strip(), where))
            field = ("msgstr", index)
        else:
            raise ValueError(f"{where}: cannot read {line[:40]!r}")
    if "msgstr" in entry:
        entries.append(entry)
    for e in entries:
        if not e.get("msgstr"):
            raise ValueError(f"{name}: msgid {e['msgid'][:40]!r} has no msgstr")
        e.setdefault("msgctxt", None)
        e.setdefault("msgid_plural", None)
        e.setdefault("fuzzy", False)
    return entries


_BRACES = re.compile(r"\{[^{}]*\}")
_PERCENT = re.compile(r"%(?:\([^)]*\))?[sdrif%]")


def placeholders(text):
    """The {fields} and %-specs a message formats: a translation must keep the same ones."""
    return sorted(_BRACES.findall(text)), sorted(_PERCENT.findall(text))


def usable(entry):
    """Whether msgfmt would compile this entry (translated, not fuzzy) and it keeps its placeholders."""
    if entry["fuzzy"] or not all(entry["msgstr"]):
        return entry["msgid"] == "" and not entry["fuzzy"]  # the header: always kept, as msgfmt does
    source = entry["msgid_plural"] or entry["msgid"]
    return all(
        placeholders(s) == placeholders(source) or placeholders(s) == placeholders(entry["msgid"])
        for s in entry["msgstr"]
    )


def compile_mo(entries):
    """The .mo bytes of ``entries`` (GNU layout, no hash table: what ``msgfmt --no-hash`` writes)."""
    messages = {}
    for e in entries:
        if not usable(e):
            continue
        key = e["msgid"] + ("\0" + e["msgid_plural"] if e["msgid_plural"] is not None else "")
        if e["msgctxt"] is not None:
            key = e["msgctxt"] + "\x04" + key
        messages[key.encode()] = "\0".join(e["msgstr"]).encode()
    keys = sorted(messages)
    ids = strs = b""
    table = []
    for k in keys:
        table.append((len(k), len(ids), len(messages[k]), len(strs)))
        ids += k + b"\0"
        strs += messages[k] + b"\0"
    start = 7 * 4 + 16 * len(keys)  # header, then the two tables of (length, offset) pairs
    out = struct.pack("<7I", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, start)
    out += b"".join(struct.pack("<2I", n, start + o) for n, o, _, _ in table)
    out += b"".join(struct.pack("<2I", n, start + len(ids) + o) for _, _, n, o in table)
    return out + ids + strs


def load(code, folder=LOCALE_DIR):
    """The translations into ``code`` (English, i.e. the code's own text, if there is no usable file)."""
    path = Path(folder) / f"{code}.po"
    try:
        return gettext.GNUTranslations(io.BytesIO(compile_mo(parse_po(path.read_text(encoding="utf-8"), path.name))))
    except (OSError, ValueError, UnicodeError):
        return gettext.NullTranslations()


# -- the functions the lessons call -----------------------------------------------------------------

LANGUAGE = detect()
_translations = load(LANGUAGE)


def _(message):
    """``message`` (English, as written in the code) in the learner's language."""
    return _translations.gettext(message)


def ngettext(singular, plural, n):
    """The singular or plural English text, for ``n``, in the learner's language."""
    return _translations.ngettext(singular, plural, n)


def use(code, folder=LOCALE_DIR):
    """Switch to ``code`` in this process (tests; a later import sees the same); returns the old code."""
    global LANGUAGE, _translations
    old, LANGUAGE, _translations = LANGUAGE, code, load(code, folder)
    return old


# argparse's own words (usage:, "the following arguments are required", "show this help message and
# exit" ...) come from its module-level names _ and ngettext, bound to gettext's global domain: pointed
# at ours, they read our catalogue like every other line
argparse._ = _
argparse.ngettext = ngettext

# Never a UnicodeEncodeError from print: what the console's encoding lacks becomes "?"
for _stream in (sys.stdout, sys.stderr):
    if hasattr(_stream, "reconfigure"):
        _stream.reconfigure(errors="replace")
