"""Facts the demo needs about the buyers' world: countries, languages, names, phones, carriers, tracking.

Everything here is deterministic: a customer id or an order number always gives the same name, phone
number or tracking number, so two demo loads look alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import phonenumbers
from faker import Faker
from faker.decode import unidecode


@dataclass(frozen=True)
class Country:
    code: str | None  # ISO 3166-1 alpha-2; None for "European Community" and "Unspecified"
    language: str
    locale: str  # Faker locale for names (and addresses when ``addresses``)
    city: str  # the carrier's hub in the country, for tracking events
    timezone: str
    addresses: bool = True  # whether the Faker locale has real addresses (others fall back to US ones)


# Every country name of the data set.
COUNTRIES: dict[str, Country] = {
    "Australia": Country("AU", "en", "en_AU", "Sydney", "Australia/Sydney"),
    "Austria": Country("AT", "de", "de_AT", "Wien", "Europe/Vienna"),
    "Bahrain": Country("BH", "ar", "ar_SA", "Manama", "Asia/Bahrain", addresses=False),
    "Belgium": Country("BE", "fr", "fr_BE", "Bruxelles", "Europe/Brussels", addresses=False),
    "Brazil": Country("BR", "pt", "pt_BR", "São Paulo", "America/Sao_Paulo"),
    "Canada": Country("CA", "en", "en_CA", "Toronto", "America/Toronto"),
    "Channel Islands": Country("JE", "en", "en_GB", "St Helier", "Europe/Jersey", addresses=False),
    "Cyprus": Country("CY", "el", "el_GR", "Nicosia", "Asia/Nicosia", addresses=False),
    "Czech Republic": Country("CZ", "cs", "cs_CZ", "Praha", "Europe/Prague"),
    "Denmark": Country("DK", "da", "da_DK", "København", "Europe/Copenhagen"),
    "EIRE": Country("IE", "en", "en_IE", "Dublin", "Europe/Dublin"),
    "European Community": Country(None, "en", "en_GB", "Brussels", "Europe/Brussels", addresses=False),
    "Finland": Country("FI", "fi", "fi_FI", "Helsinki", "Europe/Helsinki"),
    "France": Country("FR", "fr", "fr_FR", "Paris", "Europe/Paris"),
    "Germany": Country("DE", "de", "de_DE", "Leipzig", "Europe/Berlin"),
    "Greece": Country("GR", "el", "el_GR", "Athens", "Europe/Athens"),
    "Hong Kong": Country("HK", "en", "en_GB", "Hong Kong", "Asia/Hong_Kong", addresses=False),
    "Iceland": Country("IS", "is", "is_IS", "Reykjavík", "Atlantic/Reykjavik", addresses=False),
    "Israel": Country("IL", "he", "he_IL", "Tel Aviv", "Asia/Jerusalem"),
    "Italy": Country("IT", "it", "it_IT", "Milano", "Europe/Rome"),
    "Japan": Country("JP", "ja", "ja_JP", "Tokyo", "Asia/Tokyo", addresses=False),
    "Lebanon": Country("LB", "ar", "ar_AA", "Beirut", "Asia/Beirut", addresses=False),
    "Lithuania": Country("LT", "lt", "lt_LT", "Vilnius", "Europe/Vilnius", addresses=False),
    "Malta": Country("MT", "en", "en_GB", "Valletta", "Europe/Malta", addresses=False),
    "Netherlands": Country("NL", "nl", "nl_NL", "Amsterdam", "Europe/Amsterdam"),
    "Norway": Country("NO", "nb", "no_NO", "Oslo", "Europe/Oslo"),
    "Poland": Country("PL", "pl", "pl_PL", "Warszawa", "Europe/Warsaw"),
    "Portugal": Country("PT", "pt", "pt_PT", "Lisboa", "Europe/Lisbon"),
    "RSA": Country("ZA", "en", "zu_ZA", "Johannesburg", "Africa/Johannesburg"),
    "Saudi Arabia": Country("SA", "ar", "ar_SA", "Riyadh", "Asia/Riyadh", addresses=False),
    "Singapore": Country("SG", "en", "en_GB", "Singapore", "Asia/Singapore", addresses=False),
    "Spain": Country("ES", "es", "es_ES", "Madrid", "Europe/Madrid"),
    "Sweden": Country("SE", "sv", "sv_SE", "Stockholm", "Europe/Stockholm"),
    "Switzerland": Country("CH", "de", "de_CH", "Zürich", "Europe/Zurich"),
    "USA": Country("US", "en", "en_US", "New York", "America/New_York"),
    "United Arab Emirates": Country("AE", "ar", "ar_SA", "Dubai", "Asia/Dubai", addresses=False),
    "United Kingdom": Country("GB", "en", "en_GB", "London", "Europe/London"),
    "Unspecified": Country(None, "en", "en_GB", "London", "Europe/London", addresses=False),
}
UNKNOWN = COUNTRIES["Unspecified"]
BY_CODE = {c.code: c for c in COUNTRIES.values() if c.code}
EU = {"AT", "BE", "CY", "CZ", "DE", "DK", "ES", "FI", "FR", "GR", "IT", "LT", "MT", "NL", "PL", "PT", "SE"}
EUROPE = EU | {"CH", "NO", "IS"}
# Reserved for documentation (RFC 2606): no real mailbox can receive what the demo makes up.
EMAIL_DOMAINS = ("example.com", "example.com", "example.net", "example.org")


def digest(*parts: object) -> int:
    """A stable number from any values (Python's ``hash`` changes between runs)."""
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def country(name: str | None) -> Country:
    return COUNTRIES.get(name or "", UNKNOWN)


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    name: str
    email: str
    street: str | None
    postcode: str | None
    city: str


@cache
def _faker(locale: str) -> Faker:
    return Faker(locale)


def ascii_name(text: str) -> str:
    """Lower-case ASCII letters and digits of a name in any script, for e-mail addresses and handles."""
    plain = unicodedata.normalize("NFKD", unidecode(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", plain.lower())


def person(customer_id: int, where: Country) -> Person:
    """A made-up name, e-mail and address for a real customer id, fitting their country."""
    fake = _faker(where.locale)
    fake.seed_instance(customer_id)
    if where.locale == "ja_JP":
        # Japanese names go family name first; the e-mail uses their romanised reading.
        (first, _, first_latin), (last, _, last_latin) = fake.first_name_pair(), fake.last_name_pair()
        name = f"{last} {first}"
    else:
        first, last = fake.first_name(), fake.last_name()
        first_latin, last_latin, name = first, last, f"{first} {last}"
    local = ".".join(p for p in (ascii_name(first_latin), ascii_name(last_latin)) if p) or "buyer"
    email = f"{local}.{customer_id}@{EMAIL_DOMAINS[customer_id % len(EMAIL_DOMAINS)]}"
    if where.addresses:
        street = fake.street_address().replace("\n", ", ")
        return Person(first, last, name, email, street, fake.postcode(), fake.city())
    return Person(first, last, name, email, None, None, where.city)


def phone(customer_id: int, code: str | None) -> str | None:
    """An E.164 mobile number in the customer's country, from fiction ranges where a country has them."""
    n = digest("phone", customer_id)
    if code in (None, "GB", "JE"):
        return f"+447700900{n % 1000:03d}"  # Ofcom's range for drama
    if code in ("US", "CA"):
        return f"+1{'416' if code == 'CA' else '201'}55501{n % 100:02d}"  # 555-0100..0199
    example = phonenumbers.example_number_for_type(code, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return None
    national = phonenumbers.national_significant_number(example)
    candidate = phonenumbers.parse(f"+{example.country_code}{national[:-3]}{n % 1000:03d}")
    return phonenumbers.format_number(
        candidate if phonenumbers.is_valid_number(candidate) else example, phonenumbers.PhoneNumberFormat.E164
    )


# --- shipping ---------------------------------------------------------------------------------------------

ORIGIN = "Milton Keynes, GB"  # where the retailer's parcels leave from


def carrier(code: str | None, order_number: str) -> str:
    """The carrier a UK seller would pick for the destination."""
    n = digest("carrier", order_number)
    if code in ("GB", "JE"):
        return "Royal Mail"
    if code == "IE":
        return ("An Post", "DPD")[n % 2]
    if code == "JP":
        return "Yamato"
    if code is None or code in EUROPE:
        return "DHL"
    return ("UPS", "FedEx")[n % 2]


def transit_days(carrier_name: str, code: str | None) -> int:
    """Working days from collection to the delivery round, before the parcel's own jitter of a day."""
    if code in ("GB", "JE"):
        return 2
    if carrier_name in ("An Post", "DPD"):
        return 3
    if code is None or code in EUROPE:
        return 5
    return 6 if code == "JP" else 7


def _s10(prefix: str, serial: int, suffix: str) -> str:
    """UPU S10 item number (Royal Mail, An Post): 8 digits, a mod-11 check digit, the country."""
    digits = f"{serial % 10**8:08d}"
    check = 11 - sum(int(d) * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)) % 11
    return f"{prefix}{digits}{ {10: 0, 11: 5}.get(check, check) }{suffix}"


def _ups(serial: int) -> str:
    body = f"V8R24E68{serial % 10**7:07d}"  # shipper account, service code, package number
    values = [int(c) if c.isdigit() else (ord(c) - 63) % 10 for c in body]
    total = sum(v * (2 if i % 2 else 1) for i, v in enumerate(values))
    return f"1Z{body}{(10 - total % 10) % 10}"


def tracking_number(carrier_name: str, order_number: str) -> str:
    """A tracking number in the carrier's real format, with its check digit where it has one."""
    n = digest("tracking", order_number)
    if carrier_name == "Royal Mail":
        return _s10(("TT", "RK", "AB")[n % 3], n, "GB")
    if carrier_name == "An Post":
        return _s10("CE", n, "IE")
    if carrier_name == "DPD":
        return f"15501{n % 10**9:09d}"
    if carrier_name == "DHL":
        return f"{n % 10**10:010d}"
    if carrier_name == "UPS":
        return _ups(n)
    if carrier_name == "Yamato":
        body = n % 10**11
        return f"{body:011d}{body % 7}"  # Yamato's check digit: the number mod 7
    body = n % 10**11  # FedEx Express: 1-3-7 weights, mod 11
    digits = f"{body:011d}"
    check = sum(int(d) * (1, 3, 7)[i % 3] for i, d in enumerate(reversed(digits))) % 11 % 10
    return f"{digits}{check}"


@dataclass(frozen=True)
class Tracking:
    status: str
    shipped_at: dt.datetime
    delivered_at: dt.datetime | None
    history: list[dict[str, str | None]]


def track(
    carrier_name: str,
    code: str | None,
    hub: str,
    city: str,
    placed_at: dt.datetime,
    now: dt.datetime,
    *,
    exception: bool,
) -> Tracking:
    """The tracking history of a parcel up to ``now``: collected a day or two after the order, out for
    delivery in the morning of its delivery day, delivered a few hours later (or stopped by a problem)."""
    n = digest("track", carrier_name, placed_at.isoformat())
    shipped = placed_at + dt.timedelta(hours=20 + n % 49)
    delivery_day = (shipped + dt.timedelta(days=transit_days(carrier_name, code) + n % 3)).date()
    out = dt.datetime.combine(delivery_day, dt.time(7, n % 50), dt.UTC)
    due = out + dt.timedelta(hours=2 + n % 8)
    destination = f"{city}, {code}" if code else city
    steps: list[tuple[dt.datetime, str, str, str]] = [
        (placed_at, "label_created", ORIGIN, "Shipping label created"),
        (shipped, "in_transit", ORIGIN, f"Collected by {carrier_name}"),
    ]
    if code not in ("GB", "JE"):
        middle = shipped + (due - shipped) * 0.6
        steps.append((middle, "in_transit", f"{hub}, {code}" if code else hub, "Arrived at destination hub"))
    if exception:
        problem = (
            "Held at customs: import documents requested"
            if code not in EUROPE | {"GB", "JE", "IE"}
            else ("Delivery attempted: recipient not available, card left")
        )
        steps.append((out, "exception", destination, problem))
    else:
        steps.append((out, "out_for_delivery", destination, "Out for delivery"))
        steps.append((due, "delivered", destination, "Delivered"))
    done = [s for s in steps if s[0] <= now] or steps[:1]  # the label exists from the order on
    history: list[dict[str, str | None]] = [
        {"at": at.isoformat(), "status": st, "location": loc, "description": text}
        for at, st, loc, text in done
    ]
    status = done[-1][1]
    return Tracking(status, shipped, due if status == "delivered" else None, history)


_SMALL = {"a", "an", "and", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}
_UPPER = {"LED", "USB", "CD", "DVD", "UK", "USA", "3D", "XL", "S/2", "S/3", "S/4", "S/6"}


def title_case(description: str) -> str:
    """``SET OF 3 CAKE TINS`` → ``Set of 3 Cake Tins``, ``POPPY'S PLAYHOUSE`` → ``Poppy's Playhouse``."""
    words: list[str] = []
    parts = description.split()
    last = len(parts) - 1
    for i, word in enumerate(parts):
        if word in _UPPER:
            words.append(word)
        elif 0 < i < last and word.lower() in _SMALL:
            words.append(word.lower())
        else:
            # Capitalise each letter run that follows the start, a space, a hyphen, a slash or a bracket.
            words.append(
                re.sub(r'(^|[-/(&+"])([a-z])', lambda m: m.group(1) + m.group(2).upper(), word.lower())
            )
    return " ".join(words)
