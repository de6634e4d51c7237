"""What a Skyfield user writes to track one satellite over one station: the anchor of
``benchmarks.operations``.

Finds the passes above the station's minimum elevation in the window
(``find_events``), samples each every second from rise to set, and writes one CSV line
per sample: the time, the azimuth and elevation, the range rate and the frequency
received when the satellite sends ``FREQUENCY_HZ`` (first-order Doppler, no light
time: what such a script usually does).

    python -m benchmarks.skyfield_tracking ELEMENTS NORAD LAT LON ALT_M MIN_EL START END \
        FREQUENCY_HZ OUTPUT
"""

from __future__ import annotations

import argparse
import csv
from datetime import datetime

import numpy as np
from skyfield.api import load, wgs84

C_M_S = 299_792_458.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("elements")
    parser.add_argument("norad", type=int)
    for name in ("lat", "lon", "alt_m", "min_elevation"):
        parser.add_argument(name, type=float)
    parser.add_argument("start", type=datetime.fromisoformat)
    parser.add_argument("end", type=datetime.fromisoformat)
    parser.add_argument("frequency_hz", type=float)
    parser.add_argument("output")
    args = parser.parse_args()

    ts = load.timescale()
    satellite = next(s for s in load.tle_file(args.elements, ts=ts) if s.model.satnum == args.norad)
    site = wgs84.latlon(args.lat, args.lon, args.alt_m)
    times, kinds = satellite.find_events(
        site, ts.from_datetime(args.start), ts.from_datetime(args.end), args.min_elevation
    )
    with open(args.output, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["time", "azimuth_deg", "elevation_deg", "range_rate_m_s", "frequency_hz"])
        rise = None
        for t, kind in zip(times, kinds, strict=True):
            if kind == 0:
                rise = t
            elif kind == 2 and rise is not None:
                seconds = np.append(
                    np.arange(0.0, (t.tt - rise.tt) * 86400.0, 1.0), (t.tt - rise.tt) * 86400.0
                )
                samples = ts.tt_jd(rise.tt + seconds / 86400.0)
                topocentric = (satellite - site).at(samples)
                el, az, _, _, _, range_rate = topocentric.frame_latlon_and_rates(site)
                rate_m_s = range_rate.km_per_s * 1000.0
                received = args.frequency_hz * (1.0 - rate_m_s / C_M_S)
                for k, when in enumerate(samples.utc_iso(places=3)):
                    out.writerow(
                        [
                            when,
                            f"{az.degrees[k]:.4f}",
                            f"{el.degrees[k]:.4f}",
                            f"{rate_m_s[k]:.3f}",
                            f"{received[k]:.2f}",
                        ]
                    )
                rise = None


if __name__ == "__main__":
    main()
