// The Sun for the map: the sub-solar point, the night side, and station footprints.
// The Sun's place is the Astronomical Almanac's low-precision series (good to ~0.01°
// from 1950 to 2050), the same as jointsat.orbits.sun; Greenwich mean sidereal time is
// IAU 1982, as jointsat.orbits.frames.gmst82_rad (UT1 = UTC). tests/web checks the
// sub-solar point drawn against the Python modules at the same instant.

const RAD = Math.PI / 180;
const JD_UNIX_EPOCH = 2440587.5;
const JD_J2000 = 2451545.0;
const DAY_S = 86400;
const MEAN_EARTH_RADIUS_KM = 6371.0;

const wrap180 = (deg) => ((((deg + 180) % 360) + 360) % 360) - 180;

// Greenwich mean sidereal time (radians) at a Date, IAU 1982.
function gmst82(date) {
  const jd = date.getTime() / 86400000 + JD_UNIX_EPOCH;
  const days = jd - JD_J2000;
  const whole = Math.floor(jd - 0.5) + 0.5; // the day's 0 h UT
  const fraction = jd - whole;
  const t = days / 36525;
  const seconds = 67310.54841 + DAY_S * ((((whole - JD_J2000) % 1) + 1) % 1 + fraction)
    + (8640184.812866 + (0.093104 - 6.2e-6 * t) * t) * t;
  return ((((seconds % DAY_S) + DAY_S) % DAY_S) / DAY_S) * 2 * Math.PI;
}

// The point where the Sun stands at the zenith: { lat, lon } in degrees (lon in [-180, 180)).
function subSolarPoint(date) {
  const n = date.getTime() / 86400000 + JD_UNIX_EPOCH - JD_J2000;
  const meanLongitude = (280.460 + 0.9856474 * n) * RAD;
  const g = (357.528 + 0.9856003 * n) * RAD;
  const lambda = meanLongitude + (1.915 * Math.sin(g) + 0.020 * Math.sin(2 * g)) * RAD;
  const epsilon = (23.439 - 4.0e-7 * n) * RAD;
  const x = Math.cos(lambda);
  const y = Math.cos(epsilon) * Math.sin(lambda);
  const z = Math.sin(epsilon) * Math.sin(lambda);
  const lat = Math.atan2(z, Math.hypot(x, y)) / RAD;
  const lon = wrap180((Math.atan2(y, x) - gmst82(date)) / RAD);
  return { lat, lon };
}

// The night side as one polygon of [lat, lon] from longitude lonFrom to lonTo (degrees,
// may exceed ±180 so that copies of the world are covered): the terminator, where the
// Sun's centre is on the horizon, closed through the pole in darkness.
function nightPolygon(date, lonFrom = -540, lonTo = 540, step = 2) {
  const sun = subSolarPoint(date);
  const dec = Math.abs(sun.lat) < 1e-6 ? 1e-6 : sun.lat; // at an equinox the line is a meridian pair
  const line = [];
  for (let lon = lonFrom; lon <= lonTo; lon += step) {
    const lat = Math.atan(-Math.cos((lon - sun.lon) * RAD) / Math.tan(dec * RAD)) / RAD;
    line.push([lat, lon]);
  }
  const pole = dec > 0 ? -90 : 90; // the pole turned away from the Sun
  return [[pole, lonFrom], ...line, [pole, lonTo]];
}

// The ring a station sees a satellite at altitude altKm above its horizon mask: for each
// azimuth, the sub-satellite point where the satellite stands at the mask's elevation
// (the station's minimum elevation, raised by its mask there). Spherical Earth of mean
// radius, as the API's footprints. Returns [lat, lon] points, longitudes continuous.
function maskElevation(station, azimuth) {
  const floor = station.min_elevation_deg ?? 0;
  const mask = station.horizon_mask;
  if (!mask || !mask.azimuth_deg?.length) return floor;
  const az = mask.azimuth_deg;
  const el = mask.elevation_deg;
  const a = ((azimuth % 360) + 360) % 360;
  let value = el[el.length - 1];
  if (az.length > 1) {
    // piecewise linear, wrapping round 360 as jointsat.orbits.stations.HorizonMask
    const xs = [...az.map((v) => v - 360), ...az, ...az.map((v) => v + 360)];
    const ys = [...el, ...el, ...el];
    for (let i = 0; i + 1 < xs.length; i += 1) {
      if (xs[i] <= a && a <= xs[i + 1]) {
        value = ys[i] + ((ys[i + 1] - ys[i]) * (a - xs[i])) / (xs[i + 1] - xs[i]);
        break;
      }
    }
  } else {
    value = el[0];
  }
  return Math.max(floor, value);
}

function stationRing(station, altKm, step = 5) {
  const R = MEAN_EARTH_RADIUS_KM;
  const lat1 = station.lat_deg * RAD;
  const lon1 = station.lon_deg * RAD;
  const points = [];
  let previous = null;
  for (let azimuth = 0; azimuth <= 360; azimuth += step) {
    const e = maskElevation(station, azimuth) * RAD;
    const central = Math.acos(Math.min(1, (R * Math.cos(e)) / (R + altKm))) - e; // Earth angle
    const bearing = azimuth * RAD;
    const lat2 = Math.asin(Math.sin(lat1) * Math.cos(central)
      + Math.cos(lat1) * Math.sin(central) * Math.cos(bearing));
    let lon2 = (lon1 + Math.atan2(Math.sin(bearing) * Math.sin(central) * Math.cos(lat1),
      Math.cos(central) - Math.sin(lat1) * Math.sin(lat2))) / RAD;
    if (previous !== null) {
      while (lon2 - previous > 180) lon2 -= 360;
      while (lon2 - previous < -180) lon2 += 360;
    }
    previous = lon2;
    points.push([lat2 / RAD, lon2]);
  }
  return points;
}

export { gmst82, subSolarPoint, nightPolygon, maskElevation, stationRing, wrap180 };
