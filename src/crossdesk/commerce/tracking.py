"""Where a buyer can follow a parcel: the link the shop platform gave, or the carrier's own tracking page."""

from __future__ import annotations

from urllib.parse import quote

# The carriers' public tracking pages; the number goes in URL-quoted. Other carriers: a tracker that
# knows them all.
TRACKING_PAGES = {
    "ups": "https://www.ups.com/track?tracknum={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "dhl": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={}",
    "dhlexpress": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={}",
    "royalmail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
    "auspost": "https://auspost.com.au/mypost/track/details/{}",
    "australiapost": "https://auspost.com.au/mypost/track/details/{}",
    "dpd": "https://www.dpd.com/tracking?parcelNumber={}",
}
ANY_CARRIER = "https://t.17track.net/en#nums={}"


def is_web_link(url: str | None) -> bool:
    return bool(url) and str(url).lower().startswith(("https://", "http://"))


def tracking_link(carrier: str, number: str, stored: str | None = None) -> str:
    """The platform's tracking URL when it gave an http(s) one, else the carrier's page."""
    if stored is not None and is_web_link(stored):
        return stored
    page = TRACKING_PAGES.get("".join(ch for ch in carrier.lower() if ch.isalnum()), ANY_CARRIER)
    return page.format(quote(number, safe=""))
