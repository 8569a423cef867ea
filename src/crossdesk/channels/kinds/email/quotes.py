"""Trimming a reply to what the buyer wrote this time: the quoted history below it and the signature go.

mail-parser-reply was tried first and left out: its Chinese "写道：" rule can never match (its own negative
look-ahead excludes the very line), it knows no full-width colons (Outlook and Foxmail in Chinese), and its
signature rule cuts everything after a line starting with "-", so buyers' bulleted lists vanished.

What starts the history here, in English, German, French, Spanish, Chinese and Japanese:
- an attribution line: "On <date>, <name> wrote:", "Am <date> schrieb <name>:", "<date>，<name> 写道：",
  "2024年5月6日(月) 10:00 <name> <addr>:" (Gmail's Japanese form), "... のメール:";
- an Outlook header block: a "From:" line ("Von:", "发件人：", "差出人:"...) followed within three lines by
  another header ("Sent:", "Gesendet:", "发送时间：", "送信日時:"...), with the separator line above it;
- a separator: "-----Original Message-----", "-----Ursprüngliche Nachricht-----", "------ 原始邮件 ------"...;
- the trailing run of ``>``-quoted lines (quoting with the buyer's own text below it is an inline answer,
  and is kept).
The signature goes from an RFC 3676 "-- " line, and a last "Sent from my iPhone" in the same languages.
Valedictions ("Thanks, Bob") stay: cutting at them would cut real text too often.
"""

from __future__ import annotations

import re

MAX_LINE = 600  # longer lines are text, not an attribution (and keep the patterns' work bounded)

# Every dated form must name a time or a year: "On Monday the courier wrote:" is the buyer's own text.
_ATTRIBUTION = re.compile(
    r"""^[>\s]*(?:
        DATED On\s.{1,400}?\bwrote\s?:
      | DATED Am\s.{1,400}?\bschrieb\b.{0,200}?:
      | DATED Le\s.{1,400}?\ba\s+écrit\s?:
      | DATED El\s.{1,400}?\bescribió\s?:
      | DATED .{0,400}?写道\s?[:：]?
      | (?=.*@)\d{4}年\d{1,2}月\d{1,2}日.{0,400}?[:：]
      | DATED .{1,400}?のメール\s?[:：]?
      | .{1,400}?さんは書きました\s?[:：]
    )\s*$""".replace("DATED", r"(?=.*(?:\d{1,2}:\d{2}|\d{4}))"),
    re.IGNORECASE | re.VERBOSE,
)
_FROM = re.compile(r"^[>\s*]*(?:From|Von|De|Da|Van|Från|发件人|寄件者|差出人|送信者)[\s*]*[:：]", re.I)
_FIELD = re.compile(
    r"^[>\s*]*(?:Sent|Date|To|Subject|Cc|Gesendet|Datum|An|Betreff|Envoyé|Objet|À|Enviado|Para|Asunto"
    r"|发送时间|时间|日期|收件人|主题|抄送|寄件日期|送信日時|日時|宛先|件名)[\s*]*[:：]",
    re.I,
)
_SEPARATOR = re.compile(
    r"^[>\s]*(?:_{20,}|-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Original-Nachricht"
    r"|Message d'origine|Mensaje original|原始邮件|原始郵件|元のメッセージ|Forwarded by[^-]*)\s*-{2,})\s*$",
    re.I,
)
_MOBILE = re.compile(
    r"^(?:Sent from my \w+|Get Outlook for \w+|Von meinem \w+ gesendet|Gesendet von meinem \w+"
    r"|Envoyé de mon \w+|Enviado desde mi \w+|从我的\s?\w+\s?发送|发自我的\s?\w+|\w+から送信)[.!]?$",
    re.I,
)


def trim(text: str) -> str:
    """The new part of a reply; the text unchanged if trimming would leave nothing."""
    lines = text.replace("\r\n", "\n").split("\n")
    kept = _strip_quoted_tail(lines[: _history_start(lines)])
    kept = _strip_signature(kept)
    result = "\n".join(kept).strip()
    return result or text.strip()


def _history_start(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if len(line) > MAX_LINE:
            continue
        # Gmail wraps long attributions: "On Mon, ... <a@b.example>\nwrote:".
        wrapped = f"{line} {lines[index + 1].strip()}" if index + 1 < len(lines) and "@" in line else line
        if _ATTRIBUTION.match(line) or (len(wrapped) <= MAX_LINE and _ATTRIBUTION.match(wrapped)):
            return index
        if _SEPARATOR.match(line):
            return index
        if _FROM.match(line) and any(_FIELD.match(nxt) for nxt in lines[index + 1 : index + 4]):
            above = index - 1
            while above >= 0 and not lines[above].strip():
                above -= 1
            return above if above >= 0 and _SEPARATOR.match(lines[above]) else index
    return len(lines)


def _strip_quoted_tail(lines: list[str]) -> list[str]:
    end = len(lines)
    while end > 0 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")):
        end -= 1
    return lines[:end]


def _strip_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if line.rstrip() == "--" or line == "-- ":
            lines = lines[:index]
            break
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if lines and _MOBILE.match(lines[-1].strip()):
        lines = lines[:-1]
    return lines
