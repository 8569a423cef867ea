"""Countries, people, carriers, tracking numbers and product titles of the demo (no database)."""

from __future__ import annotations

import datetime as dt
import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossdesk.demo import world

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def s10_valid(number: str) -> bool:
    """The UPU S10 check, written independently of the demo's generator."""
    m = re.fullmatch(r"[A-Z]{2}(\d{8})(\d)[A-Z]{2}", number)
    if not m:
        return False
    total = sum(int(d) * w for d, w in zip(m.group(1), [8, 6, 4, 2, 3, 5, 9, 7], strict=True))
    check = 11 - total % 11
    return int(m.group(2)) == (0 if check == 10 else 5 if check == 11 else check)


@given(st.integers(min_value=536365, max_value=999999))
def test_tracking_numbers_have_each_carriers_format(order: int) -> None:
    number = str(order)
    assert s10_valid(world.tracking_number("Royal Mail", number))
    assert world.tracking_number("Royal Mail", number).endswith("GB")
    assert s10_valid(world.tracking_number("An Post", number))
    assert re.fullmatch(r"1Z[0-9A-Z]{16}", world.tracking_number("UPS", number))
    assert re.fullmatch(r"\d{10}", world.tracking_number("DHL", number))
    assert re.fullmatch(r"\d{14}", world.tracking_number("DPD", number))
    assert re.fullmatch(r"\d{12}", world.tracking_number("FedEx", number))
    yamato = world.tracking_number("Yamato", number)
    assert re.fullmatch(r"\d{12}", yamato) and int(yamato[:11]) % 7 == int(yamato[11])
    assert world.tracking_number("DHL", number) == world.tracking_number("DHL", number)


def test_carriers_follow_the_destination() -> None:
    assert world.carrier("GB", "536365") == "Royal Mail"
    assert world.carrier("JE", "536365") == "Royal Mail"
    assert world.carrier("JP", "536365") == "Yamato"
    assert world.carrier("DE", "536365") == "DHL"
    assert {world.carrier("IE", str(n)) for n in range(536365, 536400)} == {"An Post", "DPD"}
    assert {world.carrier("US", str(n)) for n in range(536365, 536400)} == {"UPS", "FedEx"}


@pytest.mark.parametrize("code", ["GB", "DE", "AU", "JP", None])
def test_tracking_history_moves_forward_with_time(code: str | None) -> None:
    placed = NOW - dt.timedelta(days=30)
    carrier = world.carrier(code, "540000")
    seen = []
    for hours in range(24 * 20):
        now = placed + dt.timedelta(hours=hours)
        tracking = world.track(carrier, code, "Hub", "Town", placed, now, exception=False)
        times = [dt.datetime.fromisoformat(e["at"]) for e in tracking.history]  # type: ignore[arg-type]
        assert times == sorted(times) and all(t <= now for t in times)
        assert tracking.history[-1]["status"] == tracking.status
        seen.append(tracking.status)
    order = ["label_created", "in_transit", "out_for_delivery", "delivered"]
    assert [s for s in order if s in seen] == order
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)
    final = world.track(carrier, code, "Hub", "Town", placed, NOW, exception=False)
    assert final.status == "delivered" and final.delivered_at is not None and final.delivered_at <= NOW
    problem = world.track(carrier, code, "Hub", "Town", placed, NOW, exception=True)
    assert problem.status == "exception" and problem.delivered_at is None


def test_people_are_made_up_deterministically_with_reserved_domains() -> None:
    japan = world.COUNTRIES["Japan"]
    first = world.person(12753, japan)
    assert first == world.person(12753, japan)
    assert re.fullmatch(r"[a-z]+\.[a-z]+\.12753@example\.(com|net|org)", first.email)
    assert first.name == f"{first.last} {first.first}"  # family name first
    german = world.person(12471, world.COUNTRIES["Germany"])
    assert german.street and german.postcode and german.city
    for name, where in world.COUNTRIES.items():
        p = world.person(12345, where)
        assert re.search(r"\.12345@example\.(com|net|org)$", p.email), name
        assert "\n" not in (p.street or "")


def test_phones_are_possible_numbers_of_the_country() -> None:
    for where in world.COUNTRIES.values():
        number = world.phone(12345, where.code)
        assert number is not None
        parsed = phonenumbers.parse(number)
        assert phonenumbers.is_possible_number(parsed)
        if where.code not in (None, "GB", "JE"):  # the UK's drama range belongs to no region
            assert phonenumbers.region_code_for_number(parsed) == where.code
    assert world.phone(1, "GB") == world.phone(1, "JE")
    assert world.phone(1, "GB").startswith("+447700900")  # Ofcom's range for drama
    assert world.phone(1, "US").startswith("+1201555")


def test_countries_map_to_iso_codes_and_languages() -> None:
    assert world.country("EIRE").code == "IE"
    assert world.country("Channel Islands").code == "JE"
    assert world.country("RSA").code == "ZA"
    assert world.country("European Community").code is None
    assert world.country("Unspecified").code is None
    assert world.country("USA").code == "US"
    languages = {world.country(n).code: world.country(n).language for n in world.COUNTRIES}
    assert languages["AT"] == languages["CH"] == languages["DE"] == "de"
    assert languages["BE"] == languages["FR"] == "fr"
    assert languages["BR"] == languages["PT"] == "pt"
    assert (languages["JP"], languages["PL"], languages["GB"], languages["AU"]) == ("ja", "pl", "en", "en")


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("WHITE HANGING HEART T-LIGHT HOLDER", "White Hanging Heart T-Light Holder"),
        ("SET OF 3 CAKE TINS PANTRY DESIGN", "Set of 3 Cake Tins Pantry Design"),
        ("POPPY'S PLAYHOUSE BEDROOM", "Poppy's Playhouse Bedroom"),
        ("DOORMAT KEEP CALM AND COME IN", "Doormat Keep Calm and Come In"),
        ('LETTER "A" BLING KEY RING', 'Letter "A" Bling Key Ring'),
        ("SUNJAR LED NIGHT NIGHT LIGHT", "Sunjar LED Night Night Light"),
    ],
)
def test_titles(raw: str, title: str) -> None:
    assert world.title_case(raw) == title
