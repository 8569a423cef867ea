"""A parcel's tracking link: the platform's own when it is a web link, else the carrier's page, else none."""

from __future__ import annotations

from crossdesk.commerce.tracking import tracking_link


def test_the_platforms_link_comes_first_when_it_is_a_web_link() -> None:
    stored = "https://track.example/p/123"
    assert tracking_link("UPS", "1Z999", stored) == stored
    assert tracking_link("UPS", "1Z999", "javascript:alert(1)") == "https://www.ups.com/track?tracknum=1Z999"


def test_known_carriers_get_their_page_with_the_number_quoted() -> None:
    assert tracking_link("Royal Mail", "AB 12/3") == (
        "https://www.royalmail.com/track-your-item#/tracking-results/AB%2012%2F3"
    )
    assert (
        tracking_link("DHL Express", "JD01")
        == "https://www.dhl.com/global-en/home/tracking.html?tracking-id=JD01"
    )


def test_other_carriers_go_to_a_tracker_that_knows_them_all() -> None:
    assert tracking_link("Yanwen", "YW123") == "https://t.17track.net/en#nums=YW123"
